use callvault_blob::BlobError;
use callvault_envelope::EnvelopeError;
use callvault_keys::KeyError;
use chrono::{DateTime, Utc};

use crate::records::RecordError;

/// Why the storage service refused or failed an operation. Each variant maps
/// to one HTTP status and one machine-readable code (see `code`).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("recording not found")]
    NotFound,
    /// Crypto-shredded: the data key is gone, the bytes can never be read
    /// again. Distinct from `NotFound` so a client can tell "deleted on
    /// purpose" from "never existed".
    #[error("recording was shredded at {at}")]
    Shredded { at: DateTime<Utc> },
    #[error("recording is already stored")]
    AlreadyExists,
    #[error("range {start}..{end} is not within the recording ({len} bytes)")]
    InvalidRange { start: u64, end: u64, len: u64 },
    /// The stored object, its record or its checksum disagree: tampering,
    /// corruption or a bug. Never retried, always alarmed on.
    #[error("recording failed its integrity check: {0}")]
    Integrity(String),
    /// The upload stream failed (client went away); nothing was stored.
    #[error("upload body failed: {0}")]
    Body(String),
    #[error("invalid master key: {0}")]
    Key(String),
    /// A dependency (key provider, blob store, database) is down: retry later.
    #[error("storage dependency unavailable: {0}")]
    Unavailable(String),
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl StorageError {
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::NotFound => "not_found",
            StorageError::Shredded { .. } => "shredded",
            StorageError::AlreadyExists => "already_exists",
            StorageError::InvalidRange { .. } => "range_not_satisfiable",
            StorageError::Integrity(_) => "integrity_error",
            StorageError::Body(_) => "bad_body",
            StorageError::Key(_) => "invalid_key",
            StorageError::Unavailable(_) => "unavailable",
            StorageError::Internal(_) => "internal",
        }
    }
}

impl From<KeyError> for StorageError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Unavailable(why) => StorageError::Unavailable(format!("key provider: {why}")),
            KeyError::InvalidCiphertext => {
                StorageError::Integrity("wrapped data key does not verify".into())
            }
            KeyError::NotFound(_) | KeyError::Disabled(_) => StorageError::Key(error.to_string()),
            KeyError::Other(why) => StorageError::Internal(format!("key provider: {why}")),
        }
    }
}

impl From<BlobError> for StorageError {
    fn from(error: BlobError) -> Self {
        match error {
            BlobError::AlreadyExists(_) => StorageError::AlreadyExists,
            // The record says the object exists; the store disagrees.
            BlobError::NotFound(key) => StorageError::Integrity(format!("object {key} is missing")),
            BlobError::InvalidRange { start, end, size } => {
                StorageError::Integrity(format!("object range {start}..{end} outside {size} bytes"))
            }
            BlobError::Body(error) => StorageError::Body(error.to_string()),
            BlobError::Unavailable(why) => StorageError::Unavailable(format!("blob store: {why}")),
            BlobError::Io(error) => StorageError::Internal(format!("blob store: {error}")),
        }
    }
}

impl From<RecordError> for StorageError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::AlreadyExists => StorageError::AlreadyExists,
            RecordError::NotFound => StorageError::NotFound,
            RecordError::Invalid(field) => {
                StorageError::Internal(format!("invalid record field {field}"))
            }
            RecordError::Database(why) => StorageError::Unavailable(format!("database: {why}")),
        }
    }
}

impl From<EnvelopeError> for StorageError {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::Range { start, end, len } => {
                StorageError::InvalidRange { start, end, len }
            }
            EnvelopeError::Source(error) => {
                StorageError::Unavailable(format!("reading object: {error}"))
            }
            other => StorageError::Integrity(other.to_string()),
        }
    }
}
