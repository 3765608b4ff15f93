//! The daily check of billing's stored byte-seconds against the storage
//! service's own records: both must agree to the byte-second, per tenant.
//! A difference is a metric and a log line (it means an event was lost or
//! counted twice somewhere), never a silent correction.

use std::collections::BTreeMap;
use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::TenantId;
use callvault_contracts::billing_api::{Dec, Meter, StorageReconciliation};
use callvault_contracts::metadata_api::ApiResult;
use callvault_contracts::ops::billing::ReconcileStorage;
use callvault_contracts::ops::storage::StoredByteSeconds;
use callvault_contracts::permissions::Permission;
use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{BillingService, bad_input};
use crate::db::entity::usage;
use crate::db::internal;
use crate::meters::{self, Scope};

pub(super) fn routes(router: &mut Router, service: &Arc<BillingService>) {
    router.route(service, |s, r: ReconcileStorage| async move {
        s.authorize_platform(&r.actor, Permission::ManageWholesale)?;
        s.reconcile(r.day).await
    });
}

impl BillingService {
    /// Compares one UTC day, for every tenant either side knows.
    pub(super) async fn reconcile(&self, day: NaiveDate) -> ApiResult<Vec<StorageReconciliation>> {
        let from = Utc.from_utc_datetime(
            &day.and_hms_opt(0, 0, 0)
                .ok_or_else(|| bad_input("bad day"))?,
        );
        let to = from + chrono::Duration::days(1);
        let theirs = self.storage.call(StoredByteSeconds { from, to }).await?;
        let mut stored: BTreeMap<Uuid, i128> = BTreeMap::new();
        for entry in theirs {
            let value: i128 = entry
                .byte_seconds
                .parse()
                .map_err(|_| bad_input("storage answered a malformed byte-second count"))?;
            stored.insert(entry.tenant.0, value);
        }
        let ours: Vec<Uuid> = usage::Entity::find()
            .filter(usage::Column::Meter.eq(meters::key(Meter::StorageGbMonths)))
            .select_only()
            .column(usage::Column::TenantId)
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(internal)?;
        let mut tenants: Vec<Uuid> = stored.keys().copied().chain(ours).collect();
        tenants.sort();
        tenants.dedup();
        let mut out = Vec::new();
        for tenant in tenants {
            let one = [tenant];
            let totals = meters::totals(&self.db, &Scope::all(&one), from, to)
                .await
                .map_err(internal)?;
            let billed = totals.byte_seconds;
            let kept = stored.get(&tenant).copied().unwrap_or(0);
            if billed == 0 && kept == 0 {
                continue;
            }
            let matches = billed == kept;
            if !matches {
                tracing::warn!(
                    tenant_id = %tenant,
                    %day,
                    billed_byte_seconds = %billed,
                    stored_byte_seconds = %kept,
                    "billing's stored byte-seconds differ from storage's records"
                );
            }
            out.push(StorageReconciliation {
                tenant_id: TenantId(tenant),
                from,
                to,
                billed_byte_seconds: dec(billed),
                stored_byte_seconds: dec(kept),
                matches,
            });
        }
        let mismatches = out.iter().filter(|r| !r.matches).count();
        self.metrics.reconciled(out.len(), mismatches);
        Ok(out)
    }
}

fn dec(v: i128) -> Dec {
    Dec(Decimal::try_from_i128_with_scale(v, 0).unwrap_or(Decimal::MAX))
}
