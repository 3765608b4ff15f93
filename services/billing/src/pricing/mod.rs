//! The pricing engine: what a plan's charges cost for a period's usage,
//! and how an invoice's lines, taxes and totals are composed. Pure and
//! deterministic: no I/O, no clock, no panics on any input (arithmetic that
//! would leave `Decimal` or `i64` is an error).
//!
//! Unit prices are in the currency's minor unit per charge unit, so every
//! exact amount here is in minor units and only [`round_minor`] makes it an
//! integer.

pub mod charge;
pub mod check;
pub mod invoice;
pub mod rounding;

#[cfg(test)]
mod charge_tests;
#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod invoice_tests;
#[cfg(test)]
mod props;

pub use charge::{Priced, price};
pub use check::{PlanError, check_charge, check_plan, meter_name, unit_name};
pub use invoice::{adjustment_line, base_fee_line, taxes, totals, usage_line};
pub use rounding::round_minor;

/// Why an amount could not be computed. None of these carry usage data or
/// names, only the meter.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The charge would be refused by [`check_plan`]; pricing it anyway
    /// would leave units unpriced.
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("usage quantity must not be negative")]
    NegativeQuantity,
    #[error("line meter {line} is not the charge's meter {charge}")]
    WrongMeter {
        line: &'static str,
        charge: &'static str,
    },
    /// An amount left the range of `Decimal` (about 7.9e28) or of `i64`
    /// minor units.
    #[error("amount out of range")]
    Overflow,
}
