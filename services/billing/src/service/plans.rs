//! Plans (wholesale: the platform's; retail: a BPO's), their versions, and
//! which plan each account is on.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::billing_api::{Account, NewPlan, Plan, PlanAssignment, PlanLevel};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::billing::{
    AssignPlan, CreatePlan, GetPlan, ListAssignments, ListPlans, UpdatePlan,
};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, BpoId};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use uuid::Uuid;

use super::accounts::{account_key, level_key, parse_tz, plan_from_row};
use super::{BillingService, bad_input};
use crate::db::entity::{assignment, plan};
use crate::db::{corrupt, db_time, internal};
use crate::period;
use crate::pricing::check::check_plan;

pub(super) fn routes(router: &mut Router, service: &Arc<BillingService>) {
    router
        .route(service, |s, r: CreatePlan| async move {
            s.create_plan(&r.actor, r.level, r.bpo, r.plan).await
        })
        .route(service, |s, r: UpdatePlan| async move {
            s.update_plan(&r.actor, r.plan_id, r.plan).await
        })
        .route(service, |s, r: GetPlan| async move {
            s.get_plan(&r.actor, r.plan_id, r.version).await
        })
        .route(service, |s, r: ListPlans| async move {
            s.list_plans(&r.actor, r.bpo).await
        })
        .route(service, |s, r: AssignPlan| async move {
            s.assign_plan(&r.actor, r.account, r.plan_id, r.time_zone)
                .await
        })
        .route(service, |s, r: ListAssignments| async move {
            s.authorize_account_read(&r.actor, r.account).await?;
            s.assignments(&s.db, r.account).await
        });
}

fn invalid_plan(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidPlan, message)
}

impl BillingService {
    /// Managing a plan: wholesale ones by the platform admin, a BPO's
    /// retail ones by its admin.
    fn authorize_plan_owner(
        &self,
        actor: &Actor,
        level: PlanLevel,
        bpo: Option<BpoId>,
        change: bool,
    ) -> ApiResult<()> {
        match (level, bpo) {
            (PlanLevel::Wholesale, None) => {
                self.authorize_platform(actor, Permission::ManageWholesale)
            }
            (PlanLevel::Retail, Some(bpo)) if change => {
                self.authorize_bpo(actor, Permission::ManageBilling, bpo)
            }
            (PlanLevel::Retail, Some(bpo)) => {
                self.authorize_bpo(actor, Permission::ReadBilling, bpo)
            }
            (PlanLevel::Wholesale, Some(_)) => Err(bad_input("a wholesale plan has no BPO")),
            (PlanLevel::Retail, None) => Err(bad_input("a retail plan belongs to a BPO")),
        }
    }

    async fn create_plan(
        &self,
        actor: &Actor,
        level: PlanLevel,
        bpo: Option<BpoId>,
        terms: NewPlan,
    ) -> ApiResult<Plan> {
        self.authorize_plan_owner(actor, level, bpo, true)?;
        check_plan(&terms).map_err(|e| invalid_plan(e.to_string()))?;
        let row = plan::Model {
            plan_id: Uuid::new_v4(),
            version: 1,
            level: level_key(level).to_owned(),
            bpo_id: bpo.map(|b| b.0),
            terms: serde_json::to_string(&terms).map_err(|_| corrupt("plan terms"))?,
            created_at: db_time(self.now()),
            created_by: actor.subject.clone(),
        };
        plan::Entity::insert(plan::ActiveModel::from(row.clone()))
            .exec_without_returning(&self.db)
            .await
            .map_err(internal)?;
        tracing::info!(plan_id = %row.plan_id, level = %row.level, "plan created");
        plan_from_row(row)
    }

