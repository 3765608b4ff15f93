//! Rounding exact amounts to whole minor units, the issuer's way.

use callvault_contracts::billing_api::RoundingMode;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::PricingError;

/// Rounds an exact amount to an integer number of minor units:
/// `Down` towards zero (2.9 → 2, −2.9 → −2), `HalfUp` to the nearest with
/// halves away from zero (2.5 → 3, −2.5 → −3), `Up` away from zero
/// (2.1 → 3, −2.1 → −3).
///
/// An amount whose rounding doesn't fit an `i64` is an error, never
/// saturated: a capped amount would be a wrong invoice that looks right.
pub fn round_minor(amount: Decimal, mode: RoundingMode) -> Result<i64, PricingError> {
    let strategy = match mode {
        RoundingMode::Down => RoundingStrategy::ToZero,
        RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        RoundingMode::Up => RoundingStrategy::AwayFromZero,
    };
    amount
        .round_dp_with_strategy(0, strategy)
        .to_i64()
        .ok_or(PricingError::Overflow)
}
