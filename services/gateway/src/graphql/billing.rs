//! Billing (docs/billing.md): the billing mutations, and the queries
//! `Query` delegates here. Who may do what is in `access::billing` and
//! PERMISSIONS.md; the billing service checks every call again.
//!
//! Each resolver checks the token first (UNAUTHENTICATED), then its input
//! (BAD_USER_INPUT, INVALID_PLAN), then the caller's permission
//! (FORBIDDEN), and only then calls the billing service.

use async_graphql::{Context, Object, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use callvault_contracts::BpoId;
use callvault_contracts::billing_api as api;
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::billing::InvoiceFormat;
use chrono::NaiveDate;
use tracing::error;
use uuid::Uuid;

use super::billing_enums::Granularity;
use super::billing_inputs::{
    AccountInput, BillingProfileInput, CreatePlanInput, InvoiceFilterInput, NewPlanFor, PartyInput,
    PlanInput, ordered, usage_account,
};
use super::billing_types::{
    BillingProfile, BpoStatement, Invoice, Plan, PlanAssignment, StorageReconciliation, UsageBucket,
};
use crate::access::{ScopeExt, perm};
use crate::error::{bad_input, coded};

/// `Query.billingProfile`.
pub(super) async fn billing_profile(
    ctx: &Context<'_>,
    party: PartyInput,
) -> Result<BillingProfile> {
    let scope = ctx.scope()?;
    let profile = match party.into_api()? {
        api::Party::Platform => {
            scope
                .platform(perm::ManageWholesale)?
                .platform_profile()
                .await?
        }
        api::Party::Bpo(bpo) => {
            scope
                .billing_account(api::Account::Bpo(bpo))
                .await?
                .profile()
                .await?
        }
        api::Party::Tenant(tenant) => {
            scope
                .billing_account(api::Account::Tenant(tenant))
                .await?
                .profile()
                .await?
        }
    };
    Ok(profile.into())
}

/// `Query.plans`.
pub(super) async fn plans(ctx: &Context<'_>, bpo_id: Option<Uuid>) -> Result<Vec<Plan>> {
    let scope = ctx.scope()?;
    let plans = match bpo_id {
        None => {
            scope
                .platform(perm::ManageWholesale)?
                .wholesale_plans()
                .await?
        }
        Some(bpo) => {
            scope
                .bpo(BpoId(bpo), perm::ReadBilling)?
                .retail_plans()
                .await?
        }
    };
    Ok(plans.into_iter().map(Into::into).collect())
}

/// `Query.plan`.
pub(super) async fn plan(ctx: &Context<'_>, id: Uuid, version: Option<u32>) -> Result<Plan> {
    let plan = ctx.scope()?.billing_reader()?.plan(id, version).await?;
    Ok(plan.into())
}

/// `Query.planAssignments`.
pub(super) async fn plan_assignments(
    ctx: &Context<'_>,
    account: AccountInput,
) -> Result<Vec<PlanAssignment>> {
    let assignments = ctx
        .scope()?
        .billing_account(account.into())
        .await?
        .plan_assignments()
        .await?;
    Ok(assignments.into_iter().map(Into::into).collect())
}

/// `Query.usage`.
pub(super) async fn usage(
    ctx: &Context<'_>,
    tenant_id: Option<Uuid>,
    bpo_id: Option<Uuid>,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> Result<Vec<UsageBucket>> {
    let scope = ctx.scope()?;
    let account = usage_account(tenant_id, bpo_id)?;
    ordered(from, to)?;
    let buckets = scope
        .billing_account(account)
        .await?
        .usage(from, to, granularity.into())
        .await?;
    Ok(buckets.into_iter().map(Into::into).collect())
}

/// `Query.invoices`.
pub(super) async fn invoices(
    ctx: &Context<'_>,
    filter: Option<InvoiceFilterInput>,
) -> Result<Vec<Invoice>> {
    let scope = ctx.scope()?;
    let filter = filter.unwrap_or_default();
    filter.check()?;
    let status = filter.status.map(Into::into);
    let invoices = match filter.account {
        Some(account) => {
            scope
                .billing_account(account.into())
                .await?
                .invoices(status, filter.from, filter.to)
                .await?
        }
        None => {
            scope
                .billing_reader()?
                .invoices(status, filter.from, filter.to)
                .await?
        }
    };
    Ok(invoices.into_iter().map(Into::into).collect())
}

/// `Query.invoice`.
pub(super) async fn invoice(ctx: &Context<'_>, id: Uuid) -> Result<Invoice> {
    let invoice = ctx.scope()?.billing_reader()?.invoice(id).await?;
    Ok(invoice.into())
}

/// `Query.invoiceCsv`: the CSV as text.
pub(super) async fn invoice_csv(ctx: &Context<'_>, id: Uuid) -> Result<String> {
    let file = ctx
        .scope()?
        .billing_reader()?
        .render_invoice(id, InvoiceFormat::Csv)
        .await?;
    let text = STANDARD
        .decode(file.content.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    text.ok_or_else(|| {
        error!("billing rendered a csv that is not base64 of utf-8 text");
        coded(ErrorCode::Internal, "internal error")
    })
}

/// `Query.invoicePdf`: the PDF in base64, as the service renders it.
pub(super) async fn invoice_pdf(ctx: &Context<'_>, id: Uuid) -> Result<String> {
    let file = ctx
        .scope()?
        .billing_reader()?
        .render_invoice(id, InvoiceFormat::Pdf)
        .await?;
    if STANDARD.decode(file.content.as_bytes()).is_err() {
        error!("billing rendered a pdf that is not base64");
        return Err(coded(ErrorCode::Internal, "internal error"));
    }
    Ok(file.content)
}

/// `Query.bpoStatement`.
pub(super) async fn bpo_statement(
    ctx: &Context<'_>,
    bpo_id: Uuid,
    month: NaiveDate,
) -> Result<BpoStatement> {
    let statement = ctx
        .scope()?
        .billing_account(api::Account::Bpo(BpoId(bpo_id)))
        .await?
        .statement(month)
        .await?;
    Ok(statement.into())
}

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Sets a party's billing profile, as printed on invoices: the
    /// platform's (platform admins), a BPO's, or a tenant's as a recipient
    /// (the BPO's admins). BAD_USER_INPUT for an empty name or address, a
    /// registration number other than `T` and 13 digits, or a bad prefix.
    async fn set_billing_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose profile.")] party: PartyInput,
        #[graphql(desc = "The profile; it replaces the current one.")] profile: BillingProfileInput,
    ) -> Result<BillingProfile> {
        let scope = ctx.scope()?;
        let profile = api::BillingProfile::from(profile);
        let set = match party.into_api()? {
            api::Party::Platform => {
                scope
                    .platform(perm::ManageWholesale)?
                    .set_platform_profile(profile)
                    .await?
            }
            api::Party::Bpo(bpo) => {
                scope
                    .bpo(bpo, perm::ManageBilling)?
                    .set_bpo_profile(profile)
                    .await?
            }
            api::Party::Tenant(tenant) => {
                scope
                    .tenant(tenant, perm::ManageBilling)
                    .await?
                    .set_tenant_profile(profile)
                    .await?
            }
        };
        Ok(set.into())
    }

    /// Creates a plan at version 1: a wholesale plan (platform admins) or a
    /// retail plan of a BPO (its admins). INVALID_PLAN for an unknown
    /// currency, a charge model without its fields (or with another
    /// model's), and every fault the billing service finds: tiers that
    /// overlap or don't increase, a negative price, a unit its meter isn't
    /// counted in, two charges on one meter, a tax rate out of range.
    async fn create_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The plan: its level, its BPO for a retail plan, its terms.")]
        input: CreatePlanInput,
    ) -> Result<Plan> {
        let scope = ctx.scope()?;
        let plan = match input.into_api()? {
            NewPlanFor::Wholesale(terms) => {
                scope
                    .platform(perm::ManageWholesale)?
                    .create_wholesale_plan(terms)
                    .await?
            }
            NewPlanFor::Retail(bpo, terms) => {
                scope
                    .bpo(bpo, perm::ManageBilling)?
                    .create_retail_plan(terms)
                    .await?
            }
        };
        Ok(plan.into())
    }

    /// Makes a new version of a plan (platform admins for wholesale plans,
    /// the BPO's admins for its retail ones); periods that began before
    /// keep the old version. INVALID_PLAN as for `createPlan`;
    /// BAD_USER_INPUT for another currency; NOT_FOUND for a plan the caller
    /// doesn't manage.
    async fn update_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The plan.")] id: Uuid,
        #[graphql(desc = "Its new terms, whole.")] input: PlanInput,
    ) -> Result<Plan> {
        let scope = ctx.scope()?;
        let terms = input.into_api()?;
        let plan = scope.billing_manager()?.update_plan(id, terms).await?;
        Ok(plan.into())
    }

    /// Puts an account on a plan: a tenant on one of its BPO's retail
    /// plans (the BPO's admins), a BPO on a wholesale plan (platform
    /// admins). An account's first plan bills the running period, a change
    /// the next one. NOT_FOUND for a plan of another BPO or level.
    async fn assign_plan(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account billed.")] account: AccountInput,
        #[graphql(desc = "The plan.")] plan_id: Uuid,
        #[graphql(
            desc = "For a BPO: the IANA time zone its periods are cut in (UTC when null; fixed by its first plan). A tenant's periods follow its own time zone: null."
        )]
        time_zone: Option<String>,
    ) -> Result<PlanAssignment> {
        let scope = ctx.scope()?;
        let assignment = match api::Account::from(account) {
            api::Account::Tenant(tenant) => {
                if time_zone.is_some() {
                    return Err(bad_input(
                        "a tenant's periods follow its own time zone: give no timeZone",
                    ));
                }
                scope
                    .tenant(tenant, perm::ManageBilling)
                    .await?
                    .assign_retail_plan(plan_id)
                    .await?
            }
            api::Account::Bpo(bpo) => {
                let time_zone = time_zone.map(|zone| zone.trim().to_owned());
                if time_zone.as_deref().is_some_and(str::is_empty) {
                    return Err(bad_input("timeZone must be an IANA time zone when given"));
                }
                scope
                    .platform(perm::ManageWholesale)?
                    .assign_wholesale_plan(bpo, plan_id, time_zone)
                    .await?
            }
        };
        Ok(assignment.into())
    }

    /// Finalizes a draft invoice whose period has ended: it gets the
    /// issuer's next number and never changes again. A tenant's invoice by
    /// its BPO's admins, a BPO's by platform admins. CONFLICT while the
    /// period runs or once finalized; NOT_FOUND for an invoice the caller
    /// doesn't read.
    async fn finalize_invoice(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The invoice.")] id: Uuid,
    ) -> Result<Invoice> {
        let invoice = ctx.scope()?.billing_manager()?.finalize_invoice(id).await?;
        Ok(invoice.into())
    }

    /// Runs the storage reconciliation for one UTC day now (the timer runs
    /// it daily for yesterday): billing's stored byte-seconds against the
    /// storage service's own records, per tenant. Platform admins.
    async fn reconcile_storage(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The UTC day.")] day: NaiveDate,
    ) -> Result<Vec<StorageReconciliation>> {
        let entries = ctx
            .scope()?
            .platform(perm::ManageWholesale)?
            .reconcile_storage(day)
            .await?;
        Ok(entries.into_iter().map(Into::into).collect())
    }
}