    /// The latest version of a plan, after checking the actor may see it
    /// (`NotFound` for another owner's, so ids tell nothing).
    async fn visible_plan(&self, actor: &Actor, plan_id: Uuid, change: bool) -> ApiResult<Plan> {
        let latest = plan::Entity::find()
            .filter(plan::Column::PlanId.eq(plan_id))
            .order_by_desc(plan::Column::Version)
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("plan"))?;
        let latest = plan_from_row(latest)?;
        self.authorize_plan_owner(actor, latest.level, latest.bpo_id, change)
            .map_err(|e| match e.code {
                ErrorCode::Forbidden => ApiError::not_found("plan"),
                _ => e,
            })?;
        Ok(latest)
    }

    async fn update_plan(&self, actor: &Actor, plan_id: Uuid, terms: NewPlan) -> ApiResult<Plan> {
        let latest = self.visible_plan(actor, plan_id, true).await?;
        check_plan(&terms).map_err(|e| invalid_plan(e.to_string()))?;
        if terms.currency != latest.terms.currency {
            return Err(bad_input(
                "a plan's currency can't change; create a new plan",
            ));
        }
        let row = plan::Model {
            plan_id,
            version: i32::try_from(latest.version + 1).map_err(|_| corrupt("plan version"))?,
            level: level_key(latest.level).to_owned(),
            bpo_id: latest.bpo_id.map(|b| b.0),
            terms: serde_json::to_string(&terms).map_err(|_| corrupt("plan terms"))?,
            created_at: db_time(self.now()),
            created_by: actor.subject.clone(),
        };
        // Two editors at once: the second insert of the same version fails
        // on the primary key instead of overwriting.
        plan::Entity::insert(plan::ActiveModel::from(row.clone()))
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    super::conflict("the plan changed meanwhile; read it again")
                } else {
                    internal(e)
                }
            })?;
        tracing::info!(%plan_id, version = row.version, "plan changed");
        plan_from_row(row)
    }

    async fn get_plan(
        &self,
        actor: &Actor,
        plan_id: Uuid,
        version: Option<u32>,
    ) -> ApiResult<Plan> {
        let latest = self.visible_plan(actor, plan_id, false).await?;
        let Some(version) = version else {
            return Ok(latest);
        };
        let version = i32::try_from(version).map_err(|_| ApiError::not_found("plan version"))?;
        let row = plan::Entity::find_by_id((plan_id, version))
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("plan version"))?;
        plan_from_row(row)
    }

    async fn list_plans(&self, actor: &Actor, bpo: Option<BpoId>) -> ApiResult<Vec<Plan>> {
        let level = if bpo.is_some() {
            PlanLevel::Retail
        } else {
            PlanLevel::Wholesale
        };
        self.authorize_plan_owner(actor, level, bpo, false)?;
        let mut query = plan::Entity::find().filter(plan::Column::Level.eq(level_key(level)));
        query = match bpo {
            Some(bpo) => query.filter(plan::Column::BpoId.eq(bpo.0)),
            None => query.filter(plan::Column::BpoId.is_null()),
        };
        let rows = query
            .order_by_asc(plan::Column::CreatedAt)
            .order_by_asc(plan::Column::PlanId)
            .order_by_asc(plan::Column::Version)
            .all(&self.db)
            .await
            .map_err(internal)?;
        // The latest version of each, in order of creation.
        let mut plans: Vec<Plan> = Vec::new();
        for row in rows {
            let plan = plan_from_row(row)?;
            match plans.iter_mut().find(|p| p.id == plan.id) {
                Some(known) if known.version < plan.version => *known = plan,
                Some(_) => {}
                None => plans.push(plan),
            }
        }
        Ok(plans)
    }

    async fn assign_plan(
        &self,
        actor: &Actor,
        account: Account,
        plan_id: Uuid,
        time_zone: Option<String>,
    ) -> ApiResult<PlanAssignment> {
        let (info, plan) = match account {
            Account::Tenant(tenant) => {
                let found = self
                    .authorize_tenant(actor, Permission::ManageBilling, tenant)
                    .await?;
                if time_zone.is_some() {
                    return Err(bad_input(
                        "a tenant's periods follow its own time zone; give none",
                    ));
                }
                let plan = self.visible_plan(actor, plan_id, true).await?;
                // Only one of its own BPO's retail plans.
                if plan.level != PlanLevel::Retail || plan.bpo_id != Some(found.bpo_id) {
                    return Err(ApiError::not_found("plan"));
                }
                (self.account_info(account, Some(found)).await?, plan)
            }
            Account::Bpo(_) => {
                self.authorize_platform(actor, Permission::ManageWholesale)?;
                let plan = self.visible_plan(actor, plan_id, true).await?;
                if plan.level != PlanLevel::Wholesale {
                    return Err(ApiError::not_found("plan"));
                }
                (self.account_info(account, None).await?, plan)
            }
        };
        let tx = self.db.begin().await.map_err(internal)?;
        let earlier = self.assignments(&tx, account).await?;
        let zone = match (account, &time_zone, earlier.first()) {
            (Account::Tenant(_), _, _) => info.time_zone.name().to_owned(),
            (Account::Bpo(_), Some(asked), Some(first)) if *asked != first.time_zone => {
                return Err(bad_input(format!(
                    "the BPO's periods are cut in {}; that can't change",
                    first.time_zone
                )));
            }
            (Account::Bpo(_), _, Some(first)) => first.time_zone.clone(),
            (Account::Bpo(_), Some(asked), None) => {
                parse_tz(asked).ok_or_else(|| bad_input("unknown time zone"))?;
                asked.clone()
            }
            (Account::Bpo(_), None, None) => "UTC".to_owned(),
        };
        let tz = parse_tz(&zone).ok_or_else(|| bad_input("unknown time zone"))?;
        let now = db_time(self.now());
        let running = period::month_of(tz, now);
        // The first plan bills the running month; a change, the next one.
        let effective_from = if earlier.is_empty() {
            running.start
        } else {
            running.next().start
        };
        let (kind, id) = account_key(account);
        let row = assignment::Model {
            id: Uuid::new_v4(),
            account_kind: kind.to_owned(),
            account_id: id,
            plan_id: plan.id,
            time_zone: zone,
            effective_from,
            assigned_at: now,
            assigned_by: actor.subject.clone(),
        };
        assignment::Entity::insert(assignment::ActiveModel::from(row.clone()))
            .exec_without_returning(&tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        tracing::info!(account = kind, plan_id = %plan.id, "plan assigned");
        super::accounts::assignment_from_row(row)
    }
}
