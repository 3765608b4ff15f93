//! Properties over many quantities, tiers and lines.

use callvault_contracts::billing_api::{
    Charge, ChargeModel, ChargeUnit, Dec, InvoiceLine, LineKind, Meter, RoundingMode, Tier,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::{price, taxes};

/// Ascending bounds from positive steps, then an unbounded tier; prices
/// in hundredths.
fn tiers() -> impl Strategy<Value = Vec<Tier>> {
    prop::collection::vec((1u32..5_000, 0u32..1_000), 0..4).prop_flat_map(|bounded| {
        (0u32..1_000).prop_map(move |last_price| {
            let mut up_to = 0u32;
            let mut tiers: Vec<Tier> = bounded
                .iter()
                .map(|(step, price)| {
                    up_to += step;
                    Tier {
                        up_to: Some(Dec::from_int(i64::from(up_to))),
                        unit_price: Dec(Decimal::new(i64::from(*price), 2)),
                    }
                })
                .collect();
            tiers.push(Tier {
                up_to: None,
                unit_price: Dec(Decimal::new(i64::from(last_price), 2)),
            });
            tiers
        })
    })
}

fn mode() -> impl Strategy<Value = RoundingMode> {
    prop_oneof![
        Just(RoundingMode::Down),
        Just(RoundingMode::HalfUp),
        Just(RoundingMode::Up)
    ]
}

fn charge(model: ChargeModel, included: u32) -> Charge {
    Charge {
        meter: Meter::IngestedSeconds,
        unit: ChargeUnit::Minute,
        included: Dec::from_int(i64::from(included)),
        model,
        tax_rate: None,
    }
}

proptest! {
    #[test]
    fn graduated_amount_never_falls_as_usage_grows(
        tiers in tiers(),
        included in 0u32..2_000,
        a in 0u64..2_000_000,
        b in 0u64..2_000_000,
    ) {
        let charge = charge(ChargeModel::Graduated { tiers }, included);
        let (low, high) = (a.min(b), a.max(b));
        let low = price(&charge, Decimal::from(low)).expect("valid");
        let high = price(&charge, Decimal::from(high)).expect("valid");
        prop_assert!(low.amount <= high.amount, "{} > {}", low.amount, high.amount);
        // Tier amounts of whole tiers add up to the total, give or take the
        // last digit when a division by 60 doesn't terminate.
        let summed: Decimal = high.tiers.iter().map(|line| line.amount.0).sum();
        prop_assert!((summed - high.amount).abs() < Decimal::new(1, 20));
    }

    #[test]
    fn volume_amount_is_never_negative_and_uses_one_price(
        tiers in tiers(),
        included in 0u32..2_000,
        seconds in 0u64..2_000_000,
    ) {
        let charge = charge(ChargeModel::Volume { tiers }, included);
        let priced = price(&charge, Decimal::from(seconds)).expect("valid");
        prop_assert!(priced.amount >= Decimal::ZERO);
        let model_lines = priced.tiers.len() - usize::from(included > 0);
        prop_assert!(model_lines <= 1);
    }

    #[test]
    fn tax_per_rate_is_within_one_minor_unit_of_the_exact_tax(
        amounts in prop::collection::vec((-1_000_000i64..10_000_000, 0usize..3), 0..20),
        mode in mode(),
    ) {
        let rates = [Decimal::new(8, 0), Decimal::new(10, 0), Decimal::new(2625, 3)];
        let lines: Vec<InvoiceLine> = amounts
            .iter()
            .map(|(amount, rate)| InvoiceLine {
                kind: LineKind::Usage,
                meter: None,
                description: String::new(),
                quantity: Dec::from_int(1),
                unit: None,
                tiers: Vec::new(),
                amount: *amount,
                tax_rate: Dec(rates[*rate]),
                original_date: None,
            })
            .collect();
        for subtotal in taxes(&lines, mode).expect("in range") {
            let exact: Decimal = lines
                .iter()
                .filter(|line| line.tax_rate.0 == subtotal.rate.0)
                .map(|line| Decimal::from(line.amount) * line.tax_rate.0 / Decimal::ONE_HUNDRED)
                .sum();
            prop_assert!((Decimal::from(subtotal.tax) - exact).abs() < Decimal::ONE);
        }
    }
}
