//! The billing service's operations: plans and their assignment, billing
//! profiles, usage, invoices and the BPO's statement. Every one names the
//! person asking; the service checks their permission itself.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::billing_api::{
    Account, BillingProfile, BpoStatement, Granularity, Invoice, InvoiceFilter, NewPlan, Party,
    Plan, PlanAssignment, PlanLevel, StorageReconciliation, UsageBucket,
};
use crate::rpc::{Rpc, Service};
use crate::{Actor, BpoId};

/// A party's billing profile (`NotFound` until set).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetBillingProfile {
    pub actor: Actor,
    pub party: Party,
}

impl Rpc for GetBillingProfile {
    type Reply = BillingProfile;
    const NAME: &'static str = "billing_profile";
    const SERVICE: Service = Service::Billing;
}

/// Sets a party's billing profile: the platform's by the platform admin, a
/// BPO's by its admin, a tenant's (as a recipient) by its BPO's admin.
/// Refused (`InvalidInput`) for an empty name or address, a registration
/// number that isn't `T` and 13 digits, an empty or over-long prefix.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SetBillingProfile {
    pub actor: Actor,
    pub party: Party,
    pub profile: BillingProfile,
}

impl Rpc for SetBillingProfile {
    type Reply = BillingProfile;
    const NAME: &'static str = "set_billing_profile";
    const SERVICE: Service = Service::Billing;
}

/// Creates a plan at version 1: a wholesale plan (platform admin, no BPO)
/// or a retail plan of `bpo` (its admin). `InvalidPlan` for a bad plan.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreatePlan {
    pub actor: Actor,
    pub level: PlanLevel,
    pub bpo: Option<BpoId>,
    pub plan: NewPlan,
}

impl Rpc for CreatePlan {
    type Reply = Plan;
    const NAME: &'static str = "create_plan";
    const SERVICE: Service = Service::Billing;
}

/// Makes a new version of a plan; periods that began before keep the old
/// one. `InvalidPlan` for a bad plan, `InvalidInput` for a change of
/// currency.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct UpdatePlan {
    pub actor: Actor,
    pub plan_id: Uuid,
    pub plan: NewPlan,
}

impl Rpc for UpdatePlan {
    type Reply = Plan;
    const NAME: &'static str = "update_plan";
    const SERVICE: Service = Service::Billing;
}

/// One plan, its latest version or the one asked for.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetPlan {
    pub actor: Actor,
    pub plan_id: Uuid,
    pub version: Option<u32>,
}

impl Rpc for GetPlan {
    type Reply = Plan;
    const NAME: &'static str = "plan";
    const SERVICE: Service = Service::Billing;
}

/// The latest version of each wholesale plan (`bpo: None`) or of each of a
/// BPO's retail plans.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListPlans {
    pub actor: Actor,
    pub bpo: Option<BpoId>,
}

impl Rpc for ListPlans {
    type Reply = Vec<Plan>;
    const NAME: &'static str = "plans";
    const SERVICE: Service = Service::Billing;
}

/// Puts an account on a plan: a BPO on a wholesale plan (platform admin,
/// with the time zone its periods are cut in), a tenant on one of its BPO's
/// retail plans (the BPO's admin). The first plan bills the running period,
/// a change the next one.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AssignPlan {
    pub actor: Actor,
    pub account: Account,
    pub plan_id: Uuid,
    /// For a BPO only; UTC when absent. A tenant's periods follow its own
    /// time zone.
    pub time_zone: Option<String>,
}

impl Rpc for AssignPlan {
    type Reply = PlanAssignment;
    const NAME: &'static str = "assign_plan";
    const SERVICE: Service = Service::Billing;
}

/// An account's plan assignments, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListAssignments {
    pub actor: Actor,
    pub account: Account,
}

impl Rpc for ListAssignments {
    type Reply = Vec<PlanAssignment>;
    const NAME: &'static str = "plan_assignments";
    const SERVICE: Service = Service::Billing;
}

/// An account's usage per local day or month from `from` to `to`
/// (inclusive local days), the running ones included. A BPO's is the sum
/// of its tenants'.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetUsage {
    pub actor: Actor,
    pub account: Account,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
}

impl Rpc for GetUsage {
    type Reply = Vec<UsageBucket>;
    const NAME: &'static str = "usage";
    const SERVICE: Service = Service::Billing;
}

/// Invoices the actor may read, finalized and drafts, newest period first.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListInvoices {
    pub actor: Actor,
    pub filter: InvoiceFilter,
}

impl Rpc for ListInvoices {
    type Reply = Vec<Invoice>;
    const NAME: &'static str = "invoices";
    const SERVICE: Service = Service::Billing;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetInvoice {
    pub actor: Actor,
    pub id: Uuid,
}

impl Rpc for GetInvoice {
    type Reply = Invoice;
    const NAME: &'static str = "invoice";
    const SERVICE: Service = Service::Billing;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvoiceFormat {
    Csv,
    Pdf,
}

/// An invoice as a file.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RenderInvoice {
    pub actor: Actor,
    pub id: Uuid,
    pub format: InvoiceFormat,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceFile {
    pub file_name: String,
    pub content_type: String,
    /// Base64 (standard alphabet, padded).
    pub content: String,
}

impl Rpc for RenderInvoice {
    type Reply = InvoiceFile;
    const NAME: &'static str = "render_invoice";
    const SERVICE: Service = Service::Billing;
}

/// Finalizes a draft whose period has ended (`Conflict` while it runs or
/// once finalized): it gets the issuer's next number and never changes.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FinalizeInvoice {
    pub actor: Actor,
    pub id: Uuid,
}

impl Rpc for FinalizeInvoice {
    type Reply = Invoice;
    const NAME: &'static str = "finalize_invoice";
    const SERVICE: Service = Service::Billing;
}

/// A BPO's month: its clients' invoices beside its own wholesale one.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetBpoStatement {
    pub actor: Actor,
    pub bpo: BpoId,
    /// Any day of the month.
    pub month: NaiveDate,
}

impl Rpc for GetBpoStatement {
    type Reply = BpoStatement;
    const NAME: &'static str = "bpo_statement";
    const SERVICE: Service = Service::Billing;
}

/// Runs the storage reconciliation for one UTC day now (the timer runs it
/// daily for yesterday); platform admin only.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ReconcileStorage {
    pub actor: Actor,
    pub day: NaiveDate,
}

impl Rpc for ReconcileStorage {
    type Reply = Vec<StorageReconciliation>;
    const NAME: &'static str = "reconcile_storage";
    const SERVICE: Service = Service::Billing;
}
