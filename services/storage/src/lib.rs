//! The storage service: encrypted recording objects on a blob store, their
//! data keys from a key provider, their records in the service's own
//! database, HTTP playback and object upload behind signed URLs, and the
//! sweep of objects a crash left unrecorded. [`module::start`] starts it.

mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod integrity;
pub mod listing;
pub mod module;
pub mod operations;
pub mod playback;
pub mod records;
mod store;
pub mod sweep;
pub mod upload;

pub use error::StorageError;
pub use integrity::{IntegrityAlarm, ScrubReport, Scrubber};
pub use listing::{ListedObject, ObjectListing, list_path};
pub use records::ListedRecord;
pub use store::{
    PlaintextStream, RecordingInfo, RecordingStore, RewrapReport, ShredReport, StoredRecording,
    TenantShredReport,
};
pub use sweep::{SweepReport, Sweeper};
pub use upload::{UploadState, UploadedObject, discard_path, upload_path};
