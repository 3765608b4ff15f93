//! The storage service core: encrypted recordings in, plaintext (whole or
//! by range) out, crypto-shredding and re-wrapping.
//!
//! Every operation takes its ids as [`TenantId`] and [`RecordingId`], so a
//! swapped pair does not compile, and runs in a `storage.<operation>` span
//! carrying the ids and, on failure, the error's code: never key material,
//! bodies or anything read from the recording.

mod lifecycle;
mod metering;
mod offboarding;

pub use offboarding::TenantShredReport;
mod read;
mod write;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use callvault_blob::{BlobStore, ByteStream};
use callvault_bus::outbox::RelayNotifier;
use callvault_contracts::events::IntegrityCheck;
use callvault_contracts::ops::storage::Verification;
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::{EncryptionContext, KeyProvider, KeyRef};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tracing::Span;
use tracing::field::Empty;

use crate::StorageError;
use crate::integrity::IntegrityAlarm;
use crate::records::{ListedRecord, StorageRecords, WriteIntents};
use crate::sweep::Sweeper;

/// What the caller keeps with the recording's catalogue entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecording {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    /// Plaintext (audio) bytes.
    pub size: u64,
    pub sha256: [u8; 32],
    /// The master key the recording's data key is wrapped under.
    pub key_ref: KeyRef,
}

/// A readable recording's sizes, without touching its object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingInfo {
    pub size: u64,
    pub sha256: [u8; 32],
}

/// Plaintext bytes on their way out.
pub struct PlaintextStream {
    /// The whole recording's size.
    pub total_len: u64,
    /// Which bytes `body` carries.
    pub range: Range<u64>,
    /// The audio's media type (`audio/wav`…), from its leading bytes.
    pub media_type: &'static str,
    pub body: BoxStream<'static, Result<Bytes, StorageError>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShredReport {
    pub shredded_at: DateTime<Utc>,
    /// False when an earlier call had already shredded it (this call only
    /// made sure the object is gone).
    pub newly_shredded: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RewrapReport {
    pub rewrapped: u64,
    /// Records that changed under us (shredded or re-wrapped concurrently).
    pub skipped: u64,
}

pub struct RecordingStore {
    blobs: Arc<dyn BlobStore>,
    keys: Arc<dyn KeyProvider>,
    records: StorageRecords,
    intents: WriteIntents,
    frame_size: u32,
    alarm: IntegrityAlarm,
    /// Woken after the store enqueues an event, so it goes out at once
    /// rather than at the relay's next poll.
    relay: Option<RelayNotifier>,
}

fn context(tenant: TenantId, recording: RecordingId) -> EncryptionContext {
    EncryptionContext::for_recording(&tenant.to_string(), &recording.to_string())
}

/// Notes a failed operation on its span: the error's code always, and an
/// error status only for what an operator must look at (the kinds answered
/// 5xx), not for a refusal the caller caused (not found, shredded).
fn traced<T>(result: Result<T, StorageError>) -> Result<T, StorageError> {
    if let Err(error) = &result {
        let span = Span::current();
        span.record("error.code", error.code());
        if matches!(
            error,
            StorageError::Integrity(_) | StorageError::Unavailable(_) | StorageError::Internal(_)
        ) {
            span.record("otel.status_code", "ERROR");
        }
    }
    result
}

impl RecordingStore {
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        keys: Arc<dyn KeyProvider>,
        records: StorageRecords,
    ) -> Self {
        Self {
            blobs,
            keys,
            intents: WriteIntents::new(records.connection().clone()),
            records,
            frame_size: callvault_envelope::DEFAULT_FRAME_SIZE,
            alarm: IntegrityAlarm::default(),
            relay: None,
        }
    }

    /// The relay publishing the storage database's outbox, woken whenever
    /// the store enqueues an event (without it, the relay's poll finds
    /// them).
    pub fn with_relay(mut self, relay: RelayNotifier) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Wakes the relay, after a transaction that enqueued an event.
    fn enqueued(&self) {
        if let Some(relay) = &self.relay {
            relay.notify();
        }
    }

