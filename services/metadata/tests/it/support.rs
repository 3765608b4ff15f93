//! A metadata service on a real database, a stand-in for storage's tenant
//! key operations over a real key provider (a local keyring by default),
//! and a small world of BPOs, tenants and actors to test against.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use callvault_bus::{EventHandler, Message};
use callvault_contracts::call::{AudioInfo, CallMetadata, Direction};
use callvault_contracts::events::RecordingIngestedV1;
use callvault_contracts::lifecycle_api::{AuditAction, AuditEntry};
use callvault_contracts::metadata_api::{
    ApiError, ApiResult, ErrorCode, KeyMode, NewTenant, Tenant, TenantKeys,
};
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId};
use callvault_keys::local::LocalKeyring;
use callvault_keys::{KeyProvider, KeyRef};
use callvault_metadata::{CatalogueKeys, IngestedConsumer, MetadataService, PiiKeys};
use callvault_testkit::with_pg_database;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
pub const PII_SECRET: [u8; 32] = [0x5a; 32];

/// Stands in for the binary's adapter over storage's key provider (whose
/// real implementations are tested in libs/keys): managed keys are made in
/// the real `provider` (the catalogue keys are wrapped under them), external
/// keys must look like a KMS ARN, and it can be told to fail, to show a
/// failed key call leaves no tenant behind.
pub struct FakeKeys {
    pub fail: AtomicBool,
    /// Every key rotated, in order.
    pub rotated: std::sync::Mutex<Vec<String>>,
    pub provider: Arc<dyn KeyProvider>,
}

impl FakeKeys {
    pub fn new(provider: Arc<dyn KeyProvider>) -> Self {
        Self {
            fail: AtomicBool::new(false),
            rotated: std::sync::Mutex::new(Vec::new()),
            provider,
        }
    }
}

#[async_trait]
impl TenantKeys for FakeKeys {
    async fn create_tenant_key(&self, tenant: TenantId) -> ApiResult<String> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "key provider unavailable",
            ));
        }
        let key = self
            .provider
            .create_tenant_key(&tenant.to_string())
            .await
            .map_err(|err| ApiError::new(ErrorCode::Unavailable, err.to_string()))?;
        Ok(key.0)
    }

    async fn check_external_key(&self, key_arn: &str) -> ApiResult<String> {
        if self.fail.load(Ordering::SeqCst) || !key_arn.starts_with("arn:aws:kms:") {
            return Err(ApiError::invalid("the key is not usable"));
        }
        Ok(key_arn.to_string())
    }

    /// Only managed keys rotate: a tenant's own key is rotated in its KMS.
    async fn rotate_tenant_key(&self, key_ref: &str) -> ApiResult<()> {
        let managed = key_ref.starts_with("tenant/") || key_ref.starts_with("alias/callvault/");
        if self.fail.load(Ordering::SeqCst) || !managed {
            return Err(ApiError::invalid("the key does not exist or is not usable"));
        }
        self.provider
            .rotate(&KeyRef(key_ref.to_owned()))
            .await
            .map_err(|err| ApiError::invalid(err.to_string()))?;
        self.rotated
            .lock()
            .expect("rotations lock")
            .push(key_ref.to_string());
        Ok(())
    }
}

pub struct Env {
    pub db: DatabaseConnection,
    pub svc: MetadataService,
    pub keys: Arc<FakeKeys>,
    /// The service's catalogue keys (shared with the consumer).
    pub catalogue: CatalogueKeys,
    pub consumer: IngestedConsumer,
    /// Set on SQLite: the database file, to scan its raw bytes.
    pub sqlite_path: Option<std::path::PathBuf>,
    /// The local keyring's file, when the provider is one.
    pub keyring_path: Option<std::path::PathBuf>,
    _keyring_dir: tempfile::TempDir,
}

impl Env {
    async fn new(url: &str, sqlite_path: Option<std::path::PathBuf>) -> Self {
        let dir = tempfile::tempdir().expect("keyring directory");
        let path = dir.path().join("keyring.json");
        let keyring = LocalKeyring::open(path.clone()).expect("keyring");
        let mut env = Self::with_provider(url, sqlite_path, Arc::new(keyring)).await;
        env.keyring_path = Some(path);
        env._keyring_dir = dir;
        env
    }

    /// The service with `provider` for the tenants' keys. Unwrapped
    /// catalogue keys are not cached, so a key's state shows at once.
    pub async fn with_provider(
        url: &str,
        sqlite_path: Option<std::path::PathBuf>,
        provider: Arc<dyn KeyProvider>,
    ) -> Self {
        let db = callvault_metadata::connect(url, &PiiKeys::new(PII_SECRET))
            .await
            .expect("connect and migrate");
        let keys = Arc::new(FakeKeys::new(provider.clone()));
        let catalogue = CatalogueKeys::new(provider)
            .with_legacy(PiiKeys::new(PII_SECRET))
            .with_cache_ttl(std::time::Duration::ZERO);
        let svc = MetadataService::new(
            db.clone(),
            keys.clone() as Arc<dyn TenantKeys>,
            catalogue.clone(),
        );
        let consumer = IngestedConsumer::new(db.clone(), catalogue.clone());
        Env {
            db,
            svc,
            keys,
            catalogue,
            consumer,
            sqlite_path,
            keyring_path: None,
            _keyring_dir: tempfile::tempdir().expect("unused directory"),
        }
    }

    pub async fn bpo(&self, name: &str) -> BpoId {
        self.svc
            .create_bpo(&platform(), name.to_string())
            .await
            .expect("create bpo")
            .id
    }

