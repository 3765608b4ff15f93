//! `usage(account, from, to, granularity)`: an account's usage per local
//! day or month, the running ones included, seconds after the event.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::Actor;
use callvault_contracts::billing_api::{Account, Dec, Granularity, Meter, MeterUsage, UsageBucket};
use callvault_contracts::metadata_api::{ApiResult, Tenant};
use callvault_contracts::ops::billing::GetUsage;
use callvault_contracts::permissions::Permission;
use chrono::NaiveDate;

use super::{BillingService, bad_input};
use crate::db::internal;
use crate::meters::{self, Scope};
use crate::period::{self, Period};

/// The longest range one call answers, in days.
const MAX_DAYS: i64 = 400;

pub(super) fn routes(router: &mut Router, service: &Arc<BillingService>) {
    router.route(service, |s, r: GetUsage| async move {
        s.usage(&r.actor, r.account, r.from, r.to, r.granularity)
            .await
    });
}

impl BillingService {
    /// Reading an account's billing: a tenant's by whoever reads that
    /// tenant's billing, a BPO's by its admin or the platform's.
    pub(super) async fn authorize_account_read(
        &self,
        actor: &Actor,
        account: Account,
    ) -> ApiResult<Option<Tenant>> {
        match account {
            Account::Tenant(tenant) => Ok(Some(
                self.authorize_tenant(actor, Permission::ReadBilling, tenant)
                    .await?,
            )),
            Account::Bpo(bpo) => {
                self.authorize_bpo_read(actor, bpo)?;
                Ok(None)
            }
        }
    }

    async fn usage(
        &self,
        actor: &Actor,
        account: Account,
        from: NaiveDate,
        to: NaiveDate,
        granularity: Granularity,
    ) -> ApiResult<Vec<UsageBucket>> {
        let tenant = self.authorize_account_read(actor, account).await?;
        if to < from {
            return Err(bad_input("to is before from"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(bad_input(format!("at most {MAX_DAYS} days at a time")));
        }
        let info = self.account_info(account, tenant).await?;
        let buckets = match granularity {
            Granularity::Day => period::days(info.time_zone, from, to),
            Granularity::Month => period::months(info.time_zone, from, to),
        };
        let scope = Scope::all(&info.tenants).until(self.now());
        let mut out = Vec::with_capacity(buckets.len());
        for bucket in buckets {
            let totals = meters::totals(&self.db, &scope, bucket.start, bucket.end)
                .await
                .map_err(internal)?;
            let month = period::month_starting(info.time_zone, first_of_month(&bucket));
            out.push(UsageBucket {
                date: bucket.first_day,
                start: bucket.start,
                end: bucket.end,
                meters: Meter::ALL
                    .into_iter()
                    .map(|meter| MeterUsage {
                        meter,
                        quantity: Dec(totals.base_quantity(meter, &month).normalize()),
                        unit: meter.base_unit(),
                    })
                    .collect(),
            });
        }
        Ok(out)
    }
}

fn first_of_month(bucket: &Period) -> NaiveDate {
    use chrono::Datelike;
    bucket.first_day.with_day(1).unwrap_or(bucket.first_day)
}