    /// Where integrity failures are raised beyond the log and the metric:
    /// an alarm with the bus also publishes them for the audit chain.
    pub fn with_alarm(mut self, alarm: IntegrityAlarm) -> Self {
        self.alarm = alarm;
        self
    }

    pub fn keys(&self) -> &Arc<dyn KeyProvider> {
        &self.keys
    }

    /// Sweeps what killed stores left (see [`Sweeper`]) over this store's
    /// blobs and intents.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper::new(self.blobs.clone(), self.intents.clone())
    }

    /// Encrypts `body` under a fresh data key wrapped by `key` and stores it,
    /// in constant memory. Every object gets its own key in the blob store (a
    /// random upload id), so two racing stores of one recording never touch
    /// each other's bytes: the first to record wins and the loser deletes its
    /// own object. On any failure nothing readable is left behind, and an
    /// object a crash leaves without its record is found by its write
    /// intent and removed by a sweep. A store slower than the sweep's grace
    /// period fails with `Unavailable`, to be retried.
    ///
    /// The ids are typed, so this compiles:
    ///
    /// ```
    /// # use callvault_blob::ByteStream;
    /// # use callvault_contracts::{RecordingId, TenantId};
    /// # use callvault_keys::KeyRef;
    /// # use callvault_storage::RecordingStore;
    /// # async fn f(store: &RecordingStore, tenant: TenantId, recording: RecordingId, key: &KeyRef, body: ByteStream) {
    /// let _ = store.store(tenant, recording, key, body).await;
    /// # }
    /// ```
    ///
    /// and this, the same ids swapped, does not:
    ///
    /// ```compile_fail
    /// # use callvault_blob::ByteStream;
    /// # use callvault_contracts::{RecordingId, TenantId};
    /// # use callvault_keys::KeyRef;
    /// # use callvault_storage::RecordingStore;
    /// # async fn f(store: &RecordingStore, tenant: TenantId, recording: RecordingId, key: &KeyRef, body: ByteStream) {
    /// let _ = store.store(recording, tenant, key, body).await;
    /// # }
    /// ```
    #[tracing::instrument(
        name = "storage.store",
        skip_all,
        fields(tenant_id = %tenant, recording_id = %recording, key_ref = %key.0, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn store(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        key: &KeyRef,
        body: ByteStream,
    ) -> Result<StoredRecording, StorageError> {
        traced(self.seal_and_record(tenant, recording, key, body).await)
    }

    /// A readable recording's size and digest, from its record alone.
    #[tracing::instrument(
        name = "storage.info",
        skip_all,
        fields(tenant_id = %tenant, recording_id = %recording, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn info(
        &self,
        tenant: TenantId,
        recording: RecordingId,
    ) -> Result<RecordingInfo, StorageError> {
        let readable = self.readable(tenant, recording).await;
        traced(readable.map(|(record, _)| RecordingInfo {
            size: record.plaintext_len,
            sha256: record.sha256,
        }))
    }

    /// Streams plaintext `range` (or all of it), fetching and decrypting only
    /// the frames the range needs. A whole read also checks the SHA-256
    /// recorded at ingest, failing the stream's last item on a mismatch.
    /// The span covers opening the object (record, key, header); the bytes
    /// flow afterwards, in the caller's span.
    #[tracing::instrument(
        name = "storage.read",
        skip_all,
        fields(tenant_id = %tenant, recording_id = %recording, range = ?range, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn read(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        range: Option<Range<u64>>,
    ) -> Result<PlaintextStream, StorageError> {
        traced(
            self.open_plaintext(tenant, recording, range, IntegrityCheck::Read)
                .await,
        )
    }

    /// Reads a whole recording and checks every frame and the SHA-256
    /// recorded at ingest. Damage is the answer (`intact: false`), and is
    /// raised on the alarm as found by `check`; an error means the check
    /// could not be made (not found, shredded, a backend down).
    #[tracing::instrument(
        name = "storage.verify",
        skip_all,
        fields(tenant_id = %tenant, recording_id = %recording, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn verify(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        check: IntegrityCheck,
    ) -> Result<Verification, StorageError> {
        traced(self.verify_whole(tenant, recording, check).await)
    }

    async fn verify_whole(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        check: IntegrityCheck,
    ) -> Result<Verification, StorageError> {
        let expected_sha256 = hex::encode(self.info(tenant, recording).await?.sha256);
        let verification = |bytes_checked, failure: Option<String>| Verification {
            intact: failure.is_none(),
            bytes_checked,
            expected_sha256: expected_sha256.clone(),
            failure,
            verified_at: Utc::now(),
        };
        let mut stream = match self.open_plaintext(tenant, recording, None, check).await {
            Ok(stream) => stream,
            Err(StorageError::Integrity(detail)) => return Ok(verification(0, Some(detail))),
            Err(other) => return Err(other),
        };
        let mut checked = 0u64;
        while let Some(chunk) = stream.body.next().await {
            match chunk {
                Ok(chunk) => checked += chunk.len() as u64,
                Err(StorageError::Integrity(detail)) => {
                    return Ok(verification(checked, Some(detail)));
                }
                Err(other) => return Err(other),
            }
        }
        Ok(verification(checked, None))
    }

    /// Crypto-shreds a recording: its wrapped data key is destroyed first (at
    /// that moment the bytes are unreadable for good), then every version of
    /// its object is deleted and checked gone. Idempotent: calling it again
    /// finishes a shred whose object deletion failed.
    #[tracing::instrument(
        name = "storage.shred",
        skip_all,
        fields(tenant_id = %tenant, recording_id = %recording, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn shred(
        &self,
        tenant: TenantId,
        recording: RecordingId,
    ) -> Result<ShredReport, StorageError> {
        traced(self.destroy(tenant, recording).await)
    }

    /// Removes a recording that was stored but never accepted (an upload
    /// refused after its bytes were written): object and record go, with no
    /// tombstone, so the same recording id can be stored again. Missing is
    /// not an error.
    #[tracing::instrument(
        name = "storage.discard",
        skip_all,
        fields(tenant_id = %tenant, recording_id = %recording, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn discard(
        &self,
        tenant: TenantId,
        recording: RecordingId,
    ) -> Result<(), StorageError> {
        traced(self.remove_unaccepted(tenant, recording).await)
    }

    /// One page of the stored (not shredded) recordings of every tenant
    /// created before `before`, oldest first, after `after` (the last of
    /// the previous page). Ingestion's reconciler matches them against its
    /// uploads to find the ones no upload will ever commit.
    #[tracing::instrument(
        name = "storage.list_stored",
        skip_all,
        fields(limit = limit, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn list_stored(
        &self,
        before: DateTime<Utc>,
        after: Option<ListedRecord>,
        limit: u32,
    ) -> Result<Vec<ListedRecord>, StorageError> {
        let page = self
            .records
            .list_stored_before(before, after, u64::from(limit))
            .await;
        traced(page.map_err(StorageError::from))
    }

    /// Re-wraps every data key of `tenant` currently under `from` so it is
    /// under `to` (after a key change, or onto the rotated version of the
    /// same key). Bodies are not touched.
    #[tracing::instrument(
        name = "storage.rewrap_tenant",
        skip_all,
        fields(tenant_id = %tenant, from_key_ref = %from.0, to_key_ref = %to.0, error.code = Empty, otel.status_code = Empty)
    )]
    pub async fn rewrap_tenant(
        &self,
        tenant: TenantId,
        from: &KeyRef,
        to: &KeyRef,
    ) -> Result<RewrapReport, StorageError> {
        traced(self.rewrap_all(tenant, from, to).await)
    }
}