    pub async fn tenant(&self, bpo: BpoId, name: &str) -> Tenant {
        self.svc
            .onboard_tenant(&platform(), onboard(bpo, name))
            .await
            .expect("onboard tenant")
    }

    /// Two BPOs; X has tenants A and B, Y has tenant C.
    pub async fn world(&self) -> World {
        let x = self.bpo("bpo x").await;
        let y = self.bpo("bpo y").await;
        let a = self.tenant(x, "tenant a").await.id;
        let b = self.tenant(x, "tenant b").await.id;
        let c = self.tenant(y, "tenant c").await.id;
        World { x, y, a, b, c }
    }

    /// Catalogues a recording through the ingest consumer, as the bus would.
    pub async fn ingest(&self, event: RecordingIngestedV1) -> RecordingId {
        let id = event.recording_id;
        let message = Message::new(&event).expect("message");
        self.consumer.handle(message).await.expect("ingest");
        id
    }

    /// The tenant's whole audit trail, oldest first.
    pub async fn audit_entries(&self, tenant: TenantId) -> Vec<AuditEntry> {
        let mut entries = Vec::new();
        let mut after = None;
        loop {
            let page = callvault_metadata::audit::page(&self.db, tenant, after, 500)
                .await
                .expect("audit page");
            entries.extend(page.items);
            if !page.has_next_page {
                return entries;
            }
            after = page.end_seq;
        }
    }

    /// The tenant's audit entries of one action, oldest first.
    pub async fn audit_of(&self, tenant: TenantId, action: AuditAction) -> Vec<AuditEntry> {
        let mut entries = self.audit_entries(tenant).await;
        entries.retain(|entry| entry.action == action);
        entries
    }

    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("n")
    }

    /// Every byte the database holds for `table`, as searchable text: the
    /// SQLite file and its WAL; on PostgreSQL each row as text, with bytea
    /// columns in hex.
    pub async fn raw_contents(&self, table: &str) -> String {
        if let Some(path) = &self.sqlite_path {
            let mut bytes = std::fs::read(path).expect("read sqlite file");
            let wal = path.with_extension("db-wal");
            if let Ok(more) = std::fs::read(wal) {
                bytes.extend(more);
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        let rows = self
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT CAST(t.* AS text) AS row FROM (SELECT * FROM {table}) t"),
            ))
            .await
            .expect("dump rows");
        rows.iter()
            .map(|row| row.try_get::<String>("", "row").expect("row text"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub struct World {
    pub x: BpoId,
    pub y: BpoId,
    pub a: TenantId,
    pub b: TenantId,
    pub c: TenantId,
}

pub fn platform() -> Actor {
    Actor {
        subject: "root".into(),
        role: Role::PlatformAdmin,
        bpo_id: None,
        tenant_id: None,
        agent_id: None,
        origin: None,
    }
}

pub fn bpo_admin(bpo: BpoId) -> Actor {
    Actor {
        subject: format!("admin@{bpo}"),
        role: Role::BpoAdmin,
        bpo_id: Some(bpo),
        tenant_id: None,
        agent_id: None,
        origin: None,
    }
}

/// A tenant role; agents carry the agent id `agent-7`.
pub fn member(role: Role, tenant: TenantId) -> Actor {
    Actor {
        subject: format!("{}@{tenant}", role.as_str()),
        role,
        bpo_id: None,
        tenant_id: Some(tenant),
        agent_id: (role == Role::Agent).then(|| "agent-7".to_string()),
        origin: None,
    }
}

pub fn agent(tenant: TenantId, agent_id: &str) -> Actor {
    Actor {
        agent_id: Some(agent_id.to_string()),
        ..member(Role::Agent, tenant)
    }
}

pub fn onboard(bpo: BpoId, name: &str) -> NewTenant {
    NewTenant {
        bpo_id: bpo,
        name: name.to_string(),
        time_zone: "Asia/Tokyo".into(),
        default_retention_days: 365,
        key_mode: KeyMode::Managed,
        default_region: None,
    }
}

pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("timestamp")
}

/// A one-minute inbound call handled by `agent-7`, starting at `at(offset)`.
pub fn event(tenant: TenantId, offset: i64) -> RecordingIngestedV1 {
    RecordingIngestedV1 {
        tenant_id: tenant,
        recording_id: RecordingId::new(),
        call: CallMetadata {
            external_call_id: format!("call-{offset}"),
            segment: 0,
            direction: Direction::Inbound,
            caller_number: "+1 201 555 0100".into(),
            callee_number: "+1 201 555 0199".into(),
            agent: Some("agent-7".into()),
            queue: Some("sales".into()),
            started_at: at(offset),
            ended_at: at(offset + 60),
            tags: vec![],
            agent_channel: None,
            customer_channel: None,
            attributes: Default::default(),
            notice_played: None,
            pauses: Vec::new(),
        },
        audio: AudioInfo {
            codec: "wav/pcm_mulaw".into(),
            sample_rate: 8000,
            channels: 1,
            duration_ms: 60_000,
        },
        size: 480_000,
        sha256: "ab".repeat(32),
        key_ref: format!("tenant/{tenant}"),
        ingested_at: at(offset + 90),
    }
}

pub fn code<T: std::fmt::Debug>(result: ApiResult<T>) -> ErrorCode {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => err.code,
    }
}

pub async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("metadata.db");
    let url = format!("sqlite://{}", path.display());
    scenario(Env::new(&url, Some(path)).await).await;
}

pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Env) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_pg_database(|url| async move {
        let env = Env::new(&url, None).await;
        let db = env.db.clone();
        scenario(env).await;
        db.close().await.expect("close postgres");
    })
    .await;
}
