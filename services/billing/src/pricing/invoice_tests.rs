use callvault_contracts::billing_api::{
    ChargeModel, Currency, Dec, InvoiceLine, LineKind, Meter, NewPlan, RoundingMode, TaxSubtotal,
    TierLine,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::charge_tests::{d, recordings, three_tiers};
use super::{PricingError, adjustment_line, base_fee_line, round_minor, taxes, totals, usage_line};

const MODES: [RoundingMode; 3] = [RoundingMode::Down, RoundingMode::HalfUp, RoundingMode::Up];

fn at_rate(amount: i64, rate: &str) -> InvoiceLine {
    InvoiceLine {
        kind: LineKind::Usage,
        meter: None,
        description: String::new(),
        quantity: Dec::from_int(1),
        unit: None,
        tiers: Vec::new(),
        amount,
        tax_rate: Dec(d(rate)),
        original_date: None,
    }
}

fn subtotal(rate: &str, subtotal: i64, tax: i64) -> TaxSubtotal {
    TaxSubtotal {
        rate: Dec(d(rate)),
        subtotal,
        tax,
    }
}

#[test]
fn rounding_modes_on_halves_and_negatives() {
    // (amount, down, half up, up)
    let table = [
        ("2.5", 2, 3, 3),
        ("-2.5", -2, -3, -3),
        ("2.4", 2, 2, 3),
        ("-2.4", -2, -2, -3),
        ("2.6", 2, 3, 3),
        ("0.0000001", 0, 0, 1),
        ("-0.0000001", 0, 0, -1),
        ("7", 7, 7, 7),
        ("-7", -7, -7, -7),
    ];
    for (amount, down, half_up, up) in table {
        let rounded: Vec<_> = MODES
            .iter()
            .map(|mode| round_minor(d(amount), *mode))
            .collect();
        assert_eq!(
            rounded,
            vec![Ok(down), Ok(half_up), Ok(up)],
            "rounding {amount}"
        );
    }
}

#[test]
fn rounding_past_i64_is_an_error() {
    assert_eq!(
        round_minor(Decimal::from(i64::MAX), RoundingMode::Down),
        Ok(i64::MAX)
    );
    let past = Decimal::from(i64::MAX) + d("0.5");
    assert_eq!(round_minor(past, RoundingMode::Down), Ok(i64::MAX));
    assert_eq!(
        round_minor(past, RoundingMode::HalfUp),
        Err(PricingError::Overflow)
    );
    assert_eq!(
        round_minor(Decimal::MIN, RoundingMode::Up),
        Err(PricingError::Overflow)
    );
}

#[test]
fn tax_is_rounded_once_per_rate_not_per_line() {
    let lines = [at_rate(5, "10"), at_rate(5, "10"), at_rate(5, "10")];
    // Per line: 0.5 each, rounded Down to 0 → 0, HalfUp to 1 → 3.
    // Per rate: 15 × 10% = 1.5 → Down 1, HalfUp 2, Up 2.
    let expected = [1, 2, 2];
    for (mode, tax) in MODES.into_iter().zip(expected) {
        assert_eq!(
            taxes(&lines, mode),
            Ok(vec![subtotal("10", 15, tax)]),
            "{mode:?}"
        );
    }
}

#[test]
fn eight_and_ten_percent_together_by_rate() {
    let lines = [
        at_rate(1000, "10"),
        at_rate(2500, "8"),
        at_rate(999, "8.0"),
        at_rate(-15, "10.00"),
    ];
    // 8%: 3,499 × 0.08 = 279.92. 10%: 985 × 0.1 = 98.5.
    let down = taxes(&lines, RoundingMode::Down).expect("in range");
    assert_eq!(
        down,
        vec![subtotal("8", 3499, 279), subtotal("10", 985, 98)]
    );
    assert_eq!(down[0].rate.to_string(), "8");
    assert_eq!(totals(&down), Ok((4484, 377, 4861)));
    let half_up = taxes(&lines, RoundingMode::HalfUp).expect("in range");
    assert_eq!(
        half_up,
        vec![subtotal("8", 3499, 280), subtotal("10", 985, 99)]
    );
    assert_eq!(totals(&half_up), Ok((4484, 379, 4863)));
}

#[test]
fn a_negative_subtotal_rounds_towards_zero_or_away() {
    let lines = [at_rate(-15, "10")];
    let taxed: Vec<_> = MODES
        .iter()
        .map(|mode| taxes(&lines, *mode).expect("in range")[0].tax)
        .collect();
    assert_eq!(taxed, vec![-1, -2, -2]);
}

#[test]
fn no_lines_no_taxes() {
    assert_eq!(taxes(&[], RoundingMode::Down), Ok(vec![]));
    assert_eq!(totals(&[]), Ok((0, 0, 0)));
    let huge = [at_rate(i64::MAX, "10"), at_rate(1, "10")];
    assert_eq!(
        taxes(&huge, RoundingMode::Down),
        Err(PricingError::Overflow)
    );
}

#[test]
fn usage_line_rounds_once_and_takes_the_charges_rate() {
    let mut charge = recordings(ChargeModel::Graduated {
        tiers: three_tiers(),
    });
    let plain = usage_line(
        Meter::Recordings,
        &charge,
        Dec::from_int(10),
        d("1001"),
        RoundingMode::Down,
        "recordings".to_owned(),
    )
    .expect("valid");
    // 2,001.5 rounded down.
    assert_eq!((plain.amount, plain.tax_rate), (2001, Dec::from_int(10)));
    assert_eq!(
        (plain.kind, plain.meter, plain.tiers.len()),
        (LineKind::Usage, Some(Meter::Recordings), 2)
    );
    assert_eq!(plain.quantity, Dec(d("1001")));
    charge.tax_rate = Some(Dec::from_int(8));
    let reduced = usage_line(
        Meter::Recordings,
        &charge,
        Dec::from_int(10),
        d("1001"),
        RoundingMode::HalfUp,
        String::new(),
    )
    .expect("valid");
    assert_eq!((reduced.amount, reduced.tax_rate), (2002, Dec::from_int(8)));
    let wrong = usage_line(
        Meter::ActiveUsers,
        &charge,
        Dec::ZERO,
        d("1"),
        RoundingMode::Down,
        String::new(),
    );
    assert_eq!(
        wrong.map_err(|error| error.to_string()),
        Err("line meter active_users is not the charge's meter recordings".to_owned())
    );
}

#[test]
fn base_fee_line_is_the_plans() {
    let plan = NewPlan {
        name: "Standard".to_owned(),
        currency: Currency::Jpy,
        base_fee: 30_000,
        tax_rate: Dec::from_int(10),
        charges: vec![],
    };
    let line = base_fee_line(&plan);
    assert_eq!(
        (line.kind, line.amount, line.tax_rate),
        (LineKind::BaseFee, 30_000, Dec::from_int(10))
    );
    assert_eq!(
        (line.quantity, line.meter, line.description.as_str()),
        (Dec::from_int(1), None, "Standard")
    );
}

#[test]
fn adjustment_is_the_marginal_cost_in_its_own_period() {
    let charge = recordings(ChargeModel::Graduated {
        tiers: three_tiers(),
    });
    let date = NaiveDate::from_ymd_opt(2026, 3, 31).expect("a date");
    // price(1,100) − price(900) = (2,000 + 100×1.5) − 1,800 = 350.
    let late = adjustment_line(
        Meter::Recordings,
        &charge,
        Dec::from_int(10),
        d("900"),
        d("200"),
        date,
        RoundingMode::Down,
    )
    .expect("valid");
    assert_eq!(
        (late.kind, late.amount, late.quantity),
        (LineKind::Adjustment, 350, Dec(d("200")))
    );
    assert_eq!(late.original_date, Some(date));
    let span = TierLine {
        from: Dec(d("900")),
        up_to: Some(Dec(d("1100"))),
        quantity: Dec(d("200")),
        unit_price: Dec(d("1.75")),
        amount: Dec(d("350")),
    };
    assert_eq!(late.tiers, vec![span.clone()]);
    // Storage that turned out shorter: the same span, taken back.
    let back = adjustment_line(
        Meter::Recordings,
        &charge,
        Dec::from_int(10),
        d("1100"),
        d("-200"),
        date,
        RoundingMode::Down,
    )
    .expect("valid");
    assert_eq!((back.amount, back.quantity), (-350, Dec(d("-200"))));
    let negated = TierLine {
        quantity: Dec(d("-200")),
        amount: Dec(d("-350")),
        ..span
    };
    assert_eq!(back.tiers, vec![negated]);
}

#[test]
fn adjustment_rounds_the_difference_not_each_price() {
    let charge = super::charge_tests::recordings(ChargeModel::PerUnit {
        unit_price: Dec(d("0.6")),
    });
    let date = NaiveDate::from_ymd_opt(2026, 1, 31).expect("a date");
    // price(1) = 0.6, price(2) = 1.2: the difference 0.6 rounds Down to 0,
    // where round(1.2) − round(0.6) would be 1.
    let late = adjustment_line(
        Meter::Recordings,
        &charge,
        Dec::ZERO,
        d("1"),
        d("1"),
        date,
        RoundingMode::Down,
    )
    .expect("valid");
    assert_eq!(late.amount, 0);
    let nothing = adjustment_line(
        Meter::Recordings,
        &charge,
        Dec::ZERO,
        d("1"),
        d("0"),
        date,
        RoundingMode::Up,
    )
    .expect("valid");
    assert_eq!((nothing.amount, nothing.tiers.len()), (0, 0));
    let below_zero = adjustment_line(
        Meter::Recordings,
        &charge,
        Dec::ZERO,
        d("1"),
        d("-2"),
        date,
        RoundingMode::Up,
    );
    assert_eq!(below_zero, Err(PricingError::NegativeQuantity));
}
