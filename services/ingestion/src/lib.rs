//! The ingestion service: recorders upload a call's audio and metadata over
//! HTTP; the audio is probed, streamed to storage and announced on the bus
//! (`recording.ingested`, through the transactional outbox).
//!
//! The crate depends on no other service: storage is reached through
//! [`RecordingSink`], the metadata service through
//! the metadata operations (`callvault_contracts::ops`) over the bus.
//! [`module::start`] starts it.

mod body;
pub mod call;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod headers;
pub mod metrics;
pub mod module;
pub mod probe;
pub mod reconcile;
pub mod remote_sink;
mod riff;
mod silence;
mod sink;
mod state;
pub mod tus;
mod upload;
pub mod uploads;

pub use error::{IngestError, STATUSES};
pub use headers::CALL_HEADER;
pub use reconcile::{ReconcileError, ReconcileFailure, ReconcileReport, Reconciler};
pub use sink::{AudioStream, RecordingSink, SinkError, StoredAudio, StoredObject};
pub use state::{IngestionState, MAX_UPLOAD_BYTES, OutboxNotifier, PROBE_WINDOW, STALE_AFTER};
pub use upload::{DURATION_TOLERANCE_MS, DURATION_TOLERANCE_PERCENT, UploadReceipt, configure};
pub use uploads::connect;
