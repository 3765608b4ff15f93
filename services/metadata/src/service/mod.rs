//! [`MetadataService`]: the [`MetadataApi`] over the metadata database, with
//! the permission checks of [`crate::authz`] inside every method.

mod api_keys;
mod audit_api;
mod catalogue;
mod deletion;
mod holds;
mod key_change;
mod lifecycle;
mod retention;
mod tenancy;

use std::sync::Arc;

use async_trait::async_trait;
use callvault_contracts::lifecycle_api::RecordingShredder;
use callvault_contracts::metadata_api::{
    ApiError, ApiKey, ApiKeyGrant, ApiResult, Bpo, CreateUser, CreatedApiKey, MetadataApi,
    OnboardTenant, PageRequest, Recording, RecordingFilter, RecordingPage, Tenant, TenantKeys,
    User,
};
use callvault_contracts::{Actor, BpoId, RecordingId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::authz::{self, RecordingScope, TenantAction};
use crate::db::internal;
use crate::manifest::ManifestKeys;
use crate::pii::PiiKeys;
use crate::store;

/// What time it is, for retention and deletion: tests and drills move it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct MetadataService {
    db: DatabaseConnection,
    keys: Arc<dyn TenantKeys>,
    pii: PiiKeys,
    /// The storage service's shredding; deletions are `Unavailable` without.
    shredder: Option<Arc<dyn RecordingShredder>>,
    clock: Clock,
    /// Signs the daily manifests; they are `Unavailable` without.
    manifest: Option<ManifestKeys>,
}

impl MetadataService {
    /// Expects a database [`crate::connect`] has migrated. `keys` is the
    /// storage service's key provider (a tenant's master key is created at
    /// onboarding); `pii` protects phone numbers at rest.
    pub fn new(db: DatabaseConnection, keys: Arc<dyn TenantKeys>, pii: PiiKeys) -> Self {
        Self {
            db,
            keys,
            pii,
            shredder: None,
            clock: Arc::new(Utc::now),
            manifest: None,
        }
    }

    /// Deletion (retention, user deletes, erasure) shreds through this.
    pub fn with_shredder(mut self, shredder: Arc<dyn RecordingShredder>) -> Self {
        self.shredder = Some(shredder);
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

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Loads the tenant (if any) and checks `actor` may do `action` in it.
    async fn authorize_tenant(
        &self,
        actor: &Actor,
        action: TenantAction,
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
        action: TenantAction,
        tenant: TenantId,
    ) -> ApiResult<(RecordingScope, Option<crate::db::entity::tenant::Model>)> {
        let row = store::tenancy::get_tenant(&self.db, tenant)
            .await
            .map_err(internal)?;
        let bpo = row.as_ref().map(|row| BpoId(row.bpo_id));
        let outcome = authz::tenant(actor, action, tenant, bpo).map(|scope| (scope, row));
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

#[async_trait]
impl MetadataApi for MetadataService {
    async fn create_bpo(&self, actor: &Actor, name: String) -> ApiResult<Bpo> {
        self.create_bpo_impl(actor, name).await
    }

    async fn list_bpos(&self, actor: &Actor) -> ApiResult<Vec<Bpo>> {
        self.list_bpos_impl(actor).await
    }

    async fn onboard_tenant(&self, actor: &Actor, input: OnboardTenant) -> ApiResult<Tenant> {
        self.onboard_tenant_impl(actor, input).await
    }

    async fn get_tenant(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Tenant> {
        self.get_tenant_impl(actor, tenant).await
    }

    async fn list_tenants(&self, actor: &Actor, bpo: BpoId) -> ApiResult<Vec<Tenant>> {
        self.list_tenants_impl(actor, bpo).await
    }

    async fn create_user(&self, actor: &Actor, input: CreateUser) -> ApiResult<User> {
        self.create_user_impl(actor, input).await
    }

    async fn list_users(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<User>> {
        self.list_users_impl(actor, tenant).await
    }

    async fn create_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        name: String,
    ) -> ApiResult<CreatedApiKey> {
        self.create_api_key_impl(actor, tenant, name).await
    }

    async fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        key: Uuid,
    ) -> ApiResult<ApiKey> {
        self.revoke_api_key_impl(actor, tenant, key).await
    }

    async fn list_api_keys(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<ApiKey>> {
        self.list_api_keys_impl(actor, tenant).await
    }

    async fn verify_api_key(&self, secret: String) -> ApiResult<ApiKeyGrant> {
        self.verify_api_key_impl(&secret).await
    }

    async fn known_recordings(
        &self,
        tenant: TenantId,
        ids: Vec<RecordingId>,
    ) -> ApiResult<Vec<RecordingId>> {
        self.known_recordings_impl(tenant, ids).await
    }

    async fn search_recordings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        filter: RecordingFilter,
        page: PageRequest,
    ) -> ApiResult<RecordingPage> {
        self.search_recordings_impl(actor, tenant, filter, page)
            .await
    }

    async fn get_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: RecordingId,
    ) -> ApiResult<Recording> {
        self.get_recording_impl(actor, tenant, id).await
    }
}
