//! The disclosure service with REAL peers: the metadata service (its own
//! database on the same backend) and the storage service (filesystem blobs,
//! local keyring), all on one in-process bus, one clock the test moves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use callvault_blob::{BlobStore, ByteStream, fs::FsBlobStore};
use callvault_bus::EventHandler;
use callvault_bus::RpcClient;
use callvault_bus::in_process::InProcessBus;
use callvault_contracts::call::{AudioInfo, CallMetadata, Channel, Direction, PauseSpan};
use callvault_contracts::disclosure_api::{
    Bilingual, DisclosureRequest, DisclosureSettings, IntakeChannel, NewDisclosureRequest,
    PrivacyNotice, Regime, RequestKind, RequesterContact, SubjectIdentifiers,
};
use callvault_contracts::events::{Message, RecordingIngestedV1};
use callvault_contracts::metadata_api::{
    ApiError, ApiResult, ErrorCode, KeyMode, NewTenant, Tenant, TenantKeys,
};
use callvault_contracts::ops::disclosure::{CreateDisclosureRequest, SetDisclosureSettings};
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId};
use callvault_disclosure::vault::BundleVault;
use callvault_disclosure::{AudioSource, BundleBuilder, DisclosureService};
use callvault_keys::{KeyProvider, KeyRef, local::LocalKeyring};
use callvault_metadata::{CatalogueKeys, IngestedConsumer, ManifestKeys, MetadataService, PiiKeys};
use callvault_storage::RecordingStore;
use callvault_storage::records::{self, StorageRecords};
use callvault_testkit::PgTestDatabase;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::{StreamExt, TryStreamExt};
use sea_orm::DatabaseConnection;

pub const MANIFEST_SECRET: [u8; 32] = [0x5d; 32];
const PII_SECRET: [u8; 32] = [0x11; 32];

/// The subject: a caller in Tokyo.
pub const SUBJECT: &str = "+81 3 1234 5678";
pub const SUBJECT_E164: &str = "+81312345678";
/// The company's line the subject called.
pub const COMPANY: &str = "+81 3 9999 0000";

pub struct Lab {
    pub rpc: RpcClient,
    pub metadata: Arc<MetadataService>,
    pub disclosure: Arc<DisclosureService>,
    pub store: Arc<RecordingStore>,
    pub manifest: ManifestKeys,
    pub disclosure_db: DatabaseConnection,
    /// Where the bundles' objects are.
    pub bundles_dir: std::path::PathBuf,
    consumer: IngestedConsumer,
    clock: Arc<Mutex<DateTime<Utc>>>,
    pg: Vec<PgTestDatabase>,
    _dir: tempfile::TempDir,
}

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

/// The binary's in-process adapter (services/callvault/src/adapters.rs),
/// over the lab's store.
struct StoreAudio(Arc<RecordingStore>);

#[async_trait]
impl AudioSource for StoreAudio {
    async fn open(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        from: u64,
    ) -> ApiResult<ByteStream> {
        let unavailable = |_| ApiError::new(ErrorCode::Unavailable, "storage");
        let info = self.0.info(tenant, recording).await.map_err(unavailable)?;
        if from >= info.size {
            return Ok(futures_util::stream::empty().boxed());
        }
        let stream = self
            .0
            .read(tenant, recording, Some(from..info.size))
            .await
            .map_err(unavailable)?;
        Ok(stream.body.map_err(std::io::Error::other).boxed())
    }
}

/// 2026-04-03 10:00 in Tokyo.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 3, 1, 0, 0)
        .single()
        .expect("time")
}

