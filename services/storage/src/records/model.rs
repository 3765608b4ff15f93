//! Domain types of the storage records, and their checked conversion from
//! and to the database row.

use std::fmt;

use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::RecordError;
use super::entity::{self, STATE_SHREDDED, STATE_STORED};

/// What the storage service records when an object has been written.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub tenant_id: Uuid,
    pub recording_id: Uuid,
    pub object_key: String,
    /// Which key-provider key wrapped `wrapped_key` (a KMS key ARN, a local
    /// keyring key id).
    pub key_ref: String,
    /// The recording's data key as wrapped by `key_ref`; never the plaintext.
    pub wrapped_key: Vec<u8>,
    pub frame_size: u32,
    pub plaintext_len: u64,
    pub ciphertext_len: u64,
    pub sha256: [u8; 32],
    /// Stored at microsecond precision (PostgreSQL's), on every backend.
    pub created_at: DateTime<Utc>,
}

impl fmt::Debug for NewRecord {
    // Like `RecordState`'s: the wrapped key shows as its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRecord")
            .field("tenant_id", &self.tenant_id)
            .field("recording_id", &self.recording_id)
            .field("object_key", &self.object_key)
            .field("key_ref", &self.key_ref)
            .field("wrapped_key_len", &self.wrapped_key.len())
            .field("frame_size", &self.frame_size)
            .field("plaintext_len", &self.plaintext_len)
            .field("ciphertext_len", &self.ciphertext_len)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A recording's storage record as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageRecord {
    pub tenant_id: Uuid,
    pub recording_id: Uuid,
    pub object_key: String,
    /// The key that wrapped the data key last; kept after shredding to tell
    /// which key the object was under.
    pub key_ref: String,
    pub frame_size: u32,
    pub plaintext_len: u64,
    pub ciphertext_len: u64,
    pub sha256: [u8; 32],
    pub created_at: DateTime<Utc>,
    pub rewrapped_at: Option<DateTime<Utc>>,
    pub state: RecordState,
}

/// Either the object is readable (and here is its wrapped key) or it has
/// been crypto-shredded; no record is both or neither.
#[derive(Clone, PartialEq, Eq)]
pub enum RecordState {
    Stored { wrapped_key: Vec<u8> },
    Shredded { at: DateTime<Utc> },
}

// Hand-written so that `?record` in a log line or a failed assertion never
// prints key material, wrapped or not: only its length.
impl fmt::Debug for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordState::Stored { wrapped_key } => f
                .debug_struct("Stored")
                .field("wrapped_key_len", &wrapped_key.len())
                .finish(),
            RecordState::Shredded { at } => f.debug_struct("Shredded").field("at", at).finish(),
        }
    }
}

/// A stored record as listed for reconciliation, and the keyset position a
/// listing resumes after: records are listed in (created_at, tenant_id,
/// recording_id) order, which no insert or delete can reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListedRecord {
    pub created_at: DateTime<Utc>,
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
}

/// A record's stored life, for metering: its plaintext bytes, from when
/// they were stored until they were shredded (if they were).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredSpan {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    pub plaintext_len: u64,
    pub created_at: DateTime<Utc>,
    pub shredded_at: Option<DateTime<Utc>>,
}

impl StoredSpan {
    /// Its bytes × the whole seconds of `[from, to)` it was stored, every
    /// instant floored to its Unix second (`DateTime::timestamp`): billing
    /// computes the same from the events' `stored_at` and `shredded_at`,
    /// and the two must agree to the byte-second. Zero when it was not
    /// stored in the window (or the window is empty).
    pub fn byte_seconds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> u128 {
        let start = from.timestamp().max(self.created_at.timestamp());
        let end = self.shredded_at.map_or(to.timestamp(), |shredded| {
            to.timestamp().min(shredded.timestamp())
        });
        if end <= start {
            return 0;
        }
        let seconds = (i128::from(end) - i128::from(start)).unsigned_abs();
        u128::from(self.plaintext_len) * seconds
    }
}

/// What [`super::StorageRecords::mark_shredded`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShredOutcome {
    /// This call cleared the wrapped key.
    Shredded,
    /// An earlier call had; `at` is when, and it is left unchanged.
    AlreadyShredded { at: DateTime<Utc> },
}

/// Both backends must hand back what was written: PostgreSQL keeps
/// microseconds and SQLite would keep nanoseconds, so every timestamp is
/// truncated to microseconds before it is written.
pub(super) fn db_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

fn db_len(len: u64, field: &'static str) -> Result<i64, RecordError> {
    i64::try_from(len).map_err(|_| RecordError::Invalid(field))
}

impl NewRecord {
    pub(super) fn to_row(&self) -> Result<entity::Model, RecordError> {
        // An empty wrapped key would read back as a stored object nobody can
        // decrypt; refuse it at the door.
        if self.wrapped_key.is_empty() {
            return Err(RecordError::Invalid("wrapped_key"));
        }
        let frame_size = i32::try_from(self.frame_size)
            .ok()
            .filter(|size| *size > 0)
            .ok_or(RecordError::Invalid("frame_size"))?;
        Ok(entity::Model {
            tenant_id: self.tenant_id,
            recording_id: self.recording_id,
            object_key: self.object_key.clone(),
            key_ref: self.key_ref.clone(),
            wrapped_key: Some(self.wrapped_key.clone()),
            frame_size,
            plaintext_len: db_len(self.plaintext_len, "plaintext_len")?,
            ciphertext_len: db_len(self.ciphertext_len, "ciphertext_len")?,
            sha256: self.sha256.to_vec(),
            state: STATE_STORED.to_string(),
            created_at: db_time(self.created_at),
            rewrapped_at: None,
            shredded_at: None,
        })
    }
}

impl TryFrom<entity::Model> for StorageRecord {
    type Error = RecordError;

    fn try_from(row: entity::Model) -> Result<Self, RecordError> {
        let state = match (row.state.as_str(), row.wrapped_key, row.shredded_at) {
            (STATE_STORED, Some(wrapped_key), None) if !wrapped_key.is_empty() => {
                RecordState::Stored { wrapped_key }
            }
            (STATE_SHREDDED, None, Some(at)) => RecordState::Shredded { at },
            _ => return Err(RecordError::Invalid("state")),
        };
        let sha256: [u8; 32] = row
            .sha256
            .try_into()
            .map_err(|_| RecordError::Invalid("sha256"))?;
        Ok(StorageRecord {
            tenant_id: row.tenant_id,
            recording_id: row.recording_id,
            object_key: row.object_key,
            key_ref: row.key_ref,
            frame_size: u32::try_from(row.frame_size)
                .map_err(|_| RecordError::Invalid("frame_size"))?,
            plaintext_len: u64::try_from(row.plaintext_len)
                .map_err(|_| RecordError::Invalid("plaintext_len"))?,
            ciphertext_len: u64::try_from(row.ciphertext_len)
                .map_err(|_| RecordError::Invalid("ciphertext_len"))?,
            sha256,
            created_at: row.created_at,
            rewrapped_at: row.rewrapped_at,
            state,
        })
    }
}
