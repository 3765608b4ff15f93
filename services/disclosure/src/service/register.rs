//! The register: every request received in a period, with its dates,
//! deadline, extension, outcome and whether it was answered on time.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::disclosure_api::{DisclosureFilter, RegisterEntry, RequestState};
use callvault_contracts::metadata_api::ApiResult;
use callvault_contracts::ops::disclosure::{GetDisclosureRegister, GetDisclosureRegisterCsv};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, TenantId};
use chrono::NaiveDate;

use super::{DisclosureService, bad_input, store};
use crate::deadlines;
use crate::lifecycle::state_name;

/// The longest period one register covers.
const MAX_DAYS: i64 = 3660;

pub(super) fn routes(router: &mut Router, service: &Arc<DisclosureService>) {
    router
        .route(service, |s, r: GetDisclosureRegister| async move {
            s.register(&r.actor, r.tenant, r.from, r.to).await
        })
        .route(service, |s, r: GetDisclosureRegisterCsv| async move {
            let entries = s.register(&r.actor, r.tenant, r.from, r.to).await?;
            Ok(to_csv(&entries))
        });
}

impl DisclosureService {
    async fn register(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> ApiResult<Vec<RegisterEntry>> {
        if from > to {
            return Err(bad_input("from must not be after to"));
        }
        if (to - from).num_days() > MAX_DAYS {
            return Err(bad_input("a register covers at most ten years"));
        }
        let tenant = self
            .authorize(actor, Permission::ReadDisclosure, tenant_id)
            .await?;
        let today = deadlines::today(self.now(), &tenant.time_zone)?;
        let mut rows = store::list(&self.db, tenant_id, &DisclosureFilter::default(), None).await?;
        rows.sort_by_key(|row| (row.received_at, row.created_at, row.id));
        let mut entries = Vec::new();
        for row in rows {
            let received = deadlines::today(row.received_at, &tenant.time_zone)?;
            if received < from || received > to {
                continue;
            }
            let doc = store::doc_of(&row)?;
            let state = store::state_of(&row)?;
            let due = doc.deadline.due_date;
            let answered_on = row
                .answered_at
                .map(|at| deadlines::today(at, &tenant.time_zone))
                .transpose()?;
            let on_time = match answered_on {
                Some(day) => Some(day <= due),
                None if today > due => Some(false),
                None => None,
            };
            let outcome = match state {
                RequestState::Delivered | RequestState::Closed => "delivered".to_owned(),
                RequestState::Refused => match &doc.refusal {
                    Some(refusal) => format!("refused:{:?}", refusal.ground),
                    None => "refused".to_owned(),
                },
                RequestState::Withdrawn => "withdrawn".to_owned(),
                _ => "open".to_owned(),
            };
            entries.push(RegisterEntry {
                request_id: row.id,
                kind: store::parse_kind(&row.kind)?,
                regime: super::intake::parse_regime(&row.regime)?,
                state,
                received_at: row.received_at,
                due_date: due,
                extended_by_months: doc.deadline.extended_by_months,
                answered_at: row.answered_at,
                outcome,
                on_time,
            });
        }
        Ok(entries)
    }
}

/// RFC 4180: a header row, CRLF line ends, fields quoted when they hold a
/// comma, a quote or a line break.
pub(crate) fn to_csv(entries: &[RegisterEntry]) -> String {
    let mut out = String::from(
        "request_id,kind,regime,state,received_at,due_date,extended_by_months,answered_at,outcome,on_time\r\n",
    );
    for entry in entries {
        let fields = [
            entry.request_id.to_string(),
            super::store::kind_name(entry.kind).to_owned(),
            super::intake::regime_name(entry.regime).to_owned(),
            state_name(entry.state).to_owned(),
            entry.received_at.to_rfc3339(),
            entry.due_date.to_string(),
            entry
                .extended_by_months
                .map(|months| months.to_string())
                .unwrap_or_default(),
            entry
                .answered_at
                .map(|at| at.to_rfc3339())
                .unwrap_or_default(),
            entry.outcome.clone(),
            entry
                .on_time
                .map(|on_time| on_time.to_string())
                .unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|field| quote(field)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}
