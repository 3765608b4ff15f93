//! [`WebhooksService`]: endpoints, their secrets and delivery log over the
//! webhooks database, with the permission checks inside every operation;
//! the intake of events into deliveries; the delivery worker.

mod deliveries;
mod endpoints;
mod intake;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callvault_bus::{Router, RpcClient};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::tenancy::TenantDirectory;
use callvault_contracts::permissions::{Permission, Target, allows};
use callvault_contracts::{Actor, Role, TenantId};
use sea_orm::DatabaseConnection;
use tokio::sync::Semaphore;

use crate::address::AddressPolicy;
use crate::secret::SecretSeal;
use crate::sender::Sender;

pub use worker::PassReport;

/// How deliveries are made.
#[derive(Clone, Debug)]
pub struct DeliveryOptions {
    /// The wait after each failed attempt; once they are used up the
    /// delivery has failed. The default spans about three days.
    pub schedule: Vec<Duration>,
    /// Each wait is moved by up to this share of it, either way, so the
    /// retries of many deliveries that failed together spread out.
    pub jitter: f64,
    /// Attempts in flight at once to one endpoint.
    pub per_endpoint_concurrency: usize,
    /// The whole attempt, connection to last byte read.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The most of a response body read (the rest is dropped).
    pub max_response_bytes: usize,
    /// How long the secret a rotation replaces still signs.
    pub rotation_overlap: Duration,
}

/// 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h six times and 5 h: 13 attempts
/// over about three days (72 h 35 min before jitter).
pub const DEFAULT_SCHEDULE: [u64; 12] = [
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    10 * 3600,
    10 * 3600,
    10 * 3600,
    10 * 3600,
    10 * 3600,
    5 * 3600,
];

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            schedule: DEFAULT_SCHEDULE
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            jitter: 0.2,
            per_endpoint_concurrency: 4,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_response_bytes: 64 * 1024,
            rotation_overlap: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Clone)]
pub struct WebhooksService {
    db: DatabaseConnection,
    /// The metadata service: which BPO a tenant is in.
    metadata: RpcClient,
    seal: SecretSeal,
    policy: Arc<AddressPolicy>,
    sender: Sender,
    options: DeliveryOptions,
    /// One semaphore per endpoint: its concurrency limit in this process.
    slots: Arc<Mutex<HashMap<uuid::Uuid, Arc<Semaphore>>>>,
    /// Wakes the worker when an event made deliveries.
    wakeup: Arc<tokio::sync::Notify>,
}

impl WebhooksService {
    /// Expects a database [`crate::connect`] has migrated.
    pub fn new(
        db: DatabaseConnection,
        rpc: RpcClient,
        seal: SecretSeal,
        policy: AddressPolicy,
        options: DeliveryOptions,
    ) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let sender = Sender::new(policy.clone(), &options)?;
        Ok(Self {
            db,
            metadata: rpc,
            seal,
            policy,
            sender,
            options,
            slots: Arc::new(Mutex::new(HashMap::new())),
            wakeup: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Asks the worker for a pass now.
    pub fn wake(&self) {
        self.wakeup.notify_one();
    }

    /// Runs a pass whenever [`Self::wake`] is called, until the service is
    /// dropped.
    pub fn spawn_waker(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let wakeup = self.wakeup.clone();
        tokio::spawn(async move {
            loop {
                wakeup.notified().await;
                let Some(service) = weak.upgrade() else {
                    return;
                };
                service.deliver_due().await;
            }
        });
    }

    /// Every operation the service serves.
    pub fn router(self: &Arc<Self>) -> Router {
        let mut router = Router::new();
        endpoints::routes(&mut router, self);
        deliveries::routes(&mut router, self);
        router
    }

    /// Checks `actor` may manage `tenant`'s webhooks. A tenant role
    /// elsewhere is refused before the tenant is looked up; a BPO admin's
    /// tenant is looked up to find its BPO.
    async fn authorize(&self, actor: &Actor, tenant: TenantId) -> ApiResult<()> {
        let permission = Permission::ManageWebhooks;
        let unlooked = Target::Tenant { tenant, bpo: None };
        if allows(actor, permission, unlooked) {
            return Ok(());
        }
        if actor.role != Role::BpoAdmin {
            return Err(refused(actor));
        }
        let found = self
            .metadata
            .call(TenantDirectory {
                bpo: None,
                tenant: Some(tenant),
            })
            .await?;
        let Some(found) = found.into_iter().next() else {
            return Err(refused(actor));
        };
        let looked = Target::Tenant {
            tenant,
            bpo: Some(found.bpo_id),
        };
        if allows(actor, permission, looked) {
            Ok(())
        } else {
            Err(refused(actor))
        }
    }

    /// Refuses, before anything is looked up, an actor whose role never
    /// manages webhooks.
    fn may_manage_some(&self, actor: &Actor) -> ApiResult<()> {
        use callvault_contracts::permissions::{Reach, reach};
        if reach(actor.role, Permission::ManageWebhooks) == Reach::Nowhere {
            return Err(refused(actor));
        }
        Ok(())
    }
}

fn refused(actor: &Actor) -> ApiError {
    tracing::info!(role = actor.role.as_str(), "webhooks access refused");
    ApiError::forbidden()
}

fn endpoint_not_found() -> ApiError {
    ApiError::not_found("webhook endpoint")
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}