impl Lab {
    pub async fn on_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = format!("sqlite://{}", dir.path().join("metadata.db").display());
        let disclosure = format!("sqlite://{}", dir.path().join("disclosure.db").display());
        Self::new(dir, &metadata, &disclosure, Vec::new()).await
    }

    pub async fn on_postgres() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = PgTestDatabase::create().await;
        let disclosure = PgTestDatabase::create().await;
        let (m, d) = (metadata.url.clone(), disclosure.url.clone());
        Self::new(dir, &m, &d, vec![metadata, disclosure]).await
    }

    pub async fn drop_databases(self) {
        for db in self.pg {
            db.drop_database().await;
        }
    }

    async fn new(
        dir: tempfile::TempDir,
        metadata_url: &str,
        disclosure_url: &str,
        pg: Vec<PgTestDatabase>,
    ) -> Self {
        let blobs = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let keyring =
            Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
        let url = format!("sqlite://{}", dir.path().join("storage.db").display());
        let records = StorageRecords::new(records::connect(&url).await.expect("storage records"));
        let store = Arc::new(RecordingStore::new(
            blobs.clone() as Arc<dyn BlobStore>,
            keyring.clone() as Arc<dyn KeyProvider>,
            records,
        ));
        let bus = Arc::new(InProcessBus::new());
        let rpc = RpcClient::new(bus.clone(), Duration::from_secs(30));
        callvault_storage::operations::router(&store)
            .serve(bus.as_ref())
            .await
            .expect("serve storage");

        let clock = Arc::new(Mutex::new(start()));
        let clock_fn = {
            let clock = clock.clone();
            Arc::new(move || *clock.lock().expect("clock"))
        };
        let metadata_db = callvault_metadata::connect(metadata_url, &PiiKeys::new(PII_SECRET))
            .await
            .expect("metadata database");
        let catalogue = CatalogueKeys::new(keyring.clone() as Arc<dyn KeyProvider>)
            .with_cache_ttl(Duration::ZERO);
        let manifest = ManifestKeys::new(MANIFEST_SECRET.to_vec());
        let metadata = Arc::new(
            MetadataService::new(
                metadata_db.clone(),
                Arc::new(KeyringTenantKeys(keyring.clone())),
                catalogue.clone(),
            )
            .with_storage(rpc.clone())
            .with_manifest_keys(manifest.clone())
            .with_clock(clock_fn.clone()),
        );
        metadata
            .router()
            .serve(bus.as_ref())
            .await
            .expect("serve metadata");

        let disclosure_db = callvault_disclosure::connect(disclosure_url)
            .await
            .expect("disclosure database");
        let vault_blobs = Arc::new(FsBlobStore::new(dir.path().join("bundles")));
        let builder = Arc::new(BundleBuilder::new(
            BundleVault::new(
                vault_blobs.clone() as Arc<dyn BlobStore>,
                keyring.clone() as Arc<dyn KeyProvider>,
            ),
            Arc::new(StoreAudio(store.clone())),
        ));
        let disclosure = Arc::new(
            DisclosureService::new(
                disclosure_db.clone(),
                rpc.clone(),
                keyring.clone() as Arc<dyn KeyProvider>,
            )
            .with_bundles(builder)
            .with_clock(clock_fn),
        );
        disclosure
            .router()
            .serve(bus.as_ref())
            .await
            .expect("serve disclosure");
        Lab {
            rpc,
            metadata,
            disclosure,
            store,
            manifest,
            disclosure_db,
            bundles_dir: dir.path().join("bundles"),
            consumer: IngestedConsumer::new(metadata_db, catalogue),
            clock,
            pg,
            _dir: dir,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().expect("clock")
    }

    pub fn set_clock(&self, now: DateTime<Utc>) {
        *self.clock.lock().expect("clock") = now;
    }

    pub async fn bpo(&self) -> BpoId {
        self.metadata
            .create_bpo(&platform(), "bpo".into())
            .await
            .expect("bpo")
            .id
    }

    /// A Tokyo tenant of `bpo` keeping calls a year, with complete privacy
    /// settings (so requests can be approved).
    pub async fn tenant(&self, bpo: BpoId) -> Tenant {
        let tenant = self
            .metadata
            .onboard_tenant(
                &platform(),
                NewTenant {
                    bpo_id: bpo,
                    name: "client".into(),
                    time_zone: "Asia/Tokyo".into(),
                    default_retention_days: 365,
                    key_mode: KeyMode::Managed,
                    default_region: Some("JP".into()),
                },
            )
            .await
            .expect("onboard");
        self.rpc
            .call(SetDisclosureSettings {
                actor: officer(tenant.id),
                tenant: tenant.id,
                settings: DisclosureSettings {
                    privacy: complete_notice(),
                    ..DisclosureSettings::default()
                },
            })
            .await
            .expect("settings");
        tenant
    }

    /// A call of the subject stored (real audio) and catalogued.
    pub async fn record(&self, tenant: &Tenant, call: Call) -> RecordingId {
        let id = RecordingId::new();
        let audio = crate::audio::stereo_wav(call.seconds, call.seed);
        let event = RecordingIngestedV1 {
            tenant_id: tenant.id,
            recording_id: id,
            call: CallMetadata {
                external_call_id: format!("call-{id}"),
                segment: 0,
                direction: Direction::Inbound,
                caller_number: call.caller.into(),
                callee_number: COMPANY.into(),
                agent: Some("agent-7".into()),
                queue: Some(call.queue.into()),
                started_at: call.started_at,
                ended_at: call.started_at + chrono::Duration::seconds(i64::from(call.seconds)),
                tags: vec![],
                agent_channel: Some(Channel::Left),
                customer_channel: Some(Channel::Right),
                attributes: Default::default(),
                notice_played: None,
                pauses: call.pauses,
            },
            audio: AudioInfo {
                codec: "wav/pcm_s16le".into(),
                sample_rate: crate::audio::RATE,
                channels: 2,
                duration_ms: u64::from(call.seconds) * 1000,
            },
            size: audio.len() as u64,
            sha256: "ab".repeat(32),
            key_ref: tenant.key_ref.clone(),
            ingested_at: call.started_at,
        };
        let body: ByteStream = futures_util::stream::iter(
            audio
                .chunks(8192)
                .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
                .collect::<Vec<_>>(),
        )
        .boxed();
        self.store
            .store(tenant.id, id, &KeyRef(tenant.key_ref.clone()), body)
            .await
            .expect("stored");
        let message = Message::new(&event).expect("message");
        self.consumer.handle(message).await.expect("catalogued");
        id
    }

    /// The recording's audio as stored.
    pub async fn audio(&self, tenant: TenantId, id: RecordingId) -> Vec<u8> {
        let stream = self.store.read(tenant, id, None).await.expect("read");
        let chunks: Vec<Bytes> = stream.body.try_collect().await.expect("body");
        chunks.concat()
    }

    /// An access request for the subject, received now.
    pub async fn request(
        &self,
        tenant: &Tenant,
        kind: RequestKind,
        regime: Regime,
    ) -> DisclosureRequest {
        self.rpc
            .call(CreateDisclosureRequest {
                actor: officer(tenant.id),
                tenant: tenant.id,
                request: new_request(kind, regime, self.now()),
            })
            .await
            .expect("request created")
    }
}

