//! A tenant's offboarding, storage's part: every recording crypto-shredded,
//! then the tenant's master key destroyed.

use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::KeyRef;
use tracing::info;

use super::RecordingStore;
use crate::StorageError;

const PAGE: u64 = 200;

/// What [`RecordingStore::shred_tenant`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TenantShredReport {
    pub shredded: u64,
    pub already_shredded: u64,
    pub key_destroyed: bool,
}

impl RecordingStore {
    /// Shreds every recording of `tenant` (wrapped data key cleared, every
    /// object version deleted and checked gone), then destroys `key`, the
    /// tenant's master key, when given. Idempotent: a second call finds the
    /// records shredded (and deletes any object version that survived) and
    /// the key already destroyed.
    ///
    /// The key goes last: a recording a concurrent upload stored after the
    /// listing passed it still has its data key wrapped under that key, and
    /// is unreadable once the key is destroyed.
    #[tracing::instrument(
        name = "storage.shred_tenant",
        skip_all,
        fields(tenant_id = %tenant, key_ref = key.map(|key| key.0.as_str()))
    )]
    pub async fn shred_tenant(
        &self,
        tenant: TenantId,
        key: Option<&KeyRef>,
    ) -> Result<TenantShredReport, StorageError> {
        let mut report = TenantShredReport::default();
        let mut after = None;
        loop {
            let page = self.records.list_tenant_ids(tenant.0, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(*last);
            for id in page {
                let shred = self.destroy(tenant, RecordingId(id)).await?;
                if shred.newly_shredded {
                    report.shredded += 1;
                } else {
                    report.already_shredded += 1;
                }
            }
        }
        if let Some(key) = key {
            self.keys.destroy_key(key).await?;
            report.key_destroyed = true;
        }
        info!(
            %tenant,
            shredded = report.shredded,
            already_shredded = report.already_shredded,
            key_destroyed = report.key_destroyed,
            "tenant shredded"
        );
        Ok(report)
    }
}
