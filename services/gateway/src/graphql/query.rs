//! The query root.

use async_graphql::{Context, Object, Result};
use callvault_contracts::{BpoId, RecordingId, TenantId};
use chrono::NaiveDate;
use uuid::Uuid;

use super::disclosure_inputs::DisclosureRequestFilter;
use super::disclosure_settings::DisclosureSettings;
use super::disclosure_types::{DisclosureRequest, RegisterEntry};
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

    /// The tenant's disclosure settings (the defaults until set): regime,
    /// deadlines, fee, privacy notice. A BPO's admins for its tenants; the
    /// tenant's compliance officers and auditors.
    async fn disclosure_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
    ) -> Result<DisclosureSettings> {
        super::disclosure::disclosure_settings(ctx, tenant_id).await
    }

    /// One data-subject request. NOT_FOUND for an unknown id or another
    /// tenant's request.
    async fn disclosure_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The request.")] id: Uuid,
    ) -> Result<DisclosureRequest> {
        super::disclosure::disclosure_request(ctx, tenant_id, id).await
    }

    /// The tenant's data-subject requests, oldest deadline first.
    async fn disclosure_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "Which requests; all when null.")] filter: Option<DisclosureRequestFilter>,
    ) -> Result<Vec<DisclosureRequest>> {
        super::disclosure::disclosure_requests(ctx, tenant_id, filter).await
    }

    /// The register of every request received from `from` to `to` (the
    /// tenant's local dates, both included): what a regulator or an
    /// auditor asks first.
    async fn disclosure_register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The first day, in the tenant's time zone.")] from: NaiveDate,
        #[graphql(desc = "The last day, on or after `from`.")] to: NaiveDate,
    ) -> Result<Vec<RegisterEntry>> {
        super::disclosure::disclosure_register(ctx, tenant_id, from, to).await
    }

    /// The same register as CSV (a header row, RFC 4180).
    async fn disclosure_register_csv(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The first day, in the tenant's time zone.")] from: NaiveDate,
        #[graphql(desc = "The last day, on or after `from`.")] to: NaiveDate,
    ) -> Result<String> {
        super::disclosure::disclosure_register_csv(ctx, tenant_id, from, to).await
    }
}
