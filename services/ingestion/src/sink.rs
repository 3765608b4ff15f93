//! Where accepted audio goes: the storage service, behind a trait so that
//! ingestion never depends on the storage crate. The binary implements it
//! over `callvault_storage::RecordingStore` (in-process) or over HTTP.

use async_trait::async_trait;
use bytes::Bytes;
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;

/// The upload body on its way to storage, in chunks.
pub type AudioStream = BoxStream<'static, std::io::Result<Bytes>>;

/// What storage reports once the audio is durably stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredAudio {
    /// Plaintext (audio) bytes stored.
    pub size: u64,
    /// SHA-256 of the audio as received.
    pub sha256: [u8; 32],
}

/// A recording storage holds, as listed for the reconciler. Listings are in
/// (created_at, tenant, recording) order, so the last of a page is where
/// the next one starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredObject {
    pub created_at: DateTime<Utc>,
    pub tenant: TenantId,
    pub recording: RecordingId,
}

/// Why storage refused or failed. Messages are for logs: they must not carry
/// secrets or personal data, and clients only ever see a summary.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A dependency of storage is down; the client should retry later (503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The recording id is already taken (409).
    #[error("recording already stored")]
    Conflict,
    /// The upload body failed while it was streamed (client went away,
    /// short body); nothing was stored (400).
    #[error("upload body failed: {0}")]
    Body(String),
    /// The tenant's master key can't be used: missing, disabled or revoked.
    /// Permanent: no retry succeeds until an administrator fixes the
    /// tenant's key (422, never 503).
    #[error("the tenant's key can't be used: {0}")]
    KeyUnusable(String),
    /// Anything else: a bug, an integrity failure (500).
    #[error("storage failed: {0}")]
    Internal(String),
}

#[async_trait]
pub trait RecordingSink: Send + Sync + 'static {
    /// Streams `body` into storage as `recording` of `tenant`, its data key
    /// wrapped under `key_ref`. On error nothing readable is left behind.
    async fn store(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        key_ref: &str,
        body: AudioStream,
    ) -> Result<StoredAudio, SinkError>;

    /// Removes a recording ingestion gave up on (after a failed or lost
    /// upload). Discarding a recording that was never stored is not an
    /// error, so callers can discard whenever in doubt.
    async fn discard(&self, tenant: TenantId, recording: RecordingId) -> Result<(), SinkError>;

    /// One page of the recordings of every tenant that storage holds
    /// (stored, not shredded) and created before `before`, oldest first,
    /// starting after `after` (the last object of the previous page). At
    /// most `limit` objects; fewer only on the last page.
    async fn list_stored(
        &self,
        before: DateTime<Utc>,
        after: Option<StoredObject>,
        limit: u32,
    ) -> Result<Vec<StoredObject>, SinkError>;
}
