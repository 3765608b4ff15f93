//! The storage service core: encrypted recordings in, plaintext (whole or
//! by range) out, crypto-shredding and re-wrapping.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use bytes::Bytes;
use callvault_blob::{BlobStore, ByteStream, ObjectKey};
use callvault_envelope::{
    HEADER_LEN, Layout, ObjectContext, Opener, Sealer, open_stream, seal_stream,
};
use callvault_keys::{EncryptionContext, KeyProvider, KeyRef, WrappedKey};
use chrono::{DateTime, SubsecRound, Utc};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use tracing::{info, warn};
use uuid::Uuid;

use crate::StorageError;
use crate::records::{
    CommitError, ListedRecord, NewRecord, RecordState, ShredOutcome, StorageRecord, StorageRecords,
    WriteIntents,
};
use crate::sweep::Sweeper;

/// What the caller keeps with the recording's catalogue entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecording {
    pub tenant_id: Uuid,
    pub recording_id: Uuid,
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

const REWRAP_PAGE: u64 = 200;

pub struct RecordingStore {
    blobs: Arc<dyn BlobStore>,
    keys: Arc<dyn KeyProvider>,
    records: StorageRecords,
    intents: WriteIntents,
    frame_size: u32,
}

fn context(tenant: Uuid, recording: Uuid) -> EncryptionContext {
    EncryptionContext::for_recording(&tenant.to_string(), &recording.to_string())
}

