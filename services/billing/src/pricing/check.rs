//! Which plans are accepted. Everything [`price`](super::price) relies on
//! is refused here, so a stored plan can always be priced.

use std::collections::BTreeSet;

use callvault_contracts::billing_api::{
    Charge, ChargeModel, ChargeUnit, Dec, Meter, NewPlan, Tier,
};
use rust_decimal::Decimal;

/// A plan refused, with a lowercase message fit to show its author: it
/// names the charge by its meter and the tier by its 1-based position, and
/// never carries the plan's name or anyone's data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    message: String,
}

impl PlanError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        PlanError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

pub const MAX_NAME_CHARS: usize = 200;
/// Rates with more places could make `subtotal × rate / 100` inexact in
/// ways no tax office expects; 4 covers every real rate.
pub const MAX_RATE_DECIMALS: u32 = 4;

const ALL_UNITS: [ChargeUnit; 7] = [
    ChargeUnit::Second,
    ChargeUnit::Minute,
    ChargeUnit::Hour,
    ChargeUnit::Recording,
    ChargeUnit::GbMonth,
    ChargeUnit::Request,
    ChargeUnit::User,
];

/// The meter's name in messages and descriptions, as its JSON name in
/// lowercase.
pub fn meter_name(meter: Meter) -> &'static str {
    match meter {
        Meter::IngestedSeconds => "ingested_seconds",
        Meter::Recordings => "recordings",
        Meter::StorageGbMonths => "storage_gb_months",
        Meter::PlayedSeconds => "played_seconds",
        Meter::DisclosuresDelivered => "disclosures_delivered",
        Meter::ActiveUsers => "active_users",
    }
}

pub fn unit_name(unit: ChargeUnit) -> &'static str {
    match unit {
        ChargeUnit::Second => "second",
        ChargeUnit::Minute => "minute",
        ChargeUnit::Hour => "hour",
        ChargeUnit::Recording => "recording",
        ChargeUnit::GbMonth => "gb_month",
        ChargeUnit::Request => "request",
        ChargeUnit::User => "user",
    }
}

/// Accepts a plan or says the first thing wrong with it, in this order:
/// name, base fee, the plan's tax rate, then each charge in turn (a second
/// charge on a meter, then [`check_charge`]).
pub fn check_plan(plan: &NewPlan) -> Result<(), PlanError> {
    if plan.name.trim().is_empty() {
        return Err(PlanError::new("plan name must not be blank"));
    }
    if plan.name.chars().count() > MAX_NAME_CHARS {
        return Err(PlanError::new(format!(
            "plan name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if plan.base_fee < 0 {
        return Err(PlanError::new("base fee must not be negative"));
    }
    check_rate(plan.tax_rate).map_err(|what| PlanError::new(format!("plan {what}")))?;
    let mut seen = BTreeSet::new();
    for charge in &plan.charges {
        if !seen.insert(charge.meter) {
            return Err(PlanError::new(format!(
                "charge {}: the plan already has a charge on this meter",
                meter_name(charge.meter)
            )));
        }
        check_charge(charge)?;
    }
    Ok(())
}

/// One charge on its own: unit, allowance, tax rate, and its model's
/// prices, tiers or package.
pub fn check_charge(charge: &Charge) -> Result<(), PlanError> {
    charge_problem(charge)
        .map_err(|what| PlanError::new(format!("charge {}: {what}", meter_name(charge.meter))))
}

fn charge_problem(charge: &Charge) -> Result<(), String> {
    if !charge.meter.allows(charge.unit) {
        let allowed: Vec<&str> = ALL_UNITS
            .into_iter()
            .filter(|unit| charge.meter.allows(*unit))
            .map(unit_name)
            .collect();
        return Err(format!(
            "unit {} is not allowed for this meter (allowed: {})",
            unit_name(charge.unit),
            allowed.join(", ")
        ));
    }
    if negative(charge.included) {
        return Err("included must not be negative".to_owned());
    }
    if let Some(rate) = charge.tax_rate {
        check_rate(rate)?;
    }
    match &charge.model {
        ChargeModel::PerUnit { unit_price } => {
            if negative(*unit_price) {
                return Err("unit price must not be negative".to_owned());
            }
        }
        ChargeModel::Graduated { tiers } | ChargeModel::Volume { tiers } => check_tiers(tiers)?,
        ChargeModel::Package {
            package_size,
            package_price,
        } => {
            if package_size.0 <= Decimal::ZERO {
                return Err("package size must be greater than zero".to_owned());
            }
            if negative(*package_price) {
                return Err("package price must not be negative".to_owned());
            }
        }
    }
    Ok(())
}

fn check_tiers(tiers: &[Tier]) -> Result<(), String> {
    if tiers.is_empty() {
        return Err("tiers must not be empty".to_owned());
    }
    let last = tiers.len();
    let mut previous: Option<Decimal> = None;
    for (index, tier) in tiers.iter().enumerate() {
        let n = index + 1;
        if negative(tier.unit_price) {
            return Err(format!("tier {n} unit price must not be negative"));
        }
        match tier.up_to {
            None if n < last => {
                return Err(format!("tier {n} is unbounded but is not the last tier"));
            }
            None => {}
            Some(_) if n == last => {
                return Err(format!(
                    "the last tier (tier {n}) must be unbounded (no up_to)"
                ));
            }
            Some(Dec(up_to)) => {
                if up_to <= Decimal::ZERO {
                    return Err(format!("tier {n} up_to must be greater than zero"));
                }
                if previous.is_some_and(|before| up_to <= before) {
                    return Err(format!(
                        "tier {n} up_to must be greater than tier {}'s",
                        n - 1
                    ));
                }
                previous = Some(up_to);
            }
        }
    }
    Ok(())
}

fn check_rate(rate: Dec) -> Result<(), String> {
    if rate.0 < Decimal::ZERO || rate.0 > Decimal::ONE_HUNDRED {
        return Err("tax rate must be between 0 and 100".to_owned());
    }
    // "10.000000" is a 4-place rate written long, not a 6-place one.
    if rate.0.normalize().scale() > MAX_RATE_DECIMALS {
        return Err(format!(
            "tax rate must have at most {MAX_RATE_DECIMALS} decimal places"
        ));
    }
    Ok(())
}

fn negative(value: Dec) -> bool {
    value.0 < Decimal::ZERO
}
