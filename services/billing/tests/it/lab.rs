//! The billing service with a REAL metadata service (its own database on
//! the same backend) on one in-process bus, one clock the test moves, and
//! helpers that make the events the other services publish.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use callvault_billing::BillingService;
use callvault_bus::RpcClient;
use callvault_bus::in_process::InProcessBus;
use callvault_contracts::billing_api::{
    BillingProfile, Charge, ChargeModel, ChargeUnit, Currency, Dec, Meter, NewPlan, Party, Plan,
    PlanLevel, RoundingMode, Tier,
};
use callvault_contracts::call::{AudioInfo, CallMetadata, Direction};
use callvault_contracts::disclosure_api::{Regime, RequestKind, RequestState};
use callvault_contracts::events::{
    DisclosureDeliveredV1, DisclosureRequestV1, Message, RecordingIngestedV1, RecordingShreddedV1,
    RecordingStoredV1, UserActiveV1,
};
use callvault_contracts::metadata_api::{
    ApiError, ApiResult, ErrorCode, KeyMode, NewTenant, TenantKeys,
};
use callvault_contracts::ops::billing::{CreatePlan, SetBillingProfile};
use callvault_contracts::ops::tenancy::{CreateBpo, OnboardTenant};
use callvault_contracts::rpc::Rpc;
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId};
use callvault_keys::{KeyProvider, KeyRef, local::LocalKeyring};
use callvault_metadata::{CatalogueKeys, MetadataService, PiiKeys};
use callvault_testkit::PgTestDatabase;
use chrono::{DateTime, TimeZone, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

const PII_SECRET: [u8; 32] = [0x11; 32];

pub struct Lab {
    pub rpc: RpcClient,
    pub billing: Arc<BillingService>,
    pub billing_db: DatabaseConnection,
    pub bpo: BpoId,
    /// A tenant of `bpo` in Asia/Tokyo.
    pub tokyo: TenantId,
    /// Another tenant of `bpo`, in Europe/Berlin.
    pub berlin: TenantId,
    /// Another BPO and its tenant.
    pub other_bpo: BpoId,
    pub other_tenant: TenantId,
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

pub fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .expect("a valid time")
}

pub fn actor(role: Role, bpo: Option<BpoId>, tenant: Option<TenantId>) -> Actor {
    Actor {
        subject: format!("{}-user", role.as_str()),
        role,
        bpo_id: bpo,
        tenant_id: tenant,
        agent_id: None,
        origin: None,
    }
}

pub fn platform() -> Actor {
    actor(Role::PlatformAdmin, None, None)
}

pub fn dec(text: &str) -> Dec {
    text.parse().expect("a decimal")
}

impl Lab {
    pub async fn on_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = format!("sqlite://{}", dir.path().join("metadata.db").display());
        let billing = format!("sqlite://{}", dir.path().join("billing.db").display());
        Self::new(dir, &metadata, &billing, Vec::new()).await
    }

    pub async fn on_postgres() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = PgTestDatabase::create().await;
        let billing = PgTestDatabase::create().await;
        let (m, b) = (metadata.url.clone(), billing.url.clone());
        Self::new(dir, &m, &b, vec![metadata, billing]).await
    }

    pub async fn drop_databases(self) {
        for db in self.pg {
            db.drop_database().await;
        }
    }

    async fn new(
        dir: tempfile::TempDir,
        metadata_url: &str,
        billing_url: &str,
        pg: Vec<PgTestDatabase>,
    ) -> Self {
        let keyring =
            Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
        let bus = Arc::new(InProcessBus::new());
        let rpc = RpcClient::new(bus.clone(), Duration::from_secs(30));
        let clock = Arc::new(Mutex::new(at(2026, 11, 20, 0, 0, 0)));
        let clock_fn = {
            let clock = clock.clone();
            Arc::new(move || *clock.lock().expect("clock"))
        };
        let metadata_db = callvault_metadata::connect(metadata_url, &PiiKeys::new(PII_SECRET))
            .await
            .expect("metadata database");
        let catalogue = CatalogueKeys::new(keyring.clone() as Arc<dyn KeyProvider>);
        let metadata = Arc::new(MetadataService::new(
            metadata_db,
            Arc::new(KeyringTenantKeys(keyring.clone())),
            catalogue,
        ));
        metadata
            .router()
            .serve(bus.as_ref())
            .await
            .expect("serve metadata");
        let billing_db = callvault_billing::connect(billing_url)
            .await
            .expect("billing database");
        let billing =
            Arc::new(BillingService::new(billing_db.clone(), rpc.clone()).with_clock(clock_fn));
        billing
            .router()
            .serve(bus.as_ref())
            .await
            .expect("serve billing");

        let bpo = rpc
            .call(CreateBpo {
                actor: platform(),
                name: "Tokyo BPO".into(),
            })
            .await
            .expect("bpo")
            .id;
        let other_bpo = rpc
            .call(CreateBpo {
                actor: platform(),
                name: "Other BPO".into(),
            })
            .await
            .expect("other bpo")
            .id;
        let onboard = |bpo: BpoId, name: &str, zone: &str| {
            let rpc = rpc.clone();
            let (name, zone) = (name.to_owned(), zone.to_owned());
            async move {
                rpc.call(OnboardTenant {
                    actor: platform(),
                    input: NewTenant {
                        bpo_id: bpo,
                        name,
                        time_zone: zone,
                        default_retention_days: 365,
                        key_mode: KeyMode::Managed,
                        default_region: None,
                    },
                })
                .await
                .expect("tenant")
                .id
            }
        };
        let tokyo = onboard(bpo, "Tokyo Insurance", "Asia/Tokyo").await;
        let berlin = onboard(bpo, "Berlin Bank", "Europe/Berlin").await;
        let other_tenant = onboard(other_bpo, "Elsewhere", "Asia/Tokyo").await;
        Self {
            rpc,
            billing,
            billing_db,
            bpo,
            tokyo,
            berlin,
            other_bpo,
            other_tenant,
            clock,
            pg,
            _dir: dir,
        }
    }

    pub fn set_now(&self, now: DateTime<Utc>) {
        *self.clock.lock().expect("clock") = now;
    }

    pub async fn call<R: Rpc>(&self, request: R) -> ApiResult<R::Reply> {
        self.rpc.call(request).await
    }

    pub fn bpo_admin(&self) -> Actor {
        actor(Role::BpoAdmin, Some(self.bpo), None)
    }

    pub fn tenant_admin(&self, tenant: TenantId) -> Actor {
        actor(Role::TenantAdmin, Some(self.bpo), Some(tenant))
    }

    /// Counts messages as the bus consumer would.
    pub async fn send(&self, messages: &[Message]) {
        self.billing.record(messages).await.expect("intake");
    }

    /// The issuer profiles invoices need before they can be finalized.
    pub async fn profiles(&self, rounding: RoundingMode) {
        for (party, actor, name) in [
            (Party::Bpo(self.bpo), self.bpo_admin(), "Tokyo BPO K.K."),
            (Party::Platform, platform(), "callvault Inc."),
        ] {
            self.call(SetBillingProfile {
                actor,
                party,
                profile: BillingProfile {
                    legal_name: name.into(),
                    address: "1-1 Marunouchi, Chiyoda-ku, Tokyo".into(),
                    registration_number: Some("T1234567890123".into()),
                    invoice_prefix: "INV".into(),
                    rounding,
                },
            })
            .await
            .expect("profile");
        }
    }

    pub async fn retail_plan(&self, terms: NewPlan) -> Plan {
        self.call(CreatePlan {
            actor: self.bpo_admin(),
            level: PlanLevel::Retail,
            bpo: Some(self.bpo),
            plan: terms,
        })
        .await
        .expect("retail plan")
    }

    pub async fn wholesale_plan(&self, terms: NewPlan) -> Plan {
        self.call(CreatePlan {
            actor: platform(),
            level: PlanLevel::Wholesale,
            bpo: None,
            plan: terms,
        })
        .await
        .expect("wholesale plan")
    }
}

