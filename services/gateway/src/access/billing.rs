//! The billing handles (docs/billing.md): plans and their assignment,
//! billing profiles, usage, invoices and a BPO's statement.
//!
//! Three permissions. `ReadBilling`: a tenant's own usage and invoices; a
//! BPO's usage, invoices, statement and retail plans, and its tenants'.
//! `ManageBilling`: a BPO's retail plans, which of them each of its tenants
//! is on, its own and its tenants' profiles, finalizing its tenants'
//! invoices. `ManageWholesale`: the platform's wholesale plans, which one
//! each BPO is on, the platform's profile, finalizing wholesale invoices,
//! the storage reconciliation. The platform admin also reads a BPO's
//! account (usage, invoices, statement, profile): it bills the BPO.
//!
//! Plans and invoices asked for by id don't say whose they are: the
//! gateway lets through a role that holds the permission somewhere
//! ([`BillingReader`], [`BillingManager`]), and the billing service answers
//! NOT_FOUND for one outside the caller's reach, as the disclosure service
//! does for another tenant's request. Every answer is checked to be about
//! what was asked and within the caller's reach: a billing service that
//! answered otherwise is our fault, reported as INTERNAL and never passed
//! on. (Usage, profiles and rendered files carry no account to check; they
//! are asked for the handle's account only.)
//!
//! The calls each permission adds to the platform, BPO and tenant handles
//! are in `access::billing_scopes`.

use callvault_bus::RpcClient;
use callvault_contracts::billing_api::{
    Account, BillingProfile, BpoStatement, Granularity, Invoice, InvoiceFilter, InvoiceStatus,
    NewPlan, Party, Plan, PlanAssignment, PlanLevel, UsageBucket,
};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::billing::{
    FinalizeInvoice, GetBillingProfile, GetBpoStatement, GetInvoice, GetPlan, GetUsage,
    InvoiceFile, InvoiceFormat, ListAssignments, ListInvoices, RenderInvoice, UpdatePlan,
};
use callvault_contracts::{Actor, BpoId};
use chrono::NaiveDate;
use tracing::error;
use uuid::Uuid;

use super::scope::{Scope, deny};
use super::{Permission, Reach, Target, allows, perm, reach};
use crate::error::{coded, from_api};

type Result<T> = async_graphql::Result<T>;

/// An answer the caller may not see, or not the one asked for.
fn internal(what: &'static str) -> async_graphql::Error {
    error!(
        what,
        "billing answered outside the caller's reach or the question"
    );
    coded(ErrorCode::Internal, "internal error")
}

pub(super) fn ensure(ok: bool, what: &'static str) -> Result<()> {
    if ok { Ok(()) } else { Err(internal(what)) }
}

/// Whether `actor` reads `account`'s billing. A tenant's BPO is needed for
/// a BPO admin (a retail invoice names it as its issuer).
fn reads_account(actor: &Actor, account: Account, tenant_bpo: Option<BpoId>) -> bool {
    match account {
        Account::Tenant(tenant) => allows(
            actor,
            Permission::ReadBilling,
            Target::Tenant {
                tenant,
                bpo: tenant_bpo,
            },
        ),
        Account::Bpo(bpo) => {
            allows(actor, Permission::ReadBilling, Target::Bpo(bpo))
                || allows(actor, Permission::ManageWholesale, Target::Platform)
        }
    }
}

/// A retail invoice is a tenant's, issued by its BPO; a wholesale one a
/// BPO's, issued by the platform. Anything else is not an invoice we pass
/// on.
fn invoice_parties(invoice: &Invoice) -> Option<(Account, Option<BpoId>)> {
    match (invoice.level, invoice.account, invoice.issuer) {
        (PlanLevel::Retail, Account::Tenant(tenant), Party::Bpo(bpo)) => {
            Some((Account::Tenant(tenant), Some(bpo)))
        }
        (PlanLevel::Wholesale, Account::Bpo(bpo), Party::Platform) => {
            Some((Account::Bpo(bpo), None))
        }
        _ => None,
    }
}

