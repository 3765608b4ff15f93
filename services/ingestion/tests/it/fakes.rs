//! What stands in for the other services: the metadata service's key check
//! (a table), and the storage adapter the binary would use, over the real
//! storage service.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use callvault_contracts::metadata_api::*;
use callvault_contracts::{Actor, BpoId, RecordingId, TenantId};
use callvault_ingestion::{AudioStream, RecordingSink, SinkError, StoredAudio, StoredObject};
use callvault_keys::KeyRef;
use callvault_storage::{ListedRecord, RecordingStore, StorageError};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Answers `verify_api_key` from a table, and `known_recordings` from the
/// recordings a test says are catalogued. The metadata service, its key
/// store and its catalogue are tested in their own crate; here only the
/// answers matter. Every other method fails: ingestion must not call them.
#[derive(Default)]
pub struct KeyTable {
    grants: Mutex<HashMap<String, ApiKeyGrant>>,
    catalogued: Mutex<Vec<(TenantId, RecordingId)>>,
    /// The catalogue can't be asked (metadata or the broker down).
    pub catalogue_down: AtomicBool,
}

impl KeyTable {
    pub fn grant(&self, secret: &str, grant: ApiKeyGrant) {
        if let Ok(mut grants) = self.grants.lock() {
            grants.insert(secret.to_owned(), grant);
        }
    }

    pub fn catalogue(&self, tenant: TenantId, recording: RecordingId) {
        if let Ok(mut catalogued) = self.catalogued.lock() {
            catalogued.push((tenant, recording));
        }
    }

    pub fn revoke(&self, secret: &str) {
        if let Ok(mut grants) = self.grants.lock() {
            grants.remove(secret);
        }
    }
}

fn unused<T>() -> ApiResult<T> {
    Err(ApiError::new(ErrorCode::Internal, "not used by ingestion"))
}

#[async_trait]
impl MetadataApi for KeyTable {
    async fn verify_api_key(&self, secret: String) -> ApiResult<ApiKeyGrant> {
        let grants = self
            .grants
            .lock()
            .map_err(|_| ApiError::new(ErrorCode::Internal, "poisoned"))?;
        grants
            .get(&secret)
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "unknown or revoked api key"))
    }
    async fn known_recordings(
        &self,
        tenant: TenantId,
        ids: Vec<RecordingId>,
    ) -> ApiResult<Vec<RecordingId>> {
        if self.catalogue_down.load(Ordering::SeqCst) {
            return Err(ApiError::new(ErrorCode::Unavailable, "metadata is down"));
        }
        let catalogued = self
            .catalogued
            .lock()
            .map_err(|_| ApiError::new(ErrorCode::Internal, "poisoned"))?;
        Ok(ids
            .into_iter()
            .filter(|id| catalogued.contains(&(tenant, *id)))
            .collect())
    }
    async fn create_bpo(&self, _: &Actor, _: String) -> ApiResult<Bpo> {
        unused()
    }
    async fn list_bpos(&self, _: &Actor) -> ApiResult<Vec<Bpo>> {
        unused()
    }
    async fn onboard_tenant(&self, _: &Actor, _: OnboardTenant) -> ApiResult<Tenant> {
        unused()
    }
    async fn get_tenant(&self, _: &Actor, _: TenantId) -> ApiResult<Tenant> {
        unused()
    }
    async fn list_tenants(&self, _: &Actor, _: BpoId) -> ApiResult<Vec<Tenant>> {
        unused()
    }
    async fn create_user(&self, _: &Actor, _: CreateUser) -> ApiResult<User> {
        unused()
    }
    async fn list_users(&self, _: &Actor, _: TenantId) -> ApiResult<Vec<User>> {
        unused()
    }
    async fn create_api_key(&self, _: &Actor, _: TenantId, _: String) -> ApiResult<CreatedApiKey> {
        unused()
    }
    async fn revoke_api_key(&self, _: &Actor, _: TenantId, _: Uuid) -> ApiResult<ApiKey> {
        unused()
    }
    async fn list_api_keys(&self, _: &Actor, _: TenantId) -> ApiResult<Vec<ApiKey>> {
        unused()
    }
    async fn search_recordings(
        &self,
        _: &Actor,
        _: TenantId,
        _: RecordingFilter,
        _: PageRequest,
    ) -> ApiResult<RecordingPage> {
        unused()
    }
    async fn get_recording(&self, _: &Actor, _: TenantId, _: RecordingId) -> ApiResult<Recording> {
        unused()
    }
}

/// The adapter the binary wires: ingestion's sink over the real storage
/// service.
///
/// `down` makes it refuse like a storage service whose blob store or key
/// provider is unreachable: a fake outage (a real one can't be switched on
/// and off from a test), in front of real storage. `discard_down` does the
/// same for discards only. `slow_tenant` holds a tenant's stores back for a
/// while after they are stored, as a slow ingestion database would hold
/// the commit: the window a killed process leaves an orphan in.
pub struct StorageSink {
    pub store: Arc<RecordingStore>,
    pub down: AtomicBool,
    pub discard_down: AtomicBool,
    pub slow_tenant: Mutex<Option<(TenantId, Duration)>>,
}

fn sink_error(error: StorageError) -> SinkError {
    match error {
        StorageError::Unavailable(why) => SinkError::Unavailable(why),
        StorageError::AlreadyExists => SinkError::Conflict,
        StorageError::Body(why) => SinkError::Body(why),
        other => SinkError::Internal(other.to_string()),
    }
}

#[async_trait]
impl RecordingSink for StorageSink {
    async fn store(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        key_ref: &str,
        body: AudioStream,
    ) -> Result<StoredAudio, SinkError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(SinkError::Unavailable(
                "blob store unreachable (test outage)".into(),
            ));
        }
        let stored = self
            .store
            .store(tenant.0, recording.0, &KeyRef(key_ref.to_owned()), body)
            .await
            .map_err(sink_error)?;
        let delay = self
            .slow_tenant
            .lock()
            .ok()
            .and_then(|slow| *slow)
            .filter(|(slow, _)| *slow == tenant)
            .map(|(_, delay)| delay);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        Ok(StoredAudio {
            size: stored.size,
            sha256: stored.sha256,
        })
    }

    async fn discard(&self, tenant: TenantId, recording: RecordingId) -> Result<(), SinkError> {
        if self.discard_down.load(Ordering::SeqCst) {
            return Err(SinkError::Unavailable(
                "blob store unreachable (test outage)".into(),
            ));
        }
        self.store
            .discard(tenant.0, recording.0)
            .await
            .map_err(sink_error)
    }

    async fn list_stored(
        &self,
        before: DateTime<Utc>,
        after: Option<StoredObject>,
        limit: u32,
    ) -> Result<Vec<StoredObject>, SinkError> {
        let after = after.map(|object| ListedRecord {
            created_at: object.created_at,
            tenant_id: object.tenant.0,
            recording_id: object.recording.0,
        });
        let page = self
            .store
            .list_stored(before, after, limit)
            .await
            .map_err(sink_error)?;
        Ok(page
            .into_iter()
            .map(|record| StoredObject {
                created_at: record.created_at,
                tenant: TenantId(record.tenant_id),
                recording: RecordingId(record.recording_id),
            })
            .collect())
    }
}
