//! The webhooks service with a REAL metadata service (its own database on
//! the same backend) on one in-process bus, the webhooks consumer
//! subscribed and the outbox relayed, as in the binary; tenants to play
//! with; retries in milliseconds instead of hours.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::outbox::{OutboxRelay, RelayHandle};
use callvault_bus::{Bus, RpcClient};
use callvault_contracts::events::{Event, Message, RecordingStoredV1};
use callvault_contracts::metadata_api::{
    ApiError, ApiResult, ErrorCode, KeyMode, NewTenant, TenantKeys,
};
use callvault_contracts::ops::tenancy::{CreateBpo, OnboardTenant};
use callvault_contracts::ops::webhooks::{CreateWebhookEndpoint, ListWebhookDeliveries};
use callvault_contracts::rpc::Rpc;
use callvault_contracts::webhooks_api::{
    NewWebhookEndpoint, WebhookDelivery, WebhookEndpointWithSecret,
};
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId};
use callvault_keys::{KeyProvider, KeyRef, local::LocalKeyring};
use callvault_metadata::{CatalogueKeys, MetadataService, PiiKeys};
use callvault_testkit::PgTestDatabase;
use callvault_webhooks::address::AddressPolicy;
use callvault_webhooks::secret::SecretSeal;
use callvault_webhooks::{DeliveryOptions, WebhooksService};
use chrono::Utc;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

const PII_SECRET: [u8; 32] = [0x11; 32];
pub const SEAL_ROOT: [u8; 32] = [0x22; 32];

pub struct Lab {
    pub rpc: RpcClient,
    pub bus: Arc<InProcessBus>,
    pub webhooks: Arc<WebhooksService>,
    pub db: DatabaseConnection,
    pub bpo: BpoId,
    pub tenant: TenantId,
    /// Another tenant of `bpo`.
    pub sibling: TenantId,
    pub other_bpo: BpoId,
    pub other_tenant: TenantId,
    relay: Option<RelayHandle>,
    pg: Vec<PgTestDatabase>,
    _dir: tempfile::TempDir,
}

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

/// Retries at once, three of them: a delivery fails for good on its
/// fourth failed attempt.
pub fn fast_options() -> DeliveryOptions {
    DeliveryOptions {
        schedule: vec![Duration::ZERO; 3],
        jitter: 0.0,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        ..DeliveryOptions::default()
    }
}

/// What the tests allow: the receiver on loopback, IPv4 only.
pub fn test_policy() -> AddressPolicy {
    AddressPolicy::new(&["127.0.0.1".to_owned()]).expect("policy")
}

