//! A metadata service wired to a REAL storage service (filesystem blobs,
//! local keyring, SQLite records in a temporary directory) as its shredder,
//! with a clock the test moves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use callvault_blob::{BlobStore, ByteStream, fs::FsBlobStore};
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{Router, RpcClient};
use callvault_contracts::events::RecordingIngestedV1;
use callvault_contracts::lifecycle_api::{DeletionCertificate, HoldScope, LegalHold, NewLegalHold};
use callvault_contracts::metadata_api::{ApiError, ErrorCode, NewTenant, TenantKeys};
use callvault_contracts::ops::storage::Shred;
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId};
use callvault_keys::{KeyProvider, local::LocalKeyring};
use callvault_metadata::{CatalogueKeys, ManifestKeys, MetadataService};
use callvault_storage::records::{self, StorageRecords};
use callvault_storage::{RecordingStore, StorageError};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::support::{Env, at, member, onboard, platform};

/// The platform secret the lab's certificates are signed with.
pub const MANIFEST_SECRET: [u8; 32] = [0x3c; 32];

/// Every lab tenant keeps calls for 30 days unless a rule says otherwise.
pub const DEFAULT_DAYS: u32 = 30;

/// The real storage service's operations over an in-process bus.
async fn storage_service(store: &Arc<RecordingStore>) -> RpcClient {
    let bus = Arc::new(InProcessBus::new());
    callvault_storage::operations::router(store)
        .serve(bus.as_ref())
        .await
        .expect("serve storage");
    RpcClient::new(bus, Duration::from_secs(10))
}

/// Fault injection: a storage service that is down. A double, not a fake
/// of the real behaviour: the point is what the metadata service does when
/// the real one fails.
pub async fn failing_storage() -> RpcClient {
    let bus = Arc::new(InProcessBus::new());
    let mut router = Router::new();
    router.route(&Arc::new(()), |_, _: Shred| async {
        Err(ApiError::new(ErrorCode::Unavailable, "storage unavailable"))
    });
    router.serve(bus.as_ref()).await.expect("serve storage");
    RpcClient::new(bus, Duration::from_secs(10))
}

