//! The callvault recording object format: framed AES-256-GCM envelope
//! encryption with key commitment, streaming and seekable.
//!
//! The format is specified in schema/recording-object-format.md. In short: a
//! 75-byte header (magic, version, suite, frame size, random message id, key
//! commitment), then frames of `frame_size` plaintext bytes each sealed with
//! a content key derived from the data key by HKDF-SHA512; the nonce carries
//! the frame index and a final-frame flag, the AAD binds the header, the
//! tenant and the recording.

mod error;
mod format;
#[doc(hidden)]
pub mod fuzzing;
mod key;
mod open;
mod seal;

pub use error::EnvelopeError;
pub use format::{
    DEFAULT_FRAME_SIZE, FramePlan, HEADER_LEN, Header, Layout, MAX_FRAME_SIZE, MIN_FRAME_SIZE,
    ObjectContext, TAG_LEN,
};
pub use key::{DATA_KEY_LEN, DataKey};
pub use open::{FrameDecoder, Opener, open_bytes, open_stream};
pub use seal::{Sealer, seal_bytes, seal_stream};
