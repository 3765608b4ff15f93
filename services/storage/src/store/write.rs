//! Storing: sealing a body under a fresh data key, the object and its write
//! intent, and the record that makes it readable.

use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use callvault_blob::{ByteStream, ObjectKey};
use callvault_contracts::{RecordingId, TenantId};
use callvault_envelope::{Layout, ObjectContext, Sealer, seal_stream};
use callvault_keys::KeyRef;
use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt};
use tracing::{info, warn};
use uuid::Uuid;

use super::{RecordingStore, StoredRecording, context};
use crate::StorageError;
use crate::records::{CommitError, NewRecord};

/// A fresh key for one object of `recording`. The object's own random id
/// keeps racing stores apart. The recordings fan out over 256 folders (the
/// recording id's first byte, random in a v4 id) rather than a folder each:
/// on the filesystem store a folder per recording cost a directory inode
/// and one more directory sync per upload, while a tenant's single folder
/// would grow to millions of entries.
fn object_key_for(tenant: TenantId, recording: RecordingId) -> Result<ObjectKey, StorageError> {
    let fan_out = recording.0.as_bytes()[0];
    ObjectKey::parse(&format!(
        "tenants/{tenant}/recordings/{fan_out:02x}/{recording}.{}.cvro",
        Uuid::new_v4()
    ))
    .map_err(|e| StorageError::Internal(e.to_string()))
}

impl RecordingStore {
    /// [`RecordingStore::store`]'s work, outside its span.
    pub(super) async fn seal_and_record(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        key: &KeyRef,
        body: ByteStream,
    ) -> Result<StoredRecording, StorageError> {
        if self.records.get(tenant.0, recording.0).await?.is_some() {
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
            .begin(object_key.as_str(), tenant.0, recording.0, Utc::now())
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
            tenant_id: tenant.0,
            recording_id: recording.0,
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
            // With its `recording.stored`, in the same transaction.
            Ok(()) => self.enqueued(),
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

    /// Best-effort removal of an object no record will reference, then of
    /// its intent. An object that would not delete keeps an abandoned
    /// intent, so the next sweep retries; an intent that would not go stays
    /// pending and a sweep removes it after the grace period.
    async fn abandon_object(
        &self,
        object_key: &ObjectKey,
        tenant: TenantId,
        recording: RecordingId,
    ) {
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
                    .hand_over(object_key.as_str(), tenant.0, recording.0, Utc::now())
                    .await;
                if let Err(error) = handed {
                    warn!(object = %object_key, %error, "could not hand an unreferenced object over to the sweep");
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_fan_out_by_the_recording_ids_first_byte() {
        let (tenant, recording) = (TenantId::new(), RecordingId::new());
        let key = object_key_for(tenant, recording).expect("key");
        let fan_out = format!("{:02x}", recording.0.as_bytes()[0]);
        let prefix = format!("tenants/{tenant}/recordings/{fan_out}/{recording}.");
        assert!(key.as_str().starts_with(&prefix), "{key}");
        assert!(key.as_str().ends_with(".cvro"), "{key}");
        let again = object_key_for(tenant, recording).expect("key");
        assert_ne!(key, again, "each store gets its own object");
    }
}
