//! [`DisclosureService`]: the disclosure operations over the disclosure
//! database, with the permission checks inside every method. Each module
//! serves its own operations ([`DisclosureService::router`]).

mod audit;
mod bundles;
mod delivery;
mod intake;
mod register;
mod review;
mod settings;
mod steps;
mod store;
mod timer;

use std::sync::Arc;

use callvault_bus::{Router, RpcClient};
use callvault_contracts::disclosure_api::DisclosureRequest;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, Tenant};
use callvault_contracts::ops::subject::GetSubjectTenant;
use callvault_contracts::permissions::{Permission, Target, allows};
use callvault_contracts::{Actor, Role, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::bundle_job::BundleBuilder;
use crate::sealing::Sealing;

pub use timer::TimerReport;

/// What time it is: tests move it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Clone)]
pub struct DisclosureService {
    db: DatabaseConnection,
    /// The metadata service: tenants, the subject's recordings, the audit
    /// chain, signatures.
    metadata: RpcClient,
    sealing: Sealing,
    clock: Clock,
    /// Builds export bundles; access requests can't be approved without.
    bundles: Option<Arc<BundleBuilder>>,
}

impl DisclosureService {
    /// Expects a database [`crate::connect`] has migrated.
    pub fn new(
        db: DatabaseConnection,
        metadata: RpcClient,
        keys: Arc<dyn callvault_keys::KeyProvider>,
    ) -> Self {
        Self {
            db,
            metadata,
            sealing: Sealing::new(keys),
            clock: Arc::new(Utc::now),
            bundles: None,
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_bundles(mut self, bundles: Arc<BundleBuilder>) -> Self {
        self.bundles = Some(bundles);
        self
    }

    /// Every operation the disclosure service serves.
    pub fn router(self: &Arc<Self>) -> Router {
        let mut router = Router::new();
        settings::routes(&mut router, self);
        intake::routes(&mut router, self);
        steps::routes(&mut router, self);
        delivery::routes(&mut router, self);
        review::routes(&mut router, self);
        bundles::routes(&mut router, self);
        register::routes(&mut router, self);
        router
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Checks `actor` may use `permission` on `tenant` and answers the
    /// tenant (its time zone and key). A tenant role elsewhere is refused
    /// before the tenant is looked up, so a refusal tells nothing about
    /// another tenant.
    async fn authorize(
        &self,
        actor: &Actor,
        permission: Permission,
        tenant: TenantId,
    ) -> ApiResult<Tenant> {
        let outcome = self.authorize_inner(actor, permission, tenant).await;
        if let Err(err) = &outcome {
            tracing::info!(
                role = actor.role.as_str(),
                tenant_id = %tenant,
                ?permission,
                code = err.code.as_str(),
                "disclosure access refused"
            );
        }
        outcome
    }

    async fn authorize_inner(
        &self,
        actor: &Actor,
        permission: Permission,
        tenant: TenantId,
    ) -> ApiResult<Tenant> {
        let unlooked = Target::Tenant { tenant, bpo: None };
        if actor.role != Role::BpoAdmin && !allows(actor, permission, unlooked) {
            return Err(ApiError::forbidden());
        }
        let row = self.metadata.call(GetSubjectTenant { tenant }).await?;
        let looked = Target::Tenant {
            tenant,
            bpo: Some(row.bpo_id),
        };
        if !allows(actor, permission, looked) {
            return Err(ApiError::forbidden());
        }
        Ok(row)
    }

    /// One request of the tenant, as the caller sees it.
    async fn reply(&self, tenant: &Tenant, id: uuid::Uuid) -> ApiResult<DisclosureRequest> {
        let (row, doc) = store::load(&self.db, tenant.id, id).await?;
        self.to_contract(tenant, &row, &doc).await
    }
}

fn bad_input(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidInput, message)
}

fn required_reason(reason: &str) -> ApiResult<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(bad_input("a reason is required"));
    }
    if reason.chars().count() > 2000 {
        return Err(bad_input("the reason is longer than 2000 characters"));
    }
    Ok(reason.to_owned())
}
