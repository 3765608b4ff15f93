//! What happens to a stored recording afterwards: crypto-shredding,
//! discarding a refused upload, re-wrapping its data key.

use callvault_blob::ObjectKey;
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::{KeyRef, WrappedKey};
use chrono::{SubsecRound, Utc};
use tracing::info;

use super::{RecordingStore, RewrapReport, ShredReport, context};
use crate::StorageError;
use crate::records::{RecordState, ShredOutcome};

const REWRAP_PAGE: u64 = 200;

impl RecordingStore {
    /// [`RecordingStore::shred`]'s work, outside its span.
    pub(super) async fn destroy(
        &self,
        tenant: TenantId,
        recording: RecordingId,
    ) -> Result<ShredReport, StorageError> {
        let record = self
            .records
            .get(tenant.0, recording.0)
            .await?
            .ok_or(StorageError::NotFound)?;
        // The records keep microseconds (PostgreSQL's precision); report
        // the instant exactly as a later read will.
        let now = Utc::now().trunc_subsecs(6);
        let report = match self
            .records
            .mark_shredded(tenant.0, recording.0, now)
            .await?
        {
            ShredOutcome::Shredded => {
                // With its `recording.shredded`, in the same transaction.
                self.enqueued();
                ShredReport {
                    shredded_at: now,
                    newly_shredded: true,
                }
            }
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

    /// [`RecordingStore::discard`]'s work, outside its span.
    pub(super) async fn remove_unaccepted(
        &self,
        tenant: TenantId,
        recording: RecordingId,
    ) -> Result<(), StorageError> {
        let Some(record) = self.records.get(tenant.0, recording.0).await? else {
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
        // With its `recording.discarded`, in the same transaction.
        if self
            .records
            .delete(tenant.0, recording.0, Utc::now())
            .await?
        {
            self.enqueued();
        }
        info!(%tenant, %recording, "refused upload discarded");
        Ok(())
    }

    /// [`RecordingStore::rewrap_tenant`]'s work, outside its span.
    pub(super) async fn rewrap_all(
        &self,
        tenant: TenantId,
        from: &KeyRef,
        to: &KeyRef,
    ) -> Result<RewrapReport, StorageError> {
        let mut report = RewrapReport::default();
        let mut after = None;
        loop {
            let page = self
                .records
                .list_stored_for_key(tenant.0, &from.0, after, REWRAP_PAGE)
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
                let recording = RecordingId(record.recording_id);
                let new = self
                    .keys
                    .rewrap(&wrapped, &context(tenant, recording), to)
                    .await?;
                let updated = self
                    .records
                    .update_wrapped_key(
                        tenant.0,
                        recording.0,
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
