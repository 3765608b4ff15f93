//! The timer: finalizes drafts whose grace period is over, in period order
//! per account, and runs the storage reconciliation once a day.

use chrono::Days;
use sea_orm::{EntityTrait, QuerySelect};
use uuid::Uuid;

use super::BillingService;
use super::accounts::account_of;
use crate::db::entity::assignment;
use crate::db::internal;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerReport {
    pub finalized: u32,
    /// Drafts due that could not be finalized (no issuer profile, a
    /// dependency down); tried again next pass.
    pub failed: u32,
    /// Tenants compared with storage (on the first pass of a UTC day).
    pub reconciled: u32,
    pub mismatches: u32,
}

impl BillingService {
    pub async fn run_timer(&self) -> TimerReport {
        let mut report = TimerReport::default();
        if let Err(e) = self.finalize_due(&mut report).await {
            tracing::warn!(error = %e, "billing timer: finalization pass failed");
            report.failed += 1;
        }
        let yesterday = self.now().date_naive().checked_sub_days(Days::new(1));
        let due = {
            let last = self.last_reconciled.lock().map(|g| *g).unwrap_or(None);
            yesterday.filter(|y| last.is_none_or(|l| l < *y))
        };
        if let Some(day) = due {
            match self.reconcile(day).await {
                Ok(rows) => {
                    report.reconciled = u32::try_from(rows.len()).unwrap_or(u32::MAX);
                    report.mismatches = u32::try_from(rows.iter().filter(|r| !r.matches).count())
                        .unwrap_or(u32::MAX);
                    if let Ok(mut last) = self.last_reconciled.lock() {
                        *last = Some(day);
                    }
                }
                Err(e) => tracing::warn!(error = %e, %day, "storage reconciliation failed"),
            }
        }
        report
    }

    async fn finalize_due(
        &self,
        report: &mut TimerReport,
    ) -> Result<(), callvault_contracts::metadata_api::ApiError> {
        let accounts: Vec<(String, Uuid)> = assignment::Entity::find()
            .select_only()
            .column(assignment::Column::AccountKind)
            .column(assignment::Column::AccountId)
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(internal)?;
        let now = self.now();
        for (kind, id) in accounts {
            let Some(account) = account_of(&kind, id) else {
                continue;
            };
            let info = match self.account_info(account, None).await {
                Ok(info) => info,
                Err(e) => {
                    tracing::warn!(error = %e, account = kind, "billing timer: account unreadable");
                    report.failed += 1;
                    continue;
                }
            };
            let assignments = self.assignments(&self.db, account).await?;
            let finalized = self.finalized_starts(account).await?;
            for period in self.billed_periods(&info, &assignments, now) {
                if finalized.contains(&period.start) {
                    continue;
                }
                if now < period.end + self.grace {
                    break;
                }
                match self.finalize(&info, &period).await {
                    Ok(_) => report.finalized += 1,
                    Err(e) => {
                        tracing::warn!(error = %e, account = kind, first_day = %period.first_day, "billing timer: draft not finalized");
                        report.failed += 1;
                        // Later periods wait for this one.
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
