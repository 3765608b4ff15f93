//! The billing calls of the platform, BPO and tenant handles: each
//! permission's own, bound to the handle's target, every answer checked to
//! be about it (see [`super::billing`]).

use callvault_contracts::BpoId;
use callvault_contracts::billing_api::{
    Account, BillingProfile, NewPlan, Party, Plan, PlanAssignment, PlanLevel, StorageReconciliation,
};
use callvault_contracts::ops::billing::{
    AssignPlan, CreatePlan, GetBillingProfile, ListPlans, ReconcileStorage, SetBillingProfile,
};
use chrono::NaiveDate;
use uuid::Uuid;

use super::billing::{ensure, plan_owner};
use super::handles::{BpoScope, PlatformScope, TenantScope};
use super::perm;
use crate::error::from_api;

type Result<T> = async_graphql::Result<T>;

impl PlatformScope<'_, perm::ManageWholesale> {
    /// The latest version of each wholesale plan.
    pub async fn wholesale_plans(&self) -> Result<Vec<Plan>> {
        let plans = self
            .rpc
            .call(ListPlans {
                actor: self.actor.clone(),
                bpo: None,
            })
            .await
            .map_err(from_api)?;
        let wholesale = plans.iter().all(|plan| plan_owner(plan) == Some(None));
        ensure(wholesale, "retail plan among the wholesale ones")?;
        Ok(plans)
    }

    pub async fn create_wholesale_plan(&self, terms: NewPlan) -> Result<Plan> {
        let plan = self
            .rpc
            .call(CreatePlan {
                actor: self.actor.clone(),
                level: PlanLevel::Wholesale,
                bpo: None,
                plan: terms,
            })
            .await
            .map_err(from_api)?;
        ensure(
            plan_owner(&plan) == Some(None),
            "created plan is not wholesale",
        )?;
        Ok(plan)
    }

    /// Puts `bpo` on wholesale plan `plan_id`; its periods are cut in
    /// `time_zone` (UTC when none, fixed by its first plan).
    pub async fn assign_wholesale_plan(
        &self,
        bpo: BpoId,
        plan_id: Uuid,
        time_zone: Option<String>,
    ) -> Result<PlanAssignment> {
        let assignment = self
            .rpc
            .call(AssignPlan {
                actor: self.actor.clone(),
                account: Account::Bpo(bpo),
                plan_id,
                time_zone,
            })
            .await
            .map_err(from_api)?;
        let asked = assignment.account == Account::Bpo(bpo) && assignment.plan_id == plan_id;
        ensure(asked, "assignment of another account or plan")?;
        Ok(assignment)
    }

    /// The platform's profile, as the issuer of wholesale invoices.
    pub async fn platform_profile(&self) -> Result<BillingProfile> {
        self.rpc
            .call(GetBillingProfile {
                actor: self.actor.clone(),
                party: Party::Platform,
            })
            .await
            .map_err(from_api)
    }

    pub async fn set_platform_profile(&self, profile: BillingProfile) -> Result<BillingProfile> {
        self.rpc
            .call(SetBillingProfile {
                actor: self.actor.clone(),
                party: Party::Platform,
                profile,
            })
            .await
            .map_err(from_api)
    }

    /// Billing's stored byte-seconds against storage's, per tenant, for
    /// one UTC day.
    pub async fn reconcile_storage(&self, day: NaiveDate) -> Result<Vec<StorageReconciliation>> {
        self.rpc
            .call(ReconcileStorage {
                actor: self.actor.clone(),
                day,
            })
            .await
            .map_err(from_api)
    }
}

impl BpoScope<'_, perm::ReadBilling> {
    /// The latest version of each of the BPO's retail plans.
    pub async fn retail_plans(&self) -> Result<Vec<Plan>> {
        let plans = self
            .rpc
            .call(ListPlans {
                actor: self.actor.clone(),
                bpo: Some(self.bpo),
            })
            .await
            .map_err(from_api)?;
        let ours = plans
            .iter()
            .all(|plan| plan_owner(plan) == Some(Some(self.bpo)));
        ensure(ours, "another bpo's plan")?;
        Ok(plans)
    }
}

impl BpoScope<'_, perm::ManageBilling> {
    pub async fn create_retail_plan(&self, terms: NewPlan) -> Result<Plan> {
        let plan = self
            .rpc
            .call(CreatePlan {
                actor: self.actor.clone(),
                level: PlanLevel::Retail,
                bpo: Some(self.bpo),
                plan: terms,
            })
            .await
            .map_err(from_api)?;
        ensure(
            plan_owner(&plan) == Some(Some(self.bpo)),
            "created plan is not the bpo's",
        )?;
        Ok(plan)
    }

    /// The BPO's profile: the issuer of its tenants' invoices, the
    /// recipient of its wholesale ones.
    pub async fn set_bpo_profile(&self, profile: BillingProfile) -> Result<BillingProfile> {
        self.rpc
            .call(SetBillingProfile {
                actor: self.actor.clone(),
                party: Party::Bpo(self.bpo),
                profile,
            })
            .await
            .map_err(from_api)
    }
}

impl TenantScope<'_, perm::ManageBilling> {
    /// Puts the tenant on one of its BPO's retail plans; its periods follow
    /// its own time zone.
    pub async fn assign_retail_plan(&self, plan_id: Uuid) -> Result<PlanAssignment> {
        let account = Account::Tenant(self.tenant);
        let assignment = self
            .rpc
            .call(AssignPlan {
                actor: self.actor.clone(),
                account,
                plan_id,
                time_zone: None,
            })
            .await
            .map_err(from_api)?;
        let asked = assignment.account == account && assignment.plan_id == plan_id;
        ensure(asked, "assignment of another account or plan")?;
        Ok(assignment)
    }

    /// The tenant's profile, as the recipient of its invoices.
    pub async fn set_tenant_profile(&self, profile: BillingProfile) -> Result<BillingProfile> {
        self.rpc
            .call(SetBillingProfile {
                actor: self.actor.clone(),
                party: Party::Tenant(self.tenant),
                profile,
            })
            .await
            .map_err(from_api)
    }
}
