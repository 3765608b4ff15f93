//! The storage service: encrypted recording objects on a blob store, their
//! data keys from a key provider, their records in the service's own
//! database, and HTTP playback behind signed URLs.

mod error;
pub mod playback;
pub mod records;
mod store;

pub use error::StorageError;
pub use store::{
    PlaintextStream, RecordingInfo, RecordingStore, RewrapReport, ShredReport, StoredRecording,
};