pub struct Call {
    pub caller: &'static str,
    pub queue: &'static str,
    pub started_at: DateTime<Utc>,
    pub seconds: u32,
    pub seed: u8,
    pub pauses: Vec<PauseSpan>,
}

impl Call {
    pub fn from_subject(started_at: DateTime<Utc>) -> Self {
        Self {
            caller: SUBJECT,
            queue: "support",
            started_at,
            seconds: 3,
            seed: 1,
            pauses: Vec::new(),
        }
    }
}

pub fn new_request(kind: RequestKind, regime: Regime, at: DateTime<Utc>) -> NewDisclosureRequest {
    NewDisclosureRequest {
        kind,
        regime: Some(regime),
        received_at: at,
        channel: IntakeChannel::Email,
        requester: RequesterContact {
            name: "Hanako Yamada".into(),
            email: Some("hanako@example.jp".into()),
            phone: None,
            postal_address: None,
        },
        subject: SubjectIdentifiers {
            numbers: vec![SUBJECT.into()],
            from: None,
            to: None,
        },
        method: None,
    }
}

pub fn complete_notice() -> PrivacyNotice {
    let text = |en: &str, ja: &str| Bilingual {
        en: en.into(),
        ja: ja.into(),
    };
    PrivacyNotice {
        purposes: text("Quality and dispute resolution", "品質向上と紛争解決"),
        categories: text("Call audio and call records", "通話音声と通話記録"),
        recipients: text("Our contact-center operator", "委託先コールセンター"),
        retention: text("One year", "1年間"),
        source: text("Recorded during your calls", "お客様との通話を録音"),
        rights: text("Access, erasure, restriction", "開示、消去、利用停止"),
    }
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

pub fn member(role: Role, tenant: TenantId, name: &str) -> Actor {
    Actor {
        subject: format!("{name}@{tenant}"),
        role,
        bpo_id: None,
        tenant_id: Some(tenant),
        agent_id: (role == Role::Agent).then(|| "agent-7".to_owned()),
        origin: Some("192.0.2.10".into()),
    }
}

/// The compliance officer who prepares reviews.
pub fn officer(tenant: TenantId) -> Actor {
    member(Role::ComplianceOfficer, tenant, "officer")
}

/// A second compliance officer: the four eyes.
pub fn approver(tenant: TenantId) -> Actor {
    member(Role::ComplianceOfficer, tenant, "approver")
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

pub fn code<T: std::fmt::Debug>(result: ApiResult<T>) -> ErrorCode {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => err.code,
    }
}
