//! A metadata service wired to a REAL storage service (filesystem blobs,
//! local keyring, SQLite records) over an in-process bus, whose tenants'
//! master keys come from that same keyring (as the binary wires it), with
//! manifest keys to sign certificates.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use callvault_blob::{BlobStore, fs::FsBlobStore};
use callvault_bus::EventHandler;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{Router, RpcClient};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, TenantKeys};
use callvault_contracts::ops::offboarding::ShredTenant;
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::{KeyProvider, KeyRef, local::LocalKeyring};
use callvault_metadata::{CatalogueKeys, IngestedConsumer, ManifestKeys, MetadataService};
use callvault_storage::records::{self, StorageRecords};
use callvault_storage::{RecordingStore, StorageError};
use futures_util::{StreamExt, TryStreamExt};

use crate::deletion::lab::audio;
use crate::support::Env;

pub const MANIFEST_SECRET: [u8; 32] = [0x33; 32];

/// The binary's adapter, over the lab's keyring.
struct KeyringTenantKeys(Arc<LocalKeyring>);

#[async_trait]
impl TenantKeys for KeyringTenantKeys {
    async fn create_tenant_key(&self, tenant: TenantId) -> ApiResult<String> {
        let key = self.0.create_tenant_key(&tenant.to_string()).await;
        key.map(|key| key.0)
            .map_err(|_| ApiError::new(ErrorCode::Unavailable, "keyring"))
    }

    async fn check_external_key(&self, _key_arn: &str) -> ApiResult<String> {
        Err(ApiError::invalid("the lab has no external keys"))
    }

    async fn rotate_tenant_key(&self, key_ref: &str) -> ApiResult<()> {
        self.0
            .rotate(&KeyRef(key_ref.to_owned()))
            .await
            .map_err(|_| ApiError::invalid("rotate"))
    }
}

/// Fault injection: a storage service whose tenant shred fails, as one
/// that is down (or crashed mid-way) would.
pub async fn failing_storage() -> RpcClient {
    let bus = Arc::new(InProcessBus::new());
    let mut router = Router::new();
    router.route(&Arc::new(()), |_, _: ShredTenant| async {
        Err::<callvault_contracts::ops::offboarding::TenantShredded, _>(ApiError::new(
            ErrorCode::Unavailable,
            "storage unavailable",
        ))
    });
    router.serve(bus.as_ref()).await.expect("serve storage");
    RpcClient::new(bus, Duration::from_secs(10))
}

pub struct Lab {
    pub svc: MetadataService,
    pub store: Arc<RecordingStore>,
    pub keyring: Arc<LocalKeyring>,
    /// The catalogue's keys under the lab's keyring, uncached: a destroyed
    /// key shows at once.
    catalogue: CatalogueKeys,
    /// The ingest consumer over the lab's catalogue keys.
    pub consumer: IngestedConsumer,
    db: sea_orm::DatabaseConnection,
    _dir: tempfile::TempDir,
}

impl Lab {
    pub async fn new(env: &Env) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let keyring =
            Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
        let url = format!("sqlite://{}", dir.path().join("storage.db").display());
        let records = StorageRecords::new(records::connect(&url).await.expect("storage records"));
        let store = Arc::new(RecordingStore::new(
            blobs as Arc<dyn BlobStore>,
            keyring.clone() as Arc<dyn KeyProvider>,
            records,
        ));
        let catalogue = CatalogueKeys::new(keyring.clone() as Arc<dyn KeyProvider>)
            .with_cache_ttl(Duration::ZERO);
        let bus = Arc::new(InProcessBus::new());
        callvault_storage::operations::router(&store)
            .serve(bus.as_ref())
            .await
            .expect("serve storage");
        let storage = RpcClient::new(bus, Duration::from_secs(10));
        let mut lab = Lab {
            svc: MetadataService::new(
                env.db.clone(),
                Arc::new(KeyringTenantKeys(keyring.clone())),
                catalogue.clone(),
            ),
            store,
            keyring,
            consumer: IngestedConsumer::new(env.db.clone(), catalogue.clone()),
            catalogue,
            db: env.db.clone(),
            _dir: dir,
        };
        lab.svc = lab.service(Some(storage));
        lab
    }

    /// Another service on the same database, keyring and manifest keys,
    /// shredding through `storage`.
    pub fn service(&self, storage: Option<RpcClient>) -> MetadataService {
        let svc = MetadataService::new(
            self.db.clone(),
            Arc::new(KeyringTenantKeys(self.keyring.clone())),
            self.catalogue.clone(),
        )
        .with_manifest_keys(ManifestKeys::new(MANIFEST_SECRET.to_vec()));
        match storage {
            Some(storage) => svc.with_storage(storage),
            None => svc,
        }
    }

    /// Catalogues the call and stores its audio under the tenant's key.
    pub async fn record(
        &self,
        mut event: callvault_contracts::events::RecordingIngestedV1,
    ) -> RecordingId {
        let (tenant, id) = (event.tenant_id, event.recording_id);
        let key = KeyRef(format!("tenant/{tenant}"));
        event.key_ref = key.0.clone();
        let message = callvault_bus::Message::new(&event).expect("message");
        self.consumer.handle(message).await.expect("ingest");
        self.store
            .store(tenant, id, &key, body(&audio(id)))
            .await
            .expect("audio stored");
        id
    }

    pub async fn read(&self, tenant: TenantId, id: RecordingId) -> Result<Vec<u8>, StorageError> {
        let stream = self.store.read(tenant, id, None).await?;
        let chunks: Vec<Bytes> = stream.body.try_collect().await?;
        Ok(chunks.concat())
    }

    pub async fn assert_readable(&self, tenant: TenantId, id: RecordingId) {
        let bytes = self.read(tenant, id).await.expect("audio readable");
        assert_eq!(bytes, audio(id), "{id} audio intact");
    }

    pub async fn assert_shredded(&self, tenant: TenantId, id: RecordingId) {
        match self.read(tenant, id).await {
            Err(StorageError::Shredded { .. }) => {}
            other => panic!(
                "{id} should be shredded, read gave {:?}",
                other.map(|b| b.len())
            ),
        }
    }

    /// Whether the keyring still has the tenant's master key.
    pub async fn has_key(&self, tenant: TenantId) -> bool {
        self.keyring
            .check_key(&KeyRef(format!("tenant/{tenant}")))
            .await
            .is_ok()
    }
}

fn body(data: &[u8]) -> callvault_blob::ByteStream {
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(4096)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(pieces).boxed()
}
