//! What one charge costs for one period's usage of its meter.
//!
//! The rules, in the charge's unit (`q` = base quantity / the unit's base
//! units, e.g. seconds / 60 for minutes):
//!
//! 1. The first `included` units are free. When `included` > 0 they show
//!    as the first tier line: from 0 up to `included`, quantity
//!    `min(q, included)`, price 0, amount 0.
//! 2. The model applies to the billable quantity `max(0, q − included)`,
//!    and its tier boundaries count billable units: a graduated tier "up
//!    to 9,000" after an allowance of 1,000 covers minutes 1,001–10,000.
//! 3. Per unit: billable × unit price.
//! 4. Graduated: each billable unit at the price of the tier it falls in;
//!    one tier line per tier the billable quantity reaches.
//! 5. Volume: every billable unit at the price of the tier the whole
//!    billable quantity falls in (a quantity equal to a tier's `up_to` is
//!    in that tier); one tier line for that tier.
//! 6. Package: `ceil(billable / package_size)` packages × package price; a
//!    started package is charged whole, and 0 billable is 0 packages. One
//!    tier line: quantity billable, price the package price.
//! 7. With nothing billable a model adds no tier line, whatever the model.
//!
//! Amounts are exact (see [`Priced::amount`]); rounding to minor units is
//! the invoice's business, once per line.

use callvault_contracts::billing_api::{Charge, ChargeModel, Dec, Tier, TierLine};
use rust_decimal::Decimal;

use super::{PlanError, PricingError, check_charge};

/// One charge priced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priced {
    /// In the charge's unit: base quantity / the unit's base units.
    pub quantity: Decimal,
    /// The allowance first (when there is one), then the model's lines.
    pub tiers: Vec<TierLine>,
    /// In the currency's minor unit, not rounded.
    ///
    /// Quantities are multiplied by prices in base units and divided by the
    /// unit's base units last, so the amount is exact whenever the true
    /// amount has at most 28 significant digits (20 seconds at 3 a minute
    /// is exactly 1, not 0.99…9). When it has more (61 seconds at 2 a
    /// minute is 2.0333…) it is rounded at Decimal's 28th digit, and the
    /// tier lines' amounts, divided each on their own, may differ from the
    /// total in that digit.
    pub amount: Decimal,
}

/// Prices `base_quantity` of the charge's meter (seconds for time meters,
/// GB-months for storage, counts otherwise) by the rules above.
///
/// Refuses a charge [`check_charge`] refuses, and a negative quantity.
pub fn price(charge: &Charge, base_quantity: Decimal) -> Result<Priced, PricingError> {
    check_charge(charge)?;
    if base_quantity < Decimal::ZERO {
        return Err(PricingError::NegativeQuantity);
    }
    let scale = Scale::of(charge);
    let mut tiers = Vec::new();
    let included_base = scale.to_base(charge.included.0)?;
    if charge.included.0 > Decimal::ZERO {
        tiers.push(TierLine {
            from: Dec::ZERO,
            up_to: Some(charge.included),
            quantity: Dec(scale.to_unit(base_quantity.min(included_base))?),
            unit_price: Dec::ZERO,
            amount: Dec::ZERO,
        });
    }
    let billable = (base_quantity - included_base).max(Decimal::ZERO);
    let amount = if billable.is_zero() {
        Decimal::ZERO
    } else {
        match &charge.model {
            ChargeModel::PerUnit { unit_price } => {
                let line = scale.line(Decimal::ZERO, None, billable, *unit_price)?;
                let amount = scale.amount(billable, *unit_price)?;
                tiers.push(line);
                amount
            }
            ChargeModel::Graduated { tiers: model } => {
                graduated(&scale, model, billable, &mut tiers)?
            }
            ChargeModel::Volume { tiers: model } => volume(&scale, model, billable, &mut tiers)?,
            ChargeModel::Package {
                package_size,
                package_price,
            } => package(&scale, package_size.0, *package_price, billable, &mut tiers)?,
        }
    };
    Ok(Priced {
        quantity: scale.to_unit(base_quantity)?,
        tiers,
        amount,
    })
}