impl Lab {
    pub async fn on_sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = format!("sqlite://{}", dir.path().join("metadata.db").display());
        let webhooks = format!("sqlite://{}", dir.path().join("webhooks.db").display());
        Self::new(dir, &metadata, &webhooks, Vec::new()).await
    }

    pub async fn on_postgres() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let metadata = PgTestDatabase::create().await;
        let webhooks = PgTestDatabase::create().await;
        let (m, w) = (metadata.url.clone(), webhooks.url.clone());
        Self::new(dir, &m, &w, vec![metadata, webhooks]).await
    }

    pub async fn drop_databases(mut self) {
        if let Some(relay) = self.relay.take() {
            relay.shutdown().await;
        }
        self.db.clone().close().await.expect("close");
        for db in std::mem::take(&mut self.pg) {
            db.drop_database().await;
        }
    }

    async fn new(
        dir: tempfile::TempDir,
        metadata_url: &str,
        webhooks_url: &str,
        pg: Vec<PgTestDatabase>,
    ) -> Self {
        let keyring =
            Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
        let bus = Arc::new(InProcessBus::new());
        let rpc = RpcClient::new(bus.clone(), Duration::from_secs(30));
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
        let db = callvault_webhooks::connect(webhooks_url)
            .await
            .expect("webhooks database");
        let webhooks = Arc::new(
            WebhooksService::new(
                db.clone(),
                rpc.clone(),
                SecretSeal::derive(&SEAL_ROOT),
                test_policy(),
                fast_options(),
            )
            .expect("webhooks service"),
        );
        webhooks
            .router()
            .serve(bus.as_ref())
            .await
            .expect("serve webhooks");
        bus.subscribe(
            callvault_webhooks::CONSUMER,
            &callvault_webhooks::TOPICS,
            callvault_webhooks::consumer(webhooks.clone()),
        )
        .await
        .expect("subscribe");
        let relay = OutboxRelay::new(db.clone(), bus.clone() as Arc<dyn Bus>)
            .with_poll_interval(Duration::from_millis(50))
            .spawn();

        let create_bpo = |name: &str| {
            let rpc = rpc.clone();
            let name = name.to_owned();
            async move {
                rpc.call(CreateBpo {
                    actor: platform(),
                    name,
                })
                .await
                .expect("bpo")
                .id
            }
        };
        let bpo = create_bpo("Tokyo BPO").await;
        let other_bpo = create_bpo("Other BPO").await;
        let onboard = |bpo: BpoId, name: &str| {
            let rpc = rpc.clone();
            let name = name.to_owned();
            async move {
                rpc.call(OnboardTenant {
                    actor: platform(),
                    input: NewTenant {
                        bpo_id: bpo,
                        name,
                        time_zone: "Asia/Tokyo".into(),
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
        let tenant = onboard(bpo, "Tokyo Insurance").await;
        let sibling = onboard(bpo, "Osaka Bank").await;
        let other_tenant = onboard(other_bpo, "Elsewhere").await;
        Self {
            rpc,
            bus,
            webhooks,
            db,
            bpo,
            tenant,
            sibling,
            other_bpo,
            other_tenant,
            relay: Some(relay),
            pg,
            _dir: dir,
        }
    }

    pub async fn call<R: Rpc>(&self, request: R) -> ApiResult<R::Reply> {
        self.rpc.call(request).await
    }

    pub fn admin(&self) -> Actor {
        actor(Role::TenantAdmin, Some(self.bpo), Some(self.tenant))
    }

    pub fn bpo_admin(&self) -> Actor {
        actor(Role::BpoAdmin, Some(self.bpo), None)
    }

    /// An endpoint of the lab's tenant, subscribed to `types`.
    pub async fn subscribe(&self, url: &str, types: &[&str]) -> WebhookEndpointWithSecret {
        self.call(CreateWebhookEndpoint {
            actor: self.admin(),
            tenant: self.tenant,
            endpoint: NewWebhookEndpoint {
                url: url.to_owned(),
                event_types: types.iter().map(|t| (*t).to_owned()).collect(),
                description: "the test receiver".into(),
            },
        })
        .await
        .expect("endpoint created")
    }

    /// Publishes `recording.stored` for the lab's tenant, as storage
    /// would.
    pub async fn recording_stored(&self) -> Message {
        let message = stored(self.tenant);
        self.bus.publish(&message).await.expect("publish");
        message
    }

    pub async fn deliveries(&self, endpoint: Uuid) -> Vec<WebhookDelivery> {
        self.call(ListWebhookDeliveries {
            actor: self.admin(),
            endpoint_id: endpoint,
            status: None,
            limit: None,
        })
        .await
        .expect("delivery log")
    }

    /// Runs worker passes until `done` holds (or fails after 10 s).
    pub async fn deliver_until<F: Fn(&[WebhookDelivery]) -> bool>(
        &self,
        endpoint: Uuid,
        done: F,
    ) -> Vec<WebhookDelivery> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            self.webhooks.deliver_due().await;
            let log = self.deliveries(endpoint).await;
            if done(&log) {
                return log;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries never got there: {log:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn stored(tenant: TenantId) -> Message {
    let event = RecordingStoredV1 {
        tenant_id: tenant,
        recording_id: RecordingId(Uuid::new_v4()),
        size: 4096,
        stored_at: Utc::now(),
    };
    let message = Message::new(&event).expect("message");
    assert_eq!(message.topic, RecordingStoredV1::TOPIC);
    message
}