fn reads_invoice(actor: &Actor, invoice: &Invoice) -> bool {
    invoice_parties(invoice).is_some_and(|(account, bpo)| reads_account(actor, account, bpo))
}

fn finalizes_invoice(actor: &Actor, invoice: &Invoice) -> bool {
    match invoice_parties(invoice) {
        Some((Account::Tenant(tenant), bpo)) => allows(
            actor,
            Permission::ManageBilling,
            Target::Tenant { tenant, bpo },
        ),
        Some((Account::Bpo(_), _)) => allows(actor, Permission::ManageWholesale, Target::Platform),
        None => false,
    }
}

/// A wholesale plan is the platform's, a retail one its BPO's.
pub(super) fn plan_owner(plan: &Plan) -> Option<Option<BpoId>> {
    match (plan.level, plan.bpo_id) {
        (PlanLevel::Wholesale, None) => Some(None),
        (PlanLevel::Retail, Some(bpo)) => Some(Some(bpo)),
        _ => None,
    }
}

fn reads_plan(actor: &Actor, plan: &Plan) -> bool {
    match plan_owner(plan) {
        Some(None) => allows(actor, Permission::ManageWholesale, Target::Platform),
        Some(Some(bpo)) => allows(actor, Permission::ReadBilling, Target::Bpo(bpo)),
        None => false,
    }
}

fn manages_plan(actor: &Actor, plan: &Plan) -> bool {
    match plan_owner(plan) {
        Some(None) => allows(actor, Permission::ManageWholesale, Target::Platform),
        Some(Some(bpo)) => allows(actor, Permission::ManageBilling, Target::Bpo(bpo)),
        None => false,
    }
}

fn anywhere(actor: &Actor, permission: Permission) -> bool {
    reach(actor.role, permission) != Reach::Nowhere
}

impl<'a> Scope<'a> {
    /// A handle to read one account's billing: a tenant's with
    /// `ReadBilling` on it (a BPO admin's tenant looked up first, as for
    /// every tenant handle); a BPO's with `ReadBilling` on it, or the
    /// platform's `ManageWholesale`.
    pub async fn billing_account(&self, account: Account) -> Result<BillingAccount<'a>> {
        let tenant_bpo = match account {
            Account::Tenant(tenant) => {
                let handle = self.tenant(tenant, perm::ReadBilling).await?;
                handle.record.map(|record| record.bpo_id)
            }
            Account::Bpo(_) => {
                if !reads_account(self.actor, account, None) {
                    return Err(deny(self.actor, Permission::ReadBilling));
                }
                None
            }
        };
        Ok(BillingAccount {
            actor: self.actor,
            rpc: self.rpc,
            account,
            tenant_bpo,
        })
    }

    /// A handle to read plans and invoices by id, and the caller's own
    /// invoices: FORBIDDEN for a role that reads billing nowhere
    /// (supervisors, agents, compliance officers).
    pub fn billing_reader(&self) -> Result<BillingReader<'a>> {
        if !anywhere(self.actor, Permission::ReadBilling)
            && !anywhere(self.actor, Permission::ManageWholesale)
        {
            return Err(deny(self.actor, Permission::ReadBilling));
        }
        Ok(BillingReader {
            actor: self.actor,
            rpc: self.rpc,
        })
    }

    /// A handle to change plans and finalize invoices by id: FORBIDDEN for
    /// a role that manages billing nowhere (every tenant role).
    pub fn billing_manager(&self) -> Result<BillingManager<'a>> {
        if !anywhere(self.actor, Permission::ManageBilling)
            && !anywhere(self.actor, Permission::ManageWholesale)
        {
            return Err(deny(self.actor, Permission::ManageBilling));
        }
        Ok(BillingManager {
            actor: self.actor,
            rpc: self.rpc,
        })
    }
}