fn graduated(
    scale: &Scale,
    model: &[Tier],
    billable: Decimal,
    lines: &mut Vec<TierLine>,
) -> Result<Decimal, PricingError> {
    // Summed before the one division by the unit, so the total is as exact
    // as a single product.
    let mut numerator = Decimal::ZERO;
    let mut from = Decimal::ZERO;
    for tier in model {
        let from_base = scale.to_base(from)?;
        if billable <= from_base {
            break;
        }
        let top = match tier.up_to {
            Some(up_to) => billable.min(scale.to_base(up_to.0)?),
            None => billable,
        };
        let in_tier = top - from_base;
        lines.push(scale.line(from, tier.up_to, in_tier, tier.unit_price)?);
        numerator = numerator
            .checked_add(checked_mul(in_tier, tier.unit_price.0)?)
            .ok_or(PricingError::Overflow)?;
        match tier.up_to {
            Some(up_to) => from = up_to.0,
            None => break,
        }
    }
    scale.divide(numerator)
}

fn volume(
    scale: &Scale,
    model: &[Tier],
    billable: Decimal,
    lines: &mut Vec<TierLine>,
) -> Result<Decimal, PricingError> {
    let mut from = Decimal::ZERO;
    for tier in model {
        if let Some(up_to) = tier.up_to
            && billable > scale.to_base(up_to.0)?
        {
            from = up_to.0;
            continue;
        }
        lines.push(scale.line(from, tier.up_to, billable, tier.unit_price)?);
        return scale.amount(billable, tier.unit_price);
    }
    // Unreachable after check_charge, which wants an unbounded last tier.
    Err(PlanError::new("tiers must end with an unbounded tier").into())
}

fn package(
    scale: &Scale,
    size: Decimal,
    price: Dec,
    billable: Decimal,
    lines: &mut Vec<TierLine>,
) -> Result<Decimal, PricingError> {
    let size_base = scale.to_base(size)?;
    let packages = packages(billable, size_base)?;
    let amount = checked_mul(packages, price.0)?;
    lines.push(TierLine {
        from: Dec::ZERO,
        up_to: None,
        quantity: Dec(scale.to_unit(billable)?),
        unit_price: price,
        amount: Dec(amount),
    });
    Ok(amount)
}

/// `ceil(billable / size)`, exactly: the quotient of a Decimal division is
/// rounded at 28 digits, which could land on a whole number just below
/// the true one, so the count is checked against the products.
fn packages(billable: Decimal, size: Decimal) -> Result<Decimal, PricingError> {
    let mut count = billable
        .checked_div(size)
        .ok_or(PricingError::Overflow)?
        .ceil();
    while checked_mul(count, size)? < billable {
        count += Decimal::ONE;
    }
    while count > Decimal::ZERO && checked_mul(count - Decimal::ONE, size)? >= billable {
        count -= Decimal::ONE;
    }
    Ok(count)
}

/// Converts between the meter's base unit and the charge's unit.
struct Scale {
    units: Decimal,
}

impl Scale {
    fn of(charge: &Charge) -> Self {
        Scale {
            units: Decimal::from(charge.unit.base_units()),
        }
    }

    fn to_base(&self, in_unit: Decimal) -> Result<Decimal, PricingError> {
        checked_mul(in_unit, self.units)
    }

    fn to_unit(&self, base: Decimal) -> Result<Decimal, PricingError> {
        self.divide(base)
    }

    fn divide(&self, value: Decimal) -> Result<Decimal, PricingError> {
        value.checked_div(self.units).ok_or(PricingError::Overflow)
    }

    fn amount(&self, base: Decimal, unit_price: Dec) -> Result<Decimal, PricingError> {
        self.divide(checked_mul(base, unit_price.0)?)
    }

    /// A model's tier line; `from`/`up_to` are in charge units, `base` in
    /// base units.
    fn line(
        &self,
        from: Decimal,
        up_to: Option<Dec>,
        base: Decimal,
        unit_price: Dec,
    ) -> Result<TierLine, PricingError> {
        Ok(TierLine {
            from: Dec(from),
            up_to,
            quantity: Dec(self.to_unit(base)?),
            unit_price,
            amount: Dec(self.amount(base, unit_price)?),
        })
    }
}

fn checked_mul(a: Decimal, b: Decimal) -> Result<Decimal, PricingError> {
    a.checked_mul(b).ok_or(PricingError::Overflow)
}
