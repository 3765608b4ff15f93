//! An invoice's lines and money from a plan, the period's quantities and
//! the late usage of earlier periods: no I/O, so the same inputs give the
//! same invoice, byte for byte.

use std::collections::BTreeMap;

use callvault_contracts::billing_api::{
    Account, BillingProfile, Invoice, InvoiceLine, InvoiceStatus, Meter, Party, Plan, RoundingMode,
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::period::Period;
use crate::pricing::invoice as price;

/// Invoice ids are UUIDv5 of the account and period under this namespace:
/// a draft and the invoice it becomes share one id, and replays agree.
const INVOICE_NAMESPACE: Uuid = Uuid::from_u128(0x8f1c_2d4e_6a7b_4c3d_9e8f_0a1b_2c3d_4e5f);

pub(crate) fn invoice_id(account: Account, period: &Period) -> Uuid {
    let (kind, id) = match account {
        Account::Tenant(t) => ("tenant", t.0),
        Account::Bpo(b) => ("bpo", b.0),
    };
    let name = format!("{kind}:{id}:{}", period.start.timestamp());
    Uuid::new_v5(&INVOICE_NAMESPACE, name.as_bytes())
}

/// What a meter is called on an invoice.
pub(crate) fn meter_label(meter: Meter) -> &'static str {
    match meter {
        Meter::IngestedSeconds => "Audio ingested",
        Meter::Recordings => "Recordings ingested",
        Meter::StorageGbMonths => "Storage",
        Meter::PlayedSeconds => "Audio played and downloaded",
        Meter::DisclosuresDelivered => "Data-subject requests delivered",
        Meter::ActiveUsers => "Active users",
    }
}

/// Usage of an earlier, finalized period that arrived after it was
/// finalized: the quantity it billed and the quantity it has now.
#[derive(Clone, Debug)]
pub(crate) struct Late {
    pub period: Period,
    pub plan: Plan,
    pub meter: Meter,
    pub billed: Decimal,
    pub now: Decimal,
    /// The local day of the earliest late event.
    pub original_date: NaiveDate,
}

/// Everything an invoice is made of.
pub(crate) struct Parts<'a> {
    pub account: Account,
    pub issuer: Party,
    pub issuer_profile: BillingProfile,
    pub recipient_profile: Option<BillingProfile>,
    pub plan: &'a Plan,
    pub time_zone: &'a str,
    pub period: &'a Period,
    /// Base quantity per meter of the period.
    pub quantities: &'a BTreeMap<Meter, Decimal>,
    pub late: &'a [Late],
    pub finalize_after: DateTime<Utc>,
}

pub(crate) fn compose(parts: Parts<'_>) -> Result<Invoice, crate::pricing::PricingError> {
    let mode: RoundingMode = parts.issuer_profile.rounding;
    let terms = &parts.plan.terms;
    let mut lines: Vec<InvoiceLine> = vec![price::base_fee_line(terms)];
    for charge in &terms.charges {
        let quantity = parts
            .quantities
            .get(&charge.meter)
            .copied()
            .unwrap_or_default();
        lines.push(price::usage_line(
            charge.meter,
            charge,
            terms.tax_rate,
            quantity,
            mode,
            meter_label(charge.meter).to_owned(),
        )?);
    }
    for late in parts.late {
        let Some(charge) = late
            .plan
            .terms
            .charges
            .iter()
            .find(|c| c.meter == late.meter)
        else {
            continue;
        };
        if late.now == late.billed {
            continue;
        }
        let mut line = price::adjustment_line(
            late.meter,
            charge,
            late.plan.terms.tax_rate,
            late.billed,
            late.now - late.billed,
            late.original_date,
            mode,
        )?;
        line.description = format!(
            "Adjustment: {} of {} to {}",
            meter_label(late.meter),
            late.period.first_day,
            late.period.last_day
        );
        lines.push(line);
    }
    let taxes = price::taxes(&lines, mode)?;
    let (subtotal, tax, total) = price::totals(&taxes)?;
    Ok(Invoice {
        id: invoice_id(parts.account, parts.period),
        status: InvoiceStatus::Draft,
        number: None,
        level: parts.plan.level,
        account: parts.account,
        issuer: parts.issuer,
        issuer_profile: parts.issuer_profile,
        recipient_profile: parts.recipient_profile,
        plan_id: parts.plan.id,
        plan_version: parts.plan.version,
        currency: terms.currency,
        time_zone: parts.time_zone.to_owned(),
        period_first_day: parts.period.first_day,
        period_last_day: parts.period.last_day,
        period_start: parts.period.start,
        period_end: parts.period.end,
        finalize_after: parts.finalize_after,
        finalized_at: None,
        lines,
        taxes,
        subtotal,
        tax,
        total,
    })
}
