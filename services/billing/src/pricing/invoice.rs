//! An invoice's money: its lines from priced charges, tax once per rate,
//! and totals.

use std::collections::BTreeMap;

use callvault_contracts::billing_api::{
    Charge, Dec, InvoiceLine, LineKind, Meter, NewPlan, RoundingMode, TaxSubtotal, TierLine,
};
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{PricingError, meter_name, price, round_minor};

/// Places of an adjustment's shown unit price.
pub const ADJUSTMENT_PRICE_PLACES: u32 = 6;

/// A usage line: the charge priced on the period's usage, its amount
/// rounded once with `mode`, taxed at the charge's rate or else the plan's.
/// `meter` must be the charge's.
pub fn usage_line(
    meter: Meter,
    charge: &Charge,
    plan_tax_rate: Dec,
    base_quantity: Decimal,
    mode: RoundingMode,
    description: String,
) -> Result<InvoiceLine, PricingError> {
    same_meter(meter, charge)?;
    let priced = price(charge, base_quantity)?;
    Ok(InvoiceLine {
        kind: LineKind::Usage,
        meter: Some(meter),
        description,
        quantity: Dec(priced.quantity),
        unit: Some(charge.unit),
        tiers: priced.tiers,
        amount: round_minor(priced.amount, mode)?,
        tax_rate: charge.tax_rate.unwrap_or(plan_tax_rate),
        original_date: None,
    })
}

/// The plan's base fee: quantity 1, described by the plan's name, at the
/// plan's tax rate.
pub fn base_fee_line(plan: &NewPlan) -> InvoiceLine {
    InvoiceLine {
        kind: LineKind::BaseFee,
        meter: None,
        description: plan.name.clone(),
        quantity: Dec::from_int(1),
        unit: None,
        tiers: Vec::new(),
        amount: plan.base_fee,
        tax_rate: plan.tax_rate,
        original_date: None,
    }
}

/// Usage of a finalized period that arrived late, billed on a later
/// invoice at the marginal cost it has in its own period:
/// `round(price(finalized + late) − price(finalized))`, so it lands in the
/// tiers (and the allowance) the period had already reached.
///
/// `late_base_quantity` may be negative (storage that turned out shorter),
/// giving a negative amount. The line's quantity is the late quantity in
/// charge units. Its one tier line (none when the late quantity is 0)
/// spans the period's total quantity before and after, lower first, in
/// charge units and on the total scale (the allowance included, unlike a
/// usage line's tiers); its amount is the exact difference and its unit
/// price that difference / the late quantity, rounded half away from zero
/// to 6 places.
pub fn adjustment_line(
    meter: Meter,
    charge: &Charge,
    plan_tax_rate: Dec,
    finalized_base_quantity: Decimal,
    late_base_quantity: Decimal,
    original_date: NaiveDate,
    mode: RoundingMode,
) -> Result<InvoiceLine, PricingError> {
    same_meter(meter, charge)?;
    let total_base = finalized_base_quantity
        .checked_add(late_base_quantity)
        .ok_or(PricingError::Overflow)?;
    let before = price(charge, finalized_base_quantity)?;
    let after = price(charge, total_base)?;
    let difference = after
        .amount
        .checked_sub(before.amount)
        .ok_or(PricingError::Overflow)?;
    let units = Decimal::from(charge.unit.base_units());
    let quantity = late_base_quantity
        .checked_div(units)
        .ok_or(PricingError::Overflow)?;
    let mut tiers = Vec::new();
    if !late_base_quantity.is_zero() {
        // Divided by the base quantity, not the rounded charge-unit one.
        let unit_price = difference
            .checked_mul(units)
            .and_then(|scaled| scaled.checked_div(late_base_quantity))
            .ok_or(PricingError::Overflow)?
            .round_dp_with_strategy(
                ADJUSTMENT_PRICE_PLACES,
                RoundingStrategy::MidpointAwayFromZero,
            );
        tiers.push(TierLine {
            from: Dec(before.quantity.min(after.quantity)),
            up_to: Some(Dec(before.quantity.max(after.quantity))),
            quantity: Dec(quantity),
            unit_price: Dec(unit_price),
            amount: Dec(difference),
        });
    }
    Ok(InvoiceLine {
        kind: LineKind::Adjustment,
        meter: Some(meter),
        description: format!(
            "{} used on {original_date}, received after its invoice was finalized",
            meter_name(meter)
        ),
        quantity: Dec(quantity),
        unit: Some(charge.unit),
        tiers,
        amount: round_minor(difference, mode)?,
        tax_rate: charge.tax_rate.unwrap_or(plan_tax_rate),
        original_date: Some(original_date),
    })
}

/// Tax per rate, by rate ascending: each rate's subtotal is the sum of its
/// lines' (already rounded) amounts, and its tax is
/// `round(subtotal × rate / 100)`, rounded once per rate, never per line
/// (Japan's qualified invoice rule). Rates equal in value ("10", "10.0")
/// are one rate, shown without trailing zeros.
pub fn taxes(lines: &[InvoiceLine], mode: RoundingMode) -> Result<Vec<TaxSubtotal>, PricingError> {
    let mut by_rate: BTreeMap<Decimal, i64> = BTreeMap::new();
    for line in lines {
        let subtotal = by_rate.entry(line.tax_rate.0.normalize()).or_insert(0);
        *subtotal = subtotal
            .checked_add(line.amount)
            .ok_or(PricingError::Overflow)?;
    }
    by_rate
        .into_iter()
        .map(|(rate, subtotal)| {
            let exact = Decimal::from(subtotal)
                .checked_mul(rate)
                .and_then(|product| product.checked_div(Decimal::ONE_HUNDRED))
                .ok_or(PricingError::Overflow)?;
            Ok(TaxSubtotal {
                rate: Dec(rate),
                subtotal,
                tax: round_minor(exact, mode)?,
            })
        })
        .collect()
}

/// `(subtotal, tax, total)`: the sums of the per-rate subtotals and taxes,
/// and their sum.
pub fn totals(taxes: &[TaxSubtotal]) -> Result<(i64, i64, i64), PricingError> {
    let mut subtotal: i64 = 0;
    let mut tax: i64 = 0;
    for rate in taxes {
        subtotal = subtotal
            .checked_add(rate.subtotal)
            .ok_or(PricingError::Overflow)?;
        tax = tax.checked_add(rate.tax).ok_or(PricingError::Overflow)?;
    }
    let total = subtotal.checked_add(tax).ok_or(PricingError::Overflow)?;
    Ok((subtotal, tax, total))
}

fn same_meter(meter: Meter, charge: &Charge) -> Result<(), PricingError> {
    if meter == charge.meter {
        Ok(())
    } else {
        Err(PricingError::WrongMeter {
            line: meter_name(meter),
            charge: meter_name(charge.meter),
        })
    }
}