/// The retail plan: first 1,000 minutes free, ¥2 a minute to
/// 10,000, ¥1.5 above; ¥3 per GB-month; ¥500 per delivered disclosure; 10 %.
pub fn jpy_retail() -> NewPlan {
    NewPlan {
        name: "Standard".into(),
        currency: Currency::Jpy,
        base_fee: 10_000,
        tax_rate: dec("10"),
        charges: vec![
            Charge {
                meter: Meter::IngestedSeconds,
                unit: ChargeUnit::Minute,
                included: dec("0"),
                model: ChargeModel::Graduated {
                    tiers: vec![
                        Tier {
                            up_to: Some(dec("1000")),
                            unit_price: dec("0"),
                        },
                        Tier {
                            up_to: Some(dec("10000")),
                            unit_price: dec("2"),
                        },
                        Tier {
                            up_to: None,
                            unit_price: dec("1.5"),
                        },
                    ],
                },
                tax_rate: None,
            },
            Charge {
                meter: Meter::StorageGbMonths,
                unit: ChargeUnit::GbMonth,
                included: dec("0"),
                model: ChargeModel::PerUnit {
                    unit_price: dec("3"),
                },
                tax_rate: None,
            },
            Charge {
                meter: Meter::DisclosuresDelivered,
                unit: ChargeUnit::Request,
                included: dec("0"),
                model: ChargeModel::PerUnit {
                    unit_price: dec("500"),
                },
                tax_rate: None,
            },
        ],
    }
}