/// A fresh key for one object of `recording`. The object's own random id
/// keeps racing stores apart. The recordings fan out over 256 folders (the
/// recording id's first byte, random in a v4 id) rather than a folder each:
/// on the filesystem store a folder per recording cost a directory inode
/// and one more directory sync per upload, while a tenant's single folder
/// would grow to millions of entries.
fn object_key_for(tenant: Uuid, recording: Uuid) -> Result<ObjectKey, StorageError> {
    let fan_out = recording.as_bytes()[0];
    ObjectKey::parse(&format!(
        "tenants/{tenant}/recordings/{fan_out:02x}/{recording}.{}.cvro",
        Uuid::new_v4()
    ))
    .map_err(|e| StorageError::Internal(e.to_string()))
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
        }
    }

    pub fn keys(&self) -> &Arc<dyn KeyProvider> {
        &self.keys
    }

    /// Encrypts `body` under a fresh data key wrapped by `key` and stores it,
    /// in constant memory. Every object gets its own key in the blob store (a
    /// random upload id), so two racing stores of one recording never touch
    /// each other's bytes: the first to record wins and the loser deletes its
    /// own object. On any failure nothing readable is left behind, and an
    /// object a crash leaves without its record is found by its write
    /// intent and removed by a sweep. A store slower than the sweep's grace
    /// period fails with `Unavailable`, to be retried.
    pub async fn store(
        &self,
        tenant: Uuid,
        recording: Uuid,
        key: &KeyRef,
        body: ByteStream,
    ) -> Result<StoredRecording, StorageError> {
        if self.records.get(tenant, recording).await?.is_some() {
            return Err(StorageError::AlreadyExists);
        }
        let (tenant_text, recording_text) = (tenant.to_string(), recording.to_string());
        let (data_key, wrapped) = self
            .keys
            .generate_data_key(key, &context(tenant, recording))
            .await?;
        let sealer = Sealer::new(
            &data_key,
            ObjectContext::new(&tenant_text, &recording_text),
            self.frame_size,
        )?;
        drop(data_key);

        let digest: Digest = Arc::new(Mutex::new((digest::Context::new(&digest::SHA256), 0u64)));
        let hashing = {
            let digest = digest.clone();
            body.inspect_ok(move |chunk| {
                if let Ok(mut state) = digest.lock() {
                    state.0.update(chunk);
                    state.1 += chunk.len() as u64;
                }
            })
        };
        let sealed: ByteStream = seal_stream(sealer, hashing)
            .map_err(|error| match error {
                callvault_envelope::EnvelopeError::Source(io) => io,
                other => std::io::Error::other(other),
            })
            .boxed();
        let object_key = object_key_for(tenant, recording)?;
        // Committed before the first byte goes out: if this process dies
        // before the record is, the intent is what lets a sweep find the
        // object (see `crate::sweep`).
        self.intents
            .begin(object_key.as_str(), tenant, recording, Utc::now())
            .await?;
        let meta = match self.blobs.put(&object_key, sealed).await {
            Ok(meta) => meta,
            Err(error) => {
                // Nothing should be under the key, but a put whose answer
                // was lost may have landed: make sure before letting go.
                self.abandon_object(&object_key, tenant, recording).await;
                return Err(error.into());
            }
        };

        let (sha256, size) = match digest_result(&digest) {
            Ok(result) => result,
            Err(error) => {
                self.abandon_object(&object_key, tenant, recording).await;
                return Err(error);
            }
        };
        let expected_len = Layout::for_plaintext(self.frame_size, size).object_len();
        if meta.size != expected_len {
            self.abandon_object(&object_key, tenant, recording).await;
            return Err(StorageError::Integrity(format!(
                "stored object is {} bytes, expected {expected_len}",
                meta.size
            )));
        }
        let record = NewRecord {
            tenant_id: tenant,
            recording_id: recording,
            object_key: object_key.to_string(),
            key_ref: wrapped.key_ref.0.clone(),
            wrapped_key: wrapped.ciphertext.clone(),
            frame_size: self.frame_size,
            plaintext_len: size,
            ciphertext_len: meta.size,
            sha256,
            created_at: Utc::now(),
        };
        match self.intents.commit(&record).await {
            Ok(()) => {}
            Err(CommitError::Abandoned) => {
                // This store outlived the sweep's grace period; the sweep
                // owns the object now and may be deleting it. Retrying the
                // upload starts over with a fresh object and intent.
                warn!(%tenant, %recording, "store outlived its write intent; refusing to record it");
                self.abandon_object(&object_key, tenant, recording).await;
                return Err(StorageError::Unavailable(
                    "the write took longer than the sweep's grace period; retry".into(),
                ));
            }
            Err(CommitError::Failed(error)) => {
                self.abandon_object(&object_key, tenant, recording).await;
                return Err(error.into());
            }
            Err(CommitError::Unknown(error)) => {
                // The record may exist: deleting the object could turn a
                // committed recording into one that reads as tampered with.
                // If it does not, the intent is still pending and a sweep
                // removes the object after the grace period.
                warn!(%tenant, %recording, %error, "store commit outcome unknown; the object is left to the sweep");
                return Err(StorageError::Unavailable(format!("database: {error}")));
            }
        }
        info!(%tenant, %recording, size, "recording stored");
        Ok(StoredRecording {
            tenant_id: tenant,
            recording_id: recording,
            size,
            sha256,
            key_ref: wrapped.key_ref,
        })
    }

    /// Sweeps what killed stores left (see [`Sweeper`]) over this store's
    /// blobs and intents.
    pub fn sweeper(&self) -> Sweeper {
        Sweeper::new(self.blobs.clone(), self.intents.clone())
    }

    /// Best-effort removal of an object no record will reference, then of
    /// its intent. An object that would not delete keeps an abandoned
    /// intent, so the next sweep retries; an intent that would not go stays
    /// pending and a sweep removes it after the grace period.
    async fn abandon_object(&self, object_key: &ObjectKey, tenant: Uuid, recording: Uuid) {
        match self.blobs.delete(object_key).await {
            Ok(()) => {
                if let Err(error) = self.intents.remove(object_key.as_str()).await {
                    warn!(object = %object_key, %error, "could not remove a write intent; the sweep will");
                }
            }
            Err(error) => {
                warn!(object = %object_key, %error, "could not remove an unreferenced object; the sweep will");
                let handed = self
                    .intents
                    .hand_over(object_key.as_str(), tenant, recording, Utc::now())
                    .await;
                if let Err(error) = handed {
                    warn!(object = %object_key, %error, "could not hand an unreferenced object over to the sweep");
                }
            }
        }
    }

    async fn readable(
        &self,
        tenant: Uuid,
        recording: Uuid,
    ) -> Result<(StorageRecord, Vec<u8>), StorageError> {
        let record = self
            .records
            .get(tenant, recording)
            .await?
            .ok_or(StorageError::NotFound)?;
        match record.state.clone() {
            RecordState::Stored { wrapped_key } => Ok((record, wrapped_key)),
            RecordState::Shredded { at } => Err(StorageError::Shredded { at }),
        }
    }

    pub async fn info(&self, tenant: Uuid, recording: Uuid) -> Result<RecordingInfo, StorageError> {
        let (record, _) = self.readable(tenant, recording).await?;
        Ok(RecordingInfo {
            size: record.plaintext_len,
            sha256: record.sha256,
        })
    }

    /// Streams plaintext `range` (or all of it), fetching and decrypting only
    /// the frames the range needs. A whole read also checks the SHA-256
    /// recorded at ingest, failing the stream's last item on a mismatch.
    pub async fn read(
        &self,
        tenant: Uuid,
        recording: Uuid,
        range: Option<Range<u64>>,
    ) -> Result<PlaintextStream, StorageError> {
        let (record, wrapped_key) = self.readable(tenant, recording).await?;
        let object_key = ObjectKey::parse(&record.object_key)
            .map_err(|e| StorageError::Internal(e.to_string()))?;
        // The stored-length check: a truncated or extended object is caught
        // before a byte is decrypted, whatever range is asked for.
        let meta = self.blobs.head(&object_key).await?;
        if meta.size != record.ciphertext_len {
            return Err(StorageError::Integrity(format!(
                "object is {} bytes, its record says {}",
                meta.size, record.ciphertext_len
            )));
        }
        let wrapped = WrappedKey {
            key_ref: KeyRef(record.key_ref.clone()),
            ciphertext: wrapped_key,
        };
        let data_key = self
            .keys
            .decrypt(&wrapped, &context(tenant, recording))
            .await?;
        let header: Vec<Bytes> = self
            .blobs
            .get_range(&object_key, 0..HEADER_LEN as u64)
            .await?
            .try_collect()
            .await
            .map_err(|e| StorageError::Unavailable(format!("reading object header: {e}")))?;
        let (tenant_text, recording_text) = (tenant.to_string(), recording.to_string());
        let opener = Opener::new(
            &data_key,
            ObjectContext::new(&tenant_text, &recording_text),
            &header.concat(),
            meta.size,
        )?;
        if opener.plaintext_len() != record.plaintext_len {
            return Err(StorageError::Integrity(
                "object length disagrees with its record".into(),
            ));
        }
        let total_len = record.plaintext_len;
        let (plan, range) = match range {
            Some(range) => (opener.plan_range(range.clone())?, range),
            None => (opener.plan_all(), 0..total_len),
        };
        let whole = range == (0..total_len);
        let ciphertext = self
            .blobs
            .get_range(&object_key, plan.ciphertext.clone())
            .await?;
        let plaintext = open_stream(Arc::new(opener), plan, ciphertext).map_err(StorageError::from);
        let body = if whole {
            verify_sha256(plaintext, record.sha256).boxed()
        } else {
            plaintext.boxed()
        };
        Ok(PlaintextStream {
            total_len,
            range,
            body,
        })
    }

    /// Crypto-shreds a recording: its wrapped data key is destroyed first (at
    /// that moment the bytes are unreadable for good), then every version of
    /// its object is deleted and checked gone. Idempotent: calling it again
    /// finishes a shred whose object deletion failed.
    pub async fn shred(&self, tenant: Uuid, recording: Uuid) -> Result<ShredReport, StorageError> {
        let record = self
            .records
            .get(tenant, recording)
            .await?
            .ok_or(StorageError::NotFound)?;
        // The records keep microseconds (PostgreSQL's precision); report
        // the instant exactly as a later read will.
        let now = Utc::now().trunc_subsecs(6);
        let report = match self.records.mark_shredded(tenant, recording, now).await? {
            ShredOutcome::Shredded => ShredReport {
                shredded_at: now,
                newly_shredded: true,
            },
            ShredOutcome::AlreadyShredded { at } => ShredReport {
                shredded_at: at,
                newly_shredded: false,
            },
        };
        let object_key = ObjectKey::parse(&record.object_key)
            .map_err(|e| StorageError::Internal(e.to_string()))?;
        self.blobs.delete(&object_key).await?;
        let left = self.blobs.version_count(&object_key).await?;
        if left != 0 {
            return Err(StorageError::Unavailable(format!(
                "{left} object versions survived deletion"
            )));
        }
        info!(%tenant, %recording, "recording shredded");
        Ok(report)
    }

    /// Removes a recording that was stored but never accepted (an upload
    /// refused after its bytes were written): object and record go, with no
    /// tombstone, so the same recording id can be stored again. Missing is
    /// not an error.
    pub async fn discard(&self, tenant: Uuid, recording: Uuid) -> Result<(), StorageError> {
        let Some(record) = self.records.get(tenant, recording).await? else {
            return Ok(());
        };
        // A shredded recording keeps its tombstone: discarding is for uploads
        // that were never accepted, not a way to erase the proof of a deletion.
        if let RecordState::Shredded { at } = record.state {
            return Err(StorageError::Shredded { at });
        }
        let object_key = ObjectKey::parse(&record.object_key)
            .map_err(|e| StorageError::Internal(e.to_string()))?;
        // Object first: a record without its object would read as tampering,
        // an object without a record is only unreadable garbage.
        self.blobs.delete(&object_key).await?;
        self.records.delete(tenant, recording).await?;
        info!(%tenant, %recording, "refused upload discarded");
        Ok(())
    }

    /// One page of the stored (not shredded) recordings of every tenant
    /// created before `before`, oldest first, after `after` (the last of
    /// the previous page). Ingestion's reconciler matches them against its
    /// uploads to find the ones no upload will ever commit.
    pub async fn list_stored(
        &self,
        before: DateTime<Utc>,
        after: Option<ListedRecord>,
        limit: u32,
    ) -> Result<Vec<ListedRecord>, StorageError> {
        Ok(self
            .records
            .list_stored_before(before, after, u64::from(limit))
            .await?)
    }

    /// Re-wraps every data key of `tenant` currently under `from` so it is
    /// under `to` (after a key change, or onto the rotated version of the
    /// same key). Bodies are not touched.
    pub async fn rewrap_tenant(
        &self,
        tenant: Uuid,
        from: &KeyRef,
        to: &KeyRef,
    ) -> Result<RewrapReport, StorageError> {
        let mut report = RewrapReport::default();
        let mut after = None;
        loop {
            let page = self
                .records
                .list_stored_for_key(tenant, &from.0, after, REWRAP_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.recording_id);
            for record in page {
                let RecordState::Stored { wrapped_key } = record.state else {
                    continue;
                };
                let wrapped = WrappedKey {
                    key_ref: KeyRef(record.key_ref.clone()),
                    ciphertext: wrapped_key.clone(),
                };
                let new = self
                    .keys
                    .rewrap(&wrapped, &context(tenant, record.recording_id), to)
                    .await?;
                let updated = self
                    .records
                    .update_wrapped_key(
                        tenant,
                        record.recording_id,
                        &wrapped_key,
                        &new.key_ref.0,
                        &new.ciphertext,
                        Utc::now(),
                    )
                    .await?;
                if updated {
                    report.rewrapped += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }
        info!(%tenant, rewrapped = report.rewrapped, skipped = report.skipped, "tenant data keys re-wrapped");
        Ok(report)
    }
}

type Digest = Arc<Mutex<(digest::Context, u64)>>;

/// The SHA-256 and length of the plaintext the sealer consumed.
fn digest_result(digest: &Digest) -> Result<([u8; 32], u64), StorageError> {
    let state = digest
        .lock()
        .map_err(|_| StorageError::Internal("digest lock poisoned".into()))?;
    let sha: [u8; 32] = state
        .0
        .clone()
        .finish()
        .as_ref()
        .try_into()
        .map_err(|_| StorageError::Internal("sha-256 is 32 bytes".into()))?;
    Ok((sha, state.1))
}

/// Passes plaintext through, hashing it, and fails at the end if the digest
/// is not the one recorded at ingest.
fn verify_sha256(
    plaintext: impl futures_util::Stream<Item = Result<Bytes, StorageError>> + Send + 'static,
    expected: [u8; 32],
) -> impl futures_util::Stream<Item = Result<Bytes, StorageError>> + Send + 'static {
    let hashing = digest::Context::new(&digest::SHA256);
    futures_util::stream::unfold(
        Some((plaintext.boxed(), hashing)),
        move |state| async move {
            let (mut plaintext, mut hashing) = state?;
            match plaintext.next().await {
                Some(Ok(chunk)) => {
                    hashing.update(&chunk);
                    Some((Ok(chunk), Some((plaintext, hashing))))
                }
                Some(Err(error)) => Some((Err(error), None)),
                None if hashing.finish().as_ref() == expected => None,
                None => Some((
                    Err(StorageError::Integrity(
                        "sha-256 differs from ingest".into(),
                    )),
                    None,
                )),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_fan_out_by_the_recording_ids_first_byte() {
        let (tenant, recording) = (Uuid::new_v4(), Uuid::new_v4());
        let key = object_key_for(tenant, recording).expect("key");
        let fan_out = format!("{:02x}", recording.as_bytes()[0]);
        let prefix = format!("tenants/{tenant}/recordings/{fan_out}/{recording}.");
        assert!(key.as_str().starts_with(&prefix), "{key}");
        assert!(key.as_str().ends_with(".cvro"), "{key}");
        let again = object_key_for(tenant, recording).expect("key");
        assert_ne!(key, again, "each store gets its own object");
    }
}
