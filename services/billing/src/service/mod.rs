//! [`BillingService`]: the billing operations over the billing database,
//! with the permission checks inside every method. Each module serves its
//! own operations ([`BillingService::router`]).

mod accounts;
mod invoices;
mod plans;
mod profiles;
mod reconcile;
mod statement;
mod timer;
mod usage;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use callvault_bus::{Message, Router, RpcClient};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, Tenant};
use callvault_contracts::ops::tenancy::TenantDirectory;
use callvault_contracts::permissions::{Permission, Target, allows};
use callvault_contracts::{Actor, BpoId, Role, TenantId};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::DatabaseConnection;

use crate::intake::{self, IntakeReport};
use crate::metrics::Metrics;

pub use timer::TimerReport;

/// What time it is: tests move it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How long after a period ends its draft still takes late events.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(72 * 3600);

#[derive(Clone)]
pub struct BillingService {
    db: DatabaseConnection,
    /// The metadata service: the tenant directory.
    metadata: RpcClient,
    /// The storage service: its own records, for the reconciliation.
    storage: RpcClient,
    clock: Clock,
    grace: chrono::Duration,
    metrics: Metrics,
    /// How PDF invoices are rendered (the Japanese font).
    render: Arc<crate::render::pdf::RenderOptions>,
    /// The last UTC day the storage reconciliation ran for.
    last_reconciled: Arc<Mutex<Option<NaiveDate>>>,
}

impl BillingService {
    /// Expects a database [`crate::connect`] has migrated. `rpc` reaches
    /// the metadata and storage services.
    pub fn new(db: DatabaseConnection, rpc: RpcClient) -> Self {
        Self {
            db,
            metadata: rpc.clone(),
            storage: rpc,
            clock: Arc::new(Utc::now),
            grace: chrono::Duration::from_std(DEFAULT_GRACE).unwrap_or(chrono::Duration::hours(72)),
            metrics: Metrics,
            render: Arc::new(crate::render::pdf::RenderOptions::default()),
            last_reconciled: Arc::new(Mutex::new(None)),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Prints PDF invoices in `font` (TrueType/OpenType with Japanese
    /// glyphs) instead of Helvetica.
    pub fn with_invoice_font(mut self, font: Option<Vec<u8>>) -> Self {
        self.render = Arc::new(crate::render::pdf::RenderOptions { cjk_font: font });
        self
    }

    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::hours(72));
        self
    }

    /// Every operation the billing service serves.
    pub fn router(self: &Arc<Self>) -> Router {
        let mut router = Router::new();
        profiles::routes(&mut router, self);
        plans::routes(&mut router, self);
        usage::routes(&mut router, self);
        invoices::routes(&mut router, self);
        statement::routes(&mut router, self);
        reconcile::routes(&mut router, self);
        router
    }

    /// Counts a batch of events in one transaction (the bus consumer sends
    /// what was waiting in its queue, up to its batch size; a bulk replay
    /// more).
    pub async fn record(&self, messages: &[Message]) -> ApiResult<IntakeReport> {
        let report = intake::record(&self.db, messages, self.now())
            .await
            .map_err(crate::db::internal)?;
        self.metrics.counted(&report);
        Ok(report)
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// One tenant from the metadata service's directory (offboarded ones
    /// included: their last months are still billed).
    async fn tenant(&self, tenant: TenantId) -> ApiResult<Tenant> {
        let found = self
            .metadata
            .call(TenantDirectory {
                bpo: None,
                tenant: Some(tenant),
            })
            .await?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found("tenant"))
    }

    /// A BPO's tenants.
    async fn tenants_of(&self, bpo: BpoId) -> ApiResult<Vec<Tenant>> {
        self.metadata
            .call(TenantDirectory {
                bpo: Some(bpo),
                tenant: None,
            })
            .await
    }

    /// Checks `actor` may use `permission` on `tenant` and answers the
    /// tenant. A tenant role elsewhere is refused before the tenant is
    /// looked up, so a refusal tells nothing about another tenant.
    async fn authorize_tenant(
        &self,
        actor: &Actor,
        permission: Permission,
        tenant: TenantId,
    ) -> ApiResult<Tenant> {
        let unlooked = Target::Tenant { tenant, bpo: None };
        if actor.role != Role::BpoAdmin && !allows(actor, permission, unlooked) {
            return Err(refused(actor, permission));
        }
        let found = match self.tenant(tenant).await {
            Ok(found) => found,
            // A BPO admin asking about an unknown tenant learns no more
            // than about another BPO's.
            Err(e) if e.code == ErrorCode::NotFound => return Err(refused(actor, permission)),
            Err(e) => return Err(e),
        };
        let looked = Target::Tenant {
            tenant,
            bpo: Some(found.bpo_id),
        };
        if !allows(actor, permission, looked) {
            return Err(refused(actor, permission));
        }
        Ok(found)
    }

    fn authorize_bpo(&self, actor: &Actor, permission: Permission, bpo: BpoId) -> ApiResult<()> {
        if allows(actor, permission, Target::Bpo(bpo)) {
            Ok(())
        } else {
            Err(refused(actor, permission))
        }
    }

    fn authorize_platform(&self, actor: &Actor, permission: Permission) -> ApiResult<()> {
        if allows(actor, permission, Target::Platform) {
            Ok(())
        } else {
            Err(refused(actor, permission))
        }
    }

    /// Reading a BPO's billing: its own admin, or the platform's.
    fn authorize_bpo_read(&self, actor: &Actor, bpo: BpoId) -> ApiResult<()> {
        if allows(actor, Permission::ReadBilling, Target::Bpo(bpo))
            || allows(actor, Permission::ManageWholesale, Target::Platform)
        {
            Ok(())
        } else {
            Err(refused(actor, Permission::ReadBilling))
        }
    }
}

fn refused(actor: &Actor, permission: Permission) -> ApiError {
    tracing::info!(
        role = actor.role.as_str(),
        ?permission,
        "billing access refused"
    );
    ApiError::forbidden()
}

fn bad_input(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message)
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}