fn call_metadata(at: DateTime<Utc>) -> CallMetadata {
    CallMetadata {
        external_call_id: "call-1".into(),
        segment: 0,
        direction: Direction::Inbound,
        caller_number: "+81312345678".into(),
        callee_number: "+81399990000".into(),
        agent: Some("agent-7".into()),
        queue: Some("claims".into()),
        started_at: at,
        ended_at: at,
        tags: Vec::new(),
        agent_channel: None,
        customer_channel: None,
        attributes: Default::default(),
        notice_played: None,
        pauses: Vec::new(),
    }
}

/// `recording.ingested` for a recording of `duration_ms`.
pub fn ingested(tenant: TenantId, recording: Uuid, duration_ms: u64, at: DateTime<Utc>) -> Message {
    Message::new(&RecordingIngestedV1 {
        tenant_id: tenant,
        recording_id: RecordingId(recording),
        call: call_metadata(at),
        audio: AudioInfo {
            codec: "wav/pcm_s16le".into(),
            sample_rate: 8000,
            channels: 1,
            duration_ms,
        },
        size: 1,
        sha256: "00".into(),
        key_ref: "key".into(),
        ingested_at: at,
    })
    .expect("message")
}

pub fn stored(tenant: TenantId, recording: Uuid, size: u64, at: DateTime<Utc>) -> Message {
    Message::new(&RecordingStoredV1 {
        tenant_id: tenant,
        recording_id: RecordingId(recording),
        size,
        stored_at: at,
    })
    .expect("message")
}

pub fn shredded(
    tenant: TenantId,
    recording: Uuid,
    size: u64,
    stored_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Message {
    Message::new(&RecordingShreddedV1 {
        tenant_id: tenant,
        recording_id: RecordingId(recording),
        size,
        stored_at,
        shredded_at: at,
    })
    .expect("message")
}

pub fn delivered(tenant: TenantId, request: Uuid, at: DateTime<Utc>) -> Message {
    Message::new(&DisclosureDeliveredV1(DisclosureRequestV1 {
        tenant_id: tenant,
        request_id: request,
        kind: RequestKind::Access,
        regime: Regime::Appi,
        state: RequestState::Delivered,
        received_at: at,
        due_date: at.date_naive(),
        at,
    }))
    .expect("message")
}

pub fn active(tenant: TenantId, user: &str, at: DateTime<Utc>) -> Message {
    Message::new(&UserActiveV1 {
        tenant_id: tenant,
        user: user.into(),
        active_at: at,
    })
    .expect("message")
}