/// Reading one billing account: a tenant's, or a BPO's.
pub struct BillingAccount<'a> {
    actor: &'a Actor,
    rpc: &'a RpcClient,
    account: Account,
    /// The tenant's BPO, when it was looked up to decide access.
    tenant_bpo: Option<BpoId>,
}

impl BillingAccount<'_> {
    fn party(&self) -> Party {
        match self.account {
            Account::Tenant(tenant) => Party::Tenant(tenant),
            Account::Bpo(bpo) => Party::Bpo(bpo),
        }
    }

    /// An invoice of this account, issued by its BPO for a tenant.
    fn check_invoice(&self, invoice: &Invoice) -> Result<()> {
        let parties = invoice_parties(invoice);
        let ours = parties.is_some_and(|(account, bpo)| {
            account == self.account
                && (self.tenant_bpo.is_none() || bpo == self.tenant_bpo)
                && reads_account(self.actor, account, bpo)
        });
        ensure(ours, "invoice of another account")
    }

    /// Usage per local day or month from `from` to `to`, both included.
    pub async fn usage(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        granularity: Granularity,
    ) -> Result<Vec<UsageBucket>> {
        self.rpc
            .call(GetUsage {
                actor: self.actor.clone(),
                account: self.account,
                from,
                to,
                granularity,
            })
            .await
            .map_err(from_api)
    }

    pub async fn plan_assignments(&self) -> Result<Vec<PlanAssignment>> {
        let assignments = self
            .rpc
            .call(ListAssignments {
                actor: self.actor.clone(),
                account: self.account,
            })
            .await
            .map_err(from_api)?;
        let ours = assignments.iter().all(|a| a.account == self.account);
        ensure(ours, "plan assignment of another account")?;
        Ok(assignments)
    }

    /// This account's invoices, `status`, `from` and `to` as in
    /// [`InvoiceFilter`].
    pub async fn invoices(
        &self,
        status: Option<InvoiceStatus>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<Invoice>> {
        let filter = InvoiceFilter {
            account: Some(self.account),
            status,
            from,
            to,
        };
        let invoices = self
            .rpc
            .call(ListInvoices {
                actor: self.actor.clone(),
                filter,
            })
            .await
            .map_err(from_api)?;
        for invoice in &invoices {
            self.check_invoice(invoice)?;
        }
        Ok(invoices)
    }

    /// The account's billing profile (NOT_FOUND until set).
    pub async fn profile(&self) -> Result<BillingProfile> {
        self.rpc
            .call(GetBillingProfile {
                actor: self.actor.clone(),
                party: self.party(),
            })
            .await
            .map_err(from_api)
    }

    /// A BPO's month: its clients' invoices beside its wholesale one.
    pub async fn statement(&self, month: NaiveDate) -> Result<BpoStatement> {
        let Account::Bpo(bpo) = self.account else {
            return Err(internal("statement asked of a tenant"));
        };
        let statement = self
            .rpc
            .call(GetBpoStatement {
                actor: self.actor.clone(),
                bpo,
                month,
            })
            .await
            .map_err(from_api)?;
        ensure(statement.bpo_id == bpo, "statement of another bpo")?;
        let clients_ours = statement.clients.iter().all(|line| {
            line.invoice.as_ref().is_none_or(|invoice| {
                invoice.account == Account::Tenant(line.tenant_id)
                    && invoice_parties(invoice) == Some((invoice.account, Some(bpo)))
            })
        });
        ensure(clients_ours, "statement line of another bpo's client")?;
        let wholesale_ours = statement
            .wholesale
            .as_ref()
            .is_none_or(|invoice| invoice_parties(invoice) == Some((Account::Bpo(bpo), None)));
        ensure(wholesale_ours, "wholesale invoice of another bpo")?;
        Ok(statement)
    }
}

/// Reading plans and invoices by id (the service answers NOT_FOUND outside
/// the caller's reach), and the caller's own invoices.
pub struct BillingReader<'a> {
    actor: &'a Actor,
    rpc: &'a RpcClient,
}

