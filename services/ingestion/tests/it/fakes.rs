//! What stands in for the other services: the metadata service's key check
//! (a table), and the storage adapter the binary would use, over the real
//! storage service.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{Router, RpcClient};
use callvault_contracts::metadata_api::{ApiError, ApiKeyGrant, ApiResult, ErrorCode};
use callvault_contracts::ops::catalogue::KnownRecordings;
use callvault_contracts::ops::tenancy::VerifyApiKey;
use callvault_contracts::{RecordingId, TenantId};
use callvault_ingestion::{AudioStream, RecordingSink, SinkError, StoredAudio, StoredObject};
use callvault_keys::KeyRef;
use callvault_storage::{ListedRecord, RecordingStore, StorageError};
use chrono::{DateTime, Utc};

/// Answers `verify_api_key` from a table, and `known_recordings` from the
/// recordings a test says are catalogued. The metadata service, its key
/// store and its catalogue are tested in their own crate; here only the
/// answers matter.
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

impl KeyTable {
    pub async fn verify_api_key(&self, secret: &str) -> ApiResult<ApiKeyGrant> {
        let grants = self
            .grants
            .lock()
            .map_err(|_| ApiError::new(ErrorCode::Internal, "poisoned"))?;
        grants
            .get(secret)
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
}

/// The metadata service as ingestion reaches it: the table serving the two
/// operations ingestion calls, over the in-process bus. Any other
/// operation is refused as unknown.
pub async fn metadata_service(table: &Arc<KeyTable>) -> RpcClient {
    let bus = Arc::new(InProcessBus::new());
    let mut router = Router::new();
    router
        .route(table, |table, request: VerifyApiKey| async move {
            table.verify_api_key(&request.secret).await
        })
        .route(table, |table, request: KnownRecordings| async move {
            table.known_recordings(request.tenant, request.ids).await
        });
    router
        .serve(bus.as_ref())
        .await
        .expect("serve the key table");
    RpcClient::new(bus, Duration::from_secs(5))
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
    /// The next store panics: a bug, which no real storage can be made to
    /// show on demand.
    pub panic_once: AtomicBool,
}

fn sink_error(error: StorageError) -> SinkError {
    match error {
        StorageError::Unavailable(why) => SinkError::Unavailable(why),
        StorageError::AlreadyExists => SinkError::Conflict,
        StorageError::Body(why) => SinkError::Body(why),
        StorageError::Key(why) => SinkError::KeyUnusable(why),
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
        if self.panic_once.swap(false, Ordering::SeqCst) {
            panic!("a bug in storage (test)");
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(SinkError::Unavailable(
                "blob store unreachable (test outage)".into(),
            ));
        }
        let stored = self
            .store
            .store(tenant, recording, &KeyRef(key_ref.to_owned()), body)
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
            .discard(tenant, recording)
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
            tenant_id: object.tenant,
            recording_id: object.recording,
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
                tenant: record.tenant_id,
                recording: record.recording_id,
            })
            .collect())
    }
}
