//! The query root.

use async_graphql::{Context, Object, Result};
use callvault_contracts::{BpoId, RecordingId, TenantId};
use chrono::NaiveDate;
use uuid::Uuid;

use super::billing_enums::Granularity;
use super::billing_inputs::{AccountInput, InvoiceFilterInput, PartyInput};
use super::billing_types::{
    BillingProfile, BpoStatement, Invoice, Plan, PlanAssignment, UsageBucket,
};
use super::disclosure_inputs::DisclosureRequestFilter;
use super::disclosure_settings::DisclosureSettings;
use super::disclosure_types::{DisclosureRequest, RegisterEntry};
use super::recordings::{
    Call, DEFAULT_PAGE_SIZE, Recording, RecordingConnection, RecordingFilter, page_request,
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

    /// One call, found by the id the recorder or CTI gave it, with its
    /// segments in order; null when there is none (or, for an agent, none
    /// of theirs). The same segments as `callRecordings`, as one object.
    async fn call(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        external_call_id: String,
    ) -> Result<Option<Call>> {
        let scope = ctx.scope()?;
        let segments = scope
            .tenant(TenantId(tenant_id), perm::ReadRecordings)
            .await?
            .call_recordings(external_call_id.clone())
            .await?;
        Ok(Call::new(external_call_id, segments))
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

    /// A party's billing profile, as printed on invoices. The platform's:
    /// platform admins. A BPO's: its admins and platform admins. A
    /// tenant's: whoever reads its billing (its BPO's admins, its tenant
    /// admins and auditors). NOT_FOUND until set.
    async fn billing_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose profile.")] party: PartyInput,
    ) -> Result<BillingProfile> {
        super::billing::billing_profile(ctx, party).await
    }

    /// The latest version of each plan: the wholesale plans without
    /// `bpoId` (platform admins), a BPO's retail plans with it (its
    /// admins).
    async fn plans(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The BPO whose retail plans; the wholesale plans when null.")]
        bpo_id: Option<Uuid>,
    ) -> Result<Vec<Plan>> {
        super::billing::plans(ctx, bpo_id).await
    }

    /// One plan, in its latest version or the one asked for: a wholesale
    /// plan for platform admins, a BPO's retail plan for its admins.
    /// NOT_FOUND for an unknown plan or version, or another owner's plan;
    /// FORBIDDEN for tenant roles.
    async fn plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The plan.")] id: Uuid,
        #[graphql(desc = "The version; the latest when null.")] version: Option<u32>,
    ) -> Result<Plan> {
        super::billing::plan(ctx, id, version).await
    }

    /// An account's plan assignments, oldest first: a tenant's for whoever
    /// reads its billing, a BPO's for its admins and platform admins.
    async fn plan_assignments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account.")] account: AccountInput,
    ) -> Result<Vec<PlanAssignment>> {
        super::billing::plan_assignments(ctx, account).await
    }

    /// An account's usage per local day or month of its time zone, from
    /// `from` to `to` (both included, at most 400 days), the running
    /// bucket included: a tenant's (`tenantId`) or the sum of a BPO's
    /// tenants' (`bpoId`). Exactly one of them: BAD_USER_INPUT otherwise.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant; or give `bpoId`.")] tenant_id: Option<Uuid>,
        #[graphql(desc = "The BPO; or give `tenantId`.")] bpo_id: Option<Uuid>,
        #[graphql(desc = "The first local day.")] from: NaiveDate,
        #[graphql(desc = "The last local day, on or after `from`.")] to: NaiveDate,
        #[graphql(desc = "One bucket per day or per month.")] granularity: Granularity,
    ) -> Result<Vec<UsageBucket>> {
        super::billing::usage(ctx, tenant_id, bpo_id, from, to, granularity).await
    }

    /// Invoices, finalized and drafts, newest period first: one account's,
    /// or every one the caller reads (platform admins: the BPOs'; a BPO's
    /// admins: its own and its tenants'; tenant admins and auditors: their
    /// tenant's).
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which invoices; all the caller reads when null.")] filter: Option<
            InvoiceFilterInput,
        >,
    ) -> Result<Vec<Invoice>> {
        super::billing::invoices(ctx, filter).await
    }

    /// One invoice, a draft or finalized. NOT_FOUND for an unknown id or
    /// one the caller doesn't read.
    async fn invoice(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice.")] id: Uuid,
    ) -> Result<Invoice> {
        super::billing::invoice(ctx, id).await
    }

    /// An invoice as CSV text (a header row, RFC 4180).
    async fn invoice_csv(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice.")] id: Uuid,
    ) -> Result<String> {
        super::billing::invoice_csv(ctx, id).await
    }

    /// An invoice as a PDF, in base64 (standard alphabet, padded).
    async fn invoice_pdf(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice.")] id: Uuid,
    ) -> Result<String> {
        super::billing::invoice_pdf(ctx, id).await
    }

    /// A BPO's month side by side: each client's invoice, its own
    /// wholesale invoice, and its margin per currency. Its admins and
    /// platform admins.
    async fn bpo_statement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The BPO.")] bpo_id: Uuid,
        #[graphql(desc = "Any day of the month.")] month: NaiveDate,
    ) -> Result<BpoStatement> {
        super::billing::bpo_statement(ctx, bpo_id, month).await
    }

    /// Every event type a webhook endpoint can subscribe to, as the
    /// webhook's `type` (docs/webhooks.md). Any signed-in caller.
    async fn webhook_event_types(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        super::webhooks::event_types(ctx)
    }

    /// A tenant's webhook endpoints, oldest first, without their secrets.
    /// Its tenant admins, and its BPO's admins.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
    ) -> Result<Vec<super::webhooks::WebhookEndpoint>> {
        super::webhooks::endpoints(ctx, tenant_id).await
    }

    /// An endpoint's delivery log, newest first: status, attempts, the
    /// last status code or error, the next attempt. Whoever manages the
    /// tenant's webhooks; NOT_FOUND for an endpoint the caller doesn't
    /// manage.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The endpoint.")] endpoint_id: Uuid,
        #[graphql(desc = "Only deliveries in this status.")] status: Option<
            super::webhooks::WebhookDeliveryStatus,
        >,
        #[graphql(desc = "At most this many, 1 to 500; 100 when null.")] limit: Option<u32>,
    ) -> Result<Vec<super::webhooks::WebhookDelivery>> {
        super::webhooks::deliveries(ctx, tenant_id, endpoint_id, status, limit).await
    }

    /// A tenant's recording policy: which calls are kept, what happens to
    /// the others, whether pause spans are silenced. Whoever manages its
    /// retention policy (its tenant admins and compliance officers, its
    /// BPO's admins).
    async fn recording_policy(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
    ) -> Result<super::recording_policy::RecordingPolicy> {
        super::recording_policy::policy(ctx, tenant_id).await
    }

    /// A page of the tenant's do-not-record list (in no meaningful order),
    /// with its size. Whoever manages the recording policy.
    async fn do_not_record_numbers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "At most this many, 1 to 1000; 100 when null.")] first: Option<u32>,
        #[graphql(desc = "The previous page's `nextCursor`.")] after: Option<String>,
    ) -> Result<super::recording_policy::DoNotRecordPage> {
        super::recording_policy::numbers(ctx, tenant_id, first, after).await
    }

    /// Calls kept as metadata only (their audio was never stored), by
    /// external call id and segment. Whoever manages the recording policy.
    async fn not_recorded_calls(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant.")] tenant_id: Uuid,
        #[graphql(desc = "At most this many, 1 to 1000; 100 when null.")] first: Option<u32>,
        #[graphql(desc = "The previous page's `nextCursor`.")] after: Option<String>,
    ) -> Result<super::recording_policy::NotRecordedCallPage> {
        super::recording_policy::not_recorded(ctx, tenant_id, first, after).await
    }
}
