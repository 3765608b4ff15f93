//! The disclosure timer: deadline warnings (`disclosure.due_soon`,
//! `disclosure.overdue`, once each per request), the gauges of open and
//! overdue requests, bundles past their retention shredded, interrupted
//! bundle builds restarted, and what `after_change` could not finish.

use std::collections::HashMap;

use callvault_contracts::TenantId;
use callvault_contracts::events::{DisclosureDueSoonV1, DisclosureOverdueV1, DisclosureRequestV1};
use callvault_contracts::metadata_api::{ApiResult, Tenant};
use callvault_contracts::ops::subject::GetSubjectTenant;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::{DisclosureService, store};
use crate::db::entity::request;
use crate::db::{db_time, internal};
use crate::deadlines;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimerReport {
    pub due_soon_sent: u64,
    pub overdue_sent: u64,
    pub open: u64,
    pub overdue: u64,
    pub bundles_shredded: u64,
    pub bundles_restarted: u64,
}

impl DisclosureService {
    /// One pass of the timer. Errors of one part don't stop the others.
    pub async fn run_timer(&self) -> TimerReport {
        let mut report = TimerReport::default();
        if let Err(err) = self.flush_audit(None).await {
            tracing::warn!(code = err.code.as_str(), "disclosure audit flush failed");
        }
        match self.unsynced_requests().await {
            Ok(requests) => {
                for (tenant, id) in requests {
                    if let Err(err) = self.sync_preservation(tenant, id).await {
                        tracing::warn!(request_id = %id, code = err.code.as_str(), "preservation sync failed");
                    }
                }
            }
            Err(err) => {
                tracing::warn!(code = err.code.as_str(), "listing unsynced requests failed")
            }
        }
        if let Err(err) = self.deadline_pass(&mut report).await {
            tracing::warn!(code = err.code.as_str(), "disclosure deadline pass failed");
        }
        match self.shred_expired_bundles().await {
            Ok(count) => report.bundles_shredded = count,
            Err(err) => tracing::warn!(code = err.code.as_str(), "bundle retention pass failed"),
        }
        match self.restart_interrupted_bundles().await {
            Ok(count) => report.bundles_restarted = count,
            Err(err) => tracing::warn!(code = err.code.as_str(), "bundle restart pass failed"),
        }
        crate::metrics::set_requests(report.open, report.overdue);
        report
    }

    async fn deadline_pass(&self, report: &mut TimerReport) -> ApiResult<()> {
        let rows = request::Entity::find()
            .filter(request::Column::State.is_not_in([
                "DELIVERED",
                "CLOSED",
                "REFUSED",
                "WITHDRAWN",
            ]))
            .all(&self.db)
            .await
            .map_err(internal)?;
        let mut tenants: HashMap<TenantId, Option<Tenant>> = HashMap::new();
        let now = self.now();
        for row in rows {
            let tenant_id = TenantId(row.tenant_id);
            if !tenants.contains_key(&tenant_id) {
                let tenant = self
                    .metadata
                    .call(GetSubjectTenant { tenant: tenant_id })
                    .await
                    .ok();
                tenants.insert(tenant_id, tenant);
            }
            let Some(Some(tenant)) = tenants.get(&tenant_id) else {
                continue;
            };
            let settings = self.settings_of(tenant_id).await?;
            let doc = store::doc_of(&row)?;
            let today = deadlines::today(now, &tenant.time_zone)?;
            let due = doc.deadline.due_date;
            report.open += 1;
            let overdue = today > due;
            if overdue {
                report.overdue += 1;
            }
            let due_soon = !overdue
                && deadlines::working_days_until(today, due, &settings)?
                    <= i64::from(settings.due_soon_working_days);
            let event = DisclosureRequestV1 {
                tenant_id,
                request_id: row.id,
                kind: store::parse_kind(&row.kind)?,
                regime: super::intake::parse_regime(&row.regime)?,
                state: store::state_of(&row)?,
                received_at: row.received_at,
                due_date: due,
                at: db_time(now),
            };
            if overdue && !row.overdue_sent {
                self.mark_sent(
                    &row,
                    request::Column::OverdueSent,
                    &DisclosureOverdueV1(event),
                )
                .await?;
                report.overdue_sent += 1;
            } else if due_soon && !row.due_soon_sent {
                self.mark_sent(
                    &row,
                    request::Column::DueSoonSent,
                    &DisclosureDueSoonV1(event),
                )
                .await?;
                report.due_soon_sent += 1;
            }
        }
        Ok(())
    }

    /// Sets the flag and publishes the event in one transaction; the flag
    /// guard makes a second replica's pass publish nothing.
    async fn mark_sent<E: callvault_contracts::events::Event>(
        &self,
        row: &request::Model,
        flag: request::Column,
        event: &E,
    ) -> ApiResult<()> {
        let txn = self.db.begin().await.map_err(internal)?;
        let result = request::Entity::update_many()
            .col_expr(flag, Expr::value(true))
            .filter(request::Column::Id.eq(row.id))
            .filter(flag.eq(false))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if result.rows_affected == 1 {
            store::publish(&txn, event).await?;
        }
        txn.commit().await.map_err(internal)
    }
}
