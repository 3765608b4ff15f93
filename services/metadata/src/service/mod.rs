//! [`MetadataService`]: the metadata operations over the metadata database,
//! with the permission checks of [`crate::authz`] inside every method. Each
//! module serves its own operations ([`MetadataService::router`]).

mod api_keys;
mod audit_api;
mod catalogue;
mod deletion;
mod deletion_certificates;
mod disclosure_evidence;
mod erasure;
mod holds;
mod key_change;
mod offboarding;
mod recording_policy;
mod restriction;
mod retention;
mod subject;
mod tenancy;
mod tenant_export;

use std::sync::Arc;

use callvault_bus::{Router, RpcClient};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, TenantKeys};
use callvault_contracts::{Actor, BpoId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::authz::{self, RecordingScope};
use crate::catalogue_keys::CatalogueKeys;
use crate::db::internal;
use crate::manifest::ManifestKeys;
use crate::store;
use callvault_contracts::permissions::Permission;

/// What time it is, for retention and deletion: tests and drills move it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct MetadataService {
    db: DatabaseConnection,
    keys: Arc<dyn TenantKeys>,
    pii: CatalogueKeys,
    /// The storage service, which shreds; deletions are `Unavailable`
    /// without.
    storage: Option<RpcClient>,
    clock: Clock,
    /// Signs the daily manifests; they are `Unavailable` without.
    manifest: Option<ManifestKeys>,
}

impl MetadataService {
    /// Expects a database [`crate::connect`] has migrated. `keys` is the
    /// storage service's key provider (a tenant's master key is created at
    /// onboarding); `pii` protects phone numbers at rest, through the same
    /// provider.
    pub fn new(db: DatabaseConnection, keys: Arc<dyn TenantKeys>, pii: CatalogueKeys) -> Self {
        Self {
            db,
            keys,
            pii,
            storage: None,
            clock: Arc::new(Utc::now),
            manifest: None,
        }
    }

    /// Deletion (retention, user deletes, erasure) shreds through the
    /// storage service this client reaches.
    pub fn with_storage(mut self, storage: RpcClient) -> Self {
        self.storage = Some(storage);
        self
    }

    /// The daily manifests are signed with keys derived from these.
    pub fn with_manifest_keys(mut self, keys: ManifestKeys) -> Self {
        self.manifest = Some(keys);
        self
    }

    /// Replaces the wall clock (tests, and drills that move time forward).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Every operation the metadata service serves, each module adding its
    /// own.
    pub fn router(self: &Arc<Self>) -> Router {
        let mut router = Router::new();
        tenancy::routes(&mut router, self);
        api_keys::routes(&mut router, self);
        catalogue::routes(&mut router, self);
        retention::routes(&mut router, self);
        holds::routes(&mut router, self);
        deletion::routes(&mut router, self);
        audit_api::routes(&mut router, self);
        key_change::routes(&mut router, self);
        offboarding::routes(&mut router, self);
        recording_policy::routes(&mut router, self);
        subject::routes(&mut router, self);
        router
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Loads the tenant (if any) and checks `actor` may do `action` in it.
    async fn authorize_tenant(
        &self,
        actor: &Actor,
        action: Permission,
        tenant: TenantId,
    ) -> ApiResult<RecordingScope> {
        self.authorize_tenant_row(actor, action, tenant)
            .await
            .map(|(scope, _)| scope)
    }

    /// [`Self::authorize_tenant`], also handing back the tenant row it read
    /// (for callers that need its settings: one read, not two).
    async fn authorize_tenant_row(
        &self,
        actor: &Actor,
        action: Permission,
        tenant: TenantId,
    ) -> ApiResult<(RecordingScope, Option<crate::db::entity::tenant::Model>)> {
        let row = store::tenancy::get_tenant(&self.db, tenant)
            .await
            .map_err(internal)?;
        let bpo = row.as_ref().map(|row| BpoId(row.bpo_id));
        let mut outcome = authz::tenant(actor, action, tenant, bpo).map(|scope| (scope, row));
        if outcome.is_ok() {
            // An offboarded (or offboarding) tenant is frozen.
            if let Err(err) = self.refuse_if_frozen(tenant, action).await {
                outcome = Err(err);
            }
        }
        if let Err(err) = &outcome {
            // Not the subject: in embedded mode it is an email address.
            tracing::info!(
                role = actor.role.as_str(),
                tenant_id = %tenant,
                ?action,
                code = err.code.as_str(),
                "tenant access refused"
            );
        }
        outcome
    }
}

/// A row value the domain can't represent (a corrupted or hand-edited row):
/// the caller gets a plain internal error, the log names the field.
fn corrupt(field: &'static str) -> ApiError {
    tracing::error!(field, "metadata row holds a value out of range");
    ApiError::new(
        callvault_contracts::metadata_api::ErrorCode::Internal,
        "internal error",
    )
}

/// Enqueues `event` in the outbox of the transaction that makes it true
/// (webhooks tell the tenant's systems).
pub(crate) async fn publish<E: callvault_contracts::events::Event + serde::Serialize>(
    txn: &sea_orm::DatabaseTransaction,
    event: &E,
) -> ApiResult<()> {
    let message = callvault_bus::Message::new(event).map_err(|err| {
        tracing::error!(error = %err, topic = E::TOPIC, "encoding an event failed");
        ApiError::new(ErrorCode::Internal, "internal error")
    })?;
    callvault_bus::outbox::enqueue(txn, &message)
        .await
        .map_err(internal)
}
