//! Accounts (a tenant on a retail plan, a BPO on a wholesale one): whose
//! usage they add up, the time zone their periods are cut in, the plan
//! assignment and plan version in force for each period.

use std::str::FromStr;

use callvault_contracts::billing_api::{Account, Party, Plan, PlanAssignment, PlanLevel};
use callvault_contracts::metadata_api::{ApiResult, Tenant};
use callvault_contracts::{BpoId, TenantId};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::BillingService;
use crate::db::entity::{assignment, plan};
use crate::db::{corrupt, internal};
use crate::period::{self, Period};

/// What an account bills.
#[derive(Clone, Debug)]
pub(super) struct AccountInfo {
    pub account: Account,
    pub level: PlanLevel,
    pub time_zone: Tz,
    /// Whose usage counts: the tenant, or every tenant of the BPO.
    pub tenants: Vec<Uuid>,
    /// The BPO: the issuer of a tenant's invoices, the recipient of its own.
    pub bpo: BpoId,
}

impl AccountInfo {
    pub fn issuer(&self) -> Party {
        match self.level {
            PlanLevel::Retail => Party::Bpo(self.bpo),
            PlanLevel::Wholesale => Party::Platform,
        }
    }

    pub fn recipient(&self) -> Party {
        match self.account {
            Account::Tenant(tenant) => Party::Tenant(tenant),
            Account::Bpo(bpo) => Party::Bpo(bpo),
        }
    }
}

pub(super) fn account_key(account: Account) -> (&'static str, Uuid) {
    match account {
        Account::Tenant(tenant) => ("tenant", tenant.0),
        Account::Bpo(bpo) => ("bpo", bpo.0),
    }
}

pub(super) fn account_of(kind: &str, id: Uuid) -> Option<Account> {
    match kind {
        "tenant" => Some(Account::Tenant(TenantId(id))),
        "bpo" => Some(Account::Bpo(BpoId(id))),
        _ => None,
    }
}

pub(super) fn level_key(level: PlanLevel) -> &'static str {
    match level {
        PlanLevel::Wholesale => "wholesale",
        PlanLevel::Retail => "retail",
    }
}

pub(super) fn parse_tz(name: &str) -> Option<Tz> {
    Tz::from_str(name).ok()
}

pub(super) fn plan_from_row(row: plan::Model) -> ApiResult<Plan> {
    let level = match row.level.as_str() {
        "wholesale" => PlanLevel::Wholesale,
        "retail" => PlanLevel::Retail,
        _ => return Err(corrupt("plan level")),
    };
    Ok(Plan {
        id: row.plan_id,
        version: u32::try_from(row.version).map_err(|_| corrupt("plan version"))?,
        level,
        bpo_id: row.bpo_id.map(BpoId),
        terms: serde_json::from_str(&row.terms).map_err(|_| corrupt("plan terms"))?,
        created_at: row.created_at,
        created_by: row.created_by,
    })
}

pub(super) fn assignment_from_row(row: assignment::Model) -> ApiResult<PlanAssignment> {
    Ok(PlanAssignment {
        account: account_of(&row.account_kind, row.account_id)
            .ok_or_else(|| corrupt("assignment account"))?,
        plan_id: row.plan_id,
        effective_from: row.effective_from,
        time_zone: row.time_zone,
        assigned_at: row.assigned_at,
        assigned_by: row.assigned_by,
    })
}

impl BillingService {
    /// The account's assignments, oldest first.
    pub(super) async fn assignments<C: ConnectionTrait>(
        &self,
        conn: &C,
        account: Account,
    ) -> ApiResult<Vec<PlanAssignment>> {
        let (kind, id) = account_key(account);
        let rows = assignment::Entity::find()
            .filter(assignment::Column::AccountKind.eq(kind))
            .filter(assignment::Column::AccountId.eq(id))
            .order_by_asc(assignment::Column::AssignedAt)
            .order_by_asc(assignment::Column::Id)
            .all(conn)
            .await
            .map_err(internal)?;
        rows.into_iter().map(assignment_from_row).collect()
    }

    /// The account's tenants and time zone. `tenant` is the tenant when the
    /// caller has it already.
    pub(super) async fn account_info(
        &self,
        account: Account,
        tenant: Option<Tenant>,
    ) -> ApiResult<AccountInfo> {
        match account {
            Account::Tenant(id) => {
                let tenant = match tenant {
                    Some(tenant) => tenant,
                    None => self.tenant(id).await?,
                };
                Ok(AccountInfo {
                    account,
                    level: PlanLevel::Retail,
                    time_zone: parse_tz(&tenant.time_zone).unwrap_or(Tz::UTC),
                    tenants: vec![tenant.id.0],
                    bpo: tenant.bpo_id,
                })
            }
            Account::Bpo(bpo) => {
                let assignments = self.assignments(&self.db, account).await?;
                let time_zone = assignments
                    .first()
                    .and_then(|a| parse_tz(&a.time_zone))
                    .unwrap_or(Tz::UTC);
                let tenants = self.tenants_of(bpo).await?;
                Ok(AccountInfo {
                    account,
                    level: PlanLevel::Wholesale,
                    time_zone,
                    tenants: tenants.into_iter().map(|t| t.id.0).collect(),
                    bpo,
                })
            }
        }
    }

    /// The plan version billing `period`: the plan of the latest assignment
    /// effective by the period's start, in the latest version created
    /// before it began (its first version if it was created during it).
    pub(super) async fn plan_for<C: ConnectionTrait>(
        &self,
        conn: &C,
        assignments: &[PlanAssignment],
        period: &Period,
    ) -> ApiResult<Option<Plan>> {
        let Some(assignment) = assignments
            .iter()
            .filter(|a| a.effective_from <= period.start)
            .max_by_key(|a| a.assigned_at)
        else {
            return Ok(None);
        };
        let versions = plan::Entity::find()
            .filter(plan::Column::PlanId.eq(assignment.plan_id))
            .order_by_asc(plan::Column::Version)
            .all(conn)
            .await
            .map_err(internal)?;
        let chosen = versions
            .iter()
            .rev()
            .find(|v| v.created_at <= period.start)
            .or(versions.first())
            .cloned();
        chosen.map(plan_from_row).transpose()
    }

    /// The periods an account has been billed for, oldest first, up to the
    /// one running at `now`.
    pub(super) fn billed_periods(
        &self,
        info: &AccountInfo,
        assignments: &[PlanAssignment],
        now: DateTime<Utc>,
    ) -> Vec<Period> {
        let Some(first) = assignments.iter().map(|a| a.effective_from).min() else {
            return Vec::new();
        };
        let mut periods = Vec::new();
        let mut period = period::month_of(info.time_zone, first);
        while period.start <= now {
            periods.push(period);
            period = period.next();
        }
        periods
    }
}
