//! The query root.

use async_graphql::{Context, Object, Result};
use callvault_contracts::{BpoId, RecordingId, TenantId};
use uuid::Uuid;

use super::recordings::{
    DEFAULT_PAGE_SIZE, Recording, RecordingConnection, RecordingFilter, page_request,
};
use super::types::{ApiKey, Bpo, Me, Tenant, User};
use crate::access::{ScopeExt, perm};

pub struct Query;

#[Object]
impl Query {
    /// The caller, as its token says.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        Ok(Me::from(ctx.scope()?.actor()))
    }

    /// Every BPO (platform admins).
    async fn bpos(&self, ctx: &Context<'_>) -> Result<Vec<Bpo>> {
        let bpos = ctx.scope()?.platform(perm::ManageBpos)?.list_bpos().await?;
        Ok(bpos.into_iter().map(Into::into).collect())
    }

    /// A BPO's tenants (platform admins, that BPO's admins).
    async fn tenants(&self, ctx: &Context<'_>, bpo_id: Uuid) -> Result<Vec<Tenant>> {
        let scope = ctx.scope()?;
        let tenants = scope
            .bpo(BpoId(bpo_id), perm::ViewTenants)?
            .list_tenants()
            .await?;
        Ok(tenants.into_iter().map(Into::into).collect())
    }

    /// The signed certificate of an offboarded tenant (platform admins; a
    /// BPO's admins for its tenants). NOT_FOUND until the offboarding
    /// finished.
    async fn offboarding_certificate(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
    ) -> Result<super::offboarding::OffboardingCertificate> {
        super::offboarding::offboarding_certificate(ctx, tenant_id).await
    }

    /// One tenant's settings.
    async fn tenant(&self, ctx: &Context<'_>, id: Uuid) -> Result<Tenant> {
        let scope = ctx.scope()?;
        let tenant = scope
            .tenant(TenantId(id), perm::ViewTenants)
            .await?
            .get_tenant()
            .await?;
        Ok(tenant.into())
    }

    /// A tenant's users.
    async fn users(&self, ctx: &Context<'_>, tenant_id: Uuid) -> Result<Vec<User>> {
        let scope = ctx.scope()?;
        let users = scope
            .tenant(TenantId(tenant_id), perm::ManageUsers)
            .await?
            .list_users()
            .await?;
        Ok(users.into_iter().map(Into::into).collect())
    }

    /// A tenant's recorder API keys (without secrets).
    async fn api_keys(&self, ctx: &Context<'_>, tenant_id: Uuid) -> Result<Vec<ApiKey>> {
        let scope = ctx.scope()?;
        let keys = scope
            .tenant(TenantId(tenant_id), perm::ManageApiKeys)
            .await?
            .list_api_keys()
            .await?;
        Ok(keys.into_iter().map(Into::into).collect())
    }

    /// Searches a tenant's recordings, in the metadata service's order.
    /// Agents see only their own calls.
    async fn recordings(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        filter: Option<RecordingFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<RecordingConnection> {
        let scope = ctx.scope()?;
        let filter = filter.unwrap_or_default().into_api()?;
        let page = page_request(first.unwrap_or(DEFAULT_PAGE_SIZE), after)?;
        let page = scope
            .tenant(TenantId(tenant_id), perm::ReadRecordings)
            .await?
            .search_recordings(filter, page)
            .await?;
        Ok(RecordingConnection::new(page))
    }

    /// Every segment of one call, found by the id the recorder or CTI gave
    /// it (`externalCallId`), in segment order: what a CRM or ticket system
    /// holds. Agents get only their own segments; none is an empty list.
    async fn call_recordings(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        external_call_id: String,
    ) -> Result<Vec<Recording>> {
        let scope = ctx.scope()?;
        let segments = scope
            .tenant(TenantId(tenant_id), perm::ReadRecordings)
            .await?
            .call_recordings(external_call_id)
            .await?;
        Ok(segments.into_iter().map(Recording::new).collect())
    }

    /// One recording, with a fresh playback URL.
    async fn recording(&self, ctx: &Context<'_>, tenant_id: Uuid, id: Uuid) -> Result<Recording> {
        let scope = ctx.scope()?;
        let recording = scope
            .tenant(TenantId(tenant_id), perm::ReadRecordings)
            .await?
            .get_recording(RecordingId(id))
            .await?;
        Ok(Recording::new(recording))
    }
}