pub struct Lab {
    pub svc: MetadataService,
    pub store: Arc<RecordingStore>,
    db: DatabaseConnection,
    env_keys: Arc<dyn TenantKeys>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    keyring: Arc<LocalKeyring>,
    catalogue: CatalogueKeys,
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
        let clock = Arc::new(Mutex::new(at(0)));
        let env_keys = env.keys.clone() as Arc<dyn TenantKeys>;
        let mut lab = Lab {
            svc: MetadataService::new(env.db.clone(), env_keys.clone(), env.catalogue.clone()),
            catalogue: env.catalogue.clone(),
            store: store.clone(),
            db: env.db.clone(),
            env_keys,
            clock,
            keyring,
            _dir: dir,
        };
        lab.svc = lab.service(Some(storage_service(&store).await));
        lab
    }

    /// Another service on the same database and clock, shredding through
    /// `storage` (or unable to delete at all).
    pub fn service(&self, storage: Option<RpcClient>) -> MetadataService {
        let clock = self.clock.clone();
        let svc = MetadataService::new(
            self.db.clone(),
            self.env_keys.clone(),
            self.catalogue.clone(),
        )
        .with_manifest_keys(ManifestKeys::new(MANIFEST_SECRET.to_vec()))
        .with_clock(Arc::new(move || *clock.lock().expect("clock")));
        match storage {
            Some(storage) => svc.with_storage(storage),
            None => svc,
        }
    }

    pub fn set_clock(&self, now: DateTime<Utc>) {
        *self.clock.lock().expect("clock") = now;
    }

    /// A tenant of `bpo` keeping calls [`DEFAULT_DAYS`] days.
    pub async fn tenant(&self, bpo: BpoId, name: &str) -> TenantId {
        self.svc
            .onboard_tenant(
                &platform(),
                NewTenant {
                    default_retention_days: DEFAULT_DAYS,
                    ..onboard(bpo, name)
                },
            )
            .await
            .expect("onboard tenant")
            .id
    }

    /// Catalogues the call and stores its audio in the storage service.
    pub async fn record(&self, env: &Env, event: RecordingIngestedV1) -> RecordingId {
        let (tenant, id) = (event.tenant_id, event.recording_id);
        env.ingest(event).await;
        let key = self
            .keyring
            .create_tenant_key(&tenant.to_string())
            .await
            .expect("tenant key");
        self.store
            .store(tenant, id, &key, body(&audio(id)))
            .await
            .expect("audio stored");
        id
    }

    /// The recording's audio, read back from the storage service.
    pub async fn read(&self, tenant: TenantId, id: RecordingId) -> Result<Vec<u8>, StorageError> {
        let stream = self.store.read(tenant, id, None).await?;
        let chunks: Vec<Bytes> = stream.body.try_collect().await?;
        Ok(chunks.concat())
    }

    /// Asserts the audio is intact.
    pub async fn assert_readable(&self, tenant: TenantId, id: RecordingId) {
        let bytes = self.read(tenant, id).await.expect("audio readable");
        assert_eq!(bytes, audio(id), "{id} audio intact");
    }

    /// Asserts the audio is crypto-shredded.
    pub async fn assert_shredded(&self, tenant: TenantId, id: RecordingId) {
        match self.read(tenant, id).await {
            Err(StorageError::Shredded { .. }) => {}
            other => panic!(
                "{id} should be shredded, read gave {:?}",
                other.map(|b| b.len())
            ),
        }
    }

    pub async fn hold(&self, actor: &Actor, tenant: TenantId, scope: HoldScope) -> LegalHold {
        self.svc
            .place_hold(
                actor,
                tenant,
                NewLegalHold {
                    case_name: "Case 42".into(),
                    reason: "litigation".into(),
                    scope,
                },
            )
            .await
            .expect("hold placed")
    }

    pub async fn run(&self, tenant: TenantId) -> DeletionCertificate {
        self.svc
            .run_deletion(&member(Role::ComplianceOfficer, tenant), tenant)
            .await
            .expect("deletion run")
    }

    /// Marks the recording as claimed by a deletion at `since`, as a worker
    /// that is shredding it (or crashed doing so) leaves it.
    pub async fn claim(&self, tenant: TenantId, id: RecordingId, since: DateTime<Utc>) {
        let update = Query::update()
            .table(Alias::new("recordings"))
            .value(Alias::new("deleting_since"), since)
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(Alias::new("id")).eq(id.0))
            .to_owned();
        let result = self.db.execute(&update).await.expect("claim");
        assert_eq!(result.rows_affected(), 1);
    }

    /// Rows of `table` whose `column` is `id`.
    pub async fn rows_for(&self, table: &str, column: &str, id: uuid::Uuid) -> usize {
        let select = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new(column)).eq(id))
            .to_owned();
        self.db.query_all(&select).await.expect("select").len()
    }
}

/// Distinct audio per recording, a few frames long.
pub fn audio(id: RecordingId) -> Vec<u8> {
    id.0.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(20_000)
        .collect()
}

fn body(data: &[u8]) -> ByteStream {
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(4096)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(pieces).boxed()
}

/// The ids of a certificate's deletions, sorted.
pub fn deleted_ids(certificate: &DeletionCertificate) -> Vec<RecordingId> {
    let mut ids: Vec<_> = certificate.deleted.iter().map(|t| t.recording_id).collect();
    ids.sort();
    ids
}

pub fn sorted(mut ids: Vec<RecordingId>) -> Vec<RecordingId> {
    ids.sort();
    ids
}

/// Whether the recording is still in the catalogue (as its tenant's
/// admin sees it).
pub async fn catalogued(svc: &MetadataService, tenant: TenantId, id: RecordingId) -> bool {
    match svc
        .get_recording(&member(Role::TenantAdmin, tenant), tenant, id)
        .await
    {
        Ok(_) => true,
        Err(err) if err.code == ErrorCode::NotFound => false,
        Err(err) => panic!("get_recording: {err:?}"),
    }
}