impl BillingReader<'_> {
    /// One plan, its latest version or `version`. Plans are a BPO's or the
    /// platform's: a tenant role reads none (FORBIDDEN, nothing called).
    pub async fn plan(&self, id: Uuid, version: Option<u32>) -> Result<Plan> {
        let beyond_a_tenant = matches!(
            reach(self.actor.role, Permission::ReadBilling),
            Reach::OwnBpo | Reach::Anywhere
        ) || anywhere(self.actor, Permission::ManageWholesale);
        if !beyond_a_tenant {
            return Err(deny(self.actor, Permission::ReadBilling));
        }
        let plan = self
            .rpc
            .call(GetPlan {
                actor: self.actor.clone(),
                plan_id: id,
                version,
            })
            .await
            .map_err(from_api)?;
        ensure(plan.id == id, "another plan")?;
        ensure(
            version.is_none_or(|v| v == plan.version),
            "another plan version",
        )?;
        ensure(
            reads_plan(self.actor, &plan),
            "plan outside the caller's reach",
        )?;
        Ok(plan)
    }

    pub async fn invoice(&self, id: Uuid) -> Result<Invoice> {
        let invoice = self
            .rpc
            .call(GetInvoice {
                actor: self.actor.clone(),
                id,
            })
            .await
            .map_err(from_api)?;
        ensure(invoice.id == id, "another invoice")?;
        ensure(
            reads_invoice(self.actor, &invoice),
            "invoice outside the caller's reach",
        )?;
        Ok(invoice)
    }

    /// Invoice `id` as a file (its content in base64).
    pub async fn render_invoice(&self, id: Uuid, format: InvoiceFormat) -> Result<InvoiceFile> {
        self.rpc
            .call(RenderInvoice {
                actor: self.actor.clone(),
                id,
                format,
            })
            .await
            .map_err(from_api)
    }

    /// Every invoice the caller reads: the platform admin the BPOs', a BPO
    /// admin its own and its tenants', a tenant role its tenant's.
    pub async fn invoices(
        &self,
        status: Option<InvoiceStatus>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<Invoice>> {
        let filter = InvoiceFilter {
            account: None,
            status,
            from,
            to,
        };
        let invoices = self
            .rpc
            .call(ListInvoices {
                actor: self.actor.clone(),
                filter,
            })
            .await
            .map_err(from_api)?;
        let readable = invoices
            .iter()
            .all(|invoice| reads_invoice(self.actor, invoice));
        ensure(readable, "invoice outside the caller's reach")?;
        Ok(invoices)
    }
}

/// Changing plans and finalizing invoices by id (the service answers
/// NOT_FOUND outside the caller's reach, FORBIDDEN for one it may read but
/// not change).
pub struct BillingManager<'a> {
    actor: &'a Actor,
    rpc: &'a RpcClient,
}

impl BillingManager<'_> {
    /// A new version of plan `id`.
    pub async fn update_plan(&self, id: Uuid, terms: NewPlan) -> Result<Plan> {
        let plan = self
            .rpc
            .call(UpdatePlan {
                actor: self.actor.clone(),
                plan_id: id,
                plan: terms,
            })
            .await
            .map_err(from_api)?;
        ensure(plan.id == id, "another plan")?;
        ensure(
            manages_plan(self.actor, &plan),
            "plan outside the caller's reach",
        )?;
        Ok(plan)
    }

    /// Numbers and freezes a draft whose period has ended.
    pub async fn finalize_invoice(&self, id: Uuid) -> Result<Invoice> {
        let invoice = self
            .rpc
            .call(FinalizeInvoice {
                actor: self.actor.clone(),
                id,
            })
            .await
            .map_err(from_api)?;
        ensure(invoice.id == id, "another invoice")?;
        ensure(
            finalizes_invoice(self.actor, &invoice),
            "invoice outside the caller's reach",
        )?;
        Ok(invoice)
    }
}

#[cfg(test)]
mod tests;
