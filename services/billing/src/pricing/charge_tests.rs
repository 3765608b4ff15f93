//! Hand-computed prices: each expected amount is worked out in the comment
//! beside it, not by the code under test.

use callvault_contracts::billing_api::{
    Charge, ChargeModel, ChargeUnit, Dec, Meter, RoundingMode, Tier, TierLine,
};
use rust_decimal::Decimal;

use super::{PricingError, price, round_minor};

pub(super) fn d(text: &str) -> Decimal {
    text.parse().expect("a decimal literal")
}

fn dec(text: &str) -> Dec {
    Dec(d(text))
}

fn tier(up_to: Option<&str>, unit_price: &str) -> Tier {
    Tier {
        up_to: up_to.map(dec),
        unit_price: dec(unit_price),
    }
}

/// ≤1000 @ 2, ≤10000 @ 1.5, rest @ 1.
pub(super) fn three_tiers() -> Vec<Tier> {
    vec![
        tier(Some("1000"), "2"),
        tier(Some("10000"), "1.5"),
        tier(None, "1"),
    ]
}

pub(super) fn recordings(model: ChargeModel) -> Charge {
    Charge {
        meter: Meter::Recordings,
        unit: ChargeUnit::Recording,
        included: Dec::ZERO,
        model,
        tax_rate: None,
    }
}

fn minutes(included: &str, model: ChargeModel) -> Charge {
    Charge {
        meter: Meter::IngestedSeconds,
        unit: ChargeUnit::Minute,
        included: dec(included),
        model,
        tax_rate: None,
    }
}

fn line(
    from: &str,
    up_to: Option<&str>,
    quantity: &str,
    unit_price: &str,
    amount: &str,
) -> TierLine {
    TierLine {
        from: dec(from),
        up_to: up_to.map(dec),
        quantity: dec(quantity),
        unit_price: dec(unit_price),
        amount: dec(amount),
    }
}

fn amount(charge: &Charge, base: &str) -> Decimal {
    price(charge, d(base)).expect("a valid charge").amount
}

#[test]
fn graduated_and_volume_differ_exactly_past_the_first_tier() {
    let graduated = recordings(ChargeModel::Graduated {
        tiers: three_tiers(),
    });
    let volume = recordings(ChargeModel::Volume {
        tiers: three_tiers(),
    });
    // (quantity, graduated, volume)
    let table = [
        ("0", "0", "0"),
        ("500", "1000", "1000"),          // 500×2 both
        ("1000", "2000", "2000"),         // 1000 is in tier 1 for both
        ("1001", "2001.5", "1501.5"),     // 2000 + 1×1.5 | 1001×1.5
        ("10000", "15500", "15000"),      // 2000 + 9000×1.5 | 10000×1.5
        ("10001", "15501", "10001"),      // 15500 + 1×1 | 10001×1
        ("12000", "17500", "12000"),      // 15500 + 2000×1 | 12000×1
        ("1000.5", "2000.75", "1500.75"), // 2000 + 0.5×1.5 | 1000.5×1.5
    ];
    for (quantity, expected_graduated, expected_volume) in table {
        assert_eq!(
            amount(&graduated, quantity),
            d(expected_graduated),
            "graduated at {quantity}"
        );
        assert_eq!(
            amount(&volume, quantity),
            d(expected_volume),
            "volume at {quantity}"
        );
    }
}

#[test]
fn graduated_shows_one_line_per_tier_reached() {
    let charge = recordings(ChargeModel::Graduated {
        tiers: three_tiers(),
    });
    let priced = price(&charge, d("12000")).expect("valid");
    assert_eq!(
        priced.tiers,
        vec![
            line("0", Some("1000"), "1000", "2", "2000"),
            line("1000", Some("10000"), "9000", "1.5", "13500"),
            line("10000", None, "2000", "1", "2000"),
        ]
    );
    assert_eq!(priced.quantity, d("12000"));
    let at_boundary = price(&charge, d("1000")).expect("valid");
    assert_eq!(
        at_boundary.tiers,
        vec![line("0", Some("1000"), "1000", "2", "2000")]
    );
}

#[test]
fn volume_shows_the_tier_the_whole_quantity_is_in() {
    let charge = recordings(ChargeModel::Volume {
        tiers: three_tiers(),
    });
    let priced = price(&charge, d("1001")).expect("valid");
    assert_eq!(
        priced.tiers,
        vec![line("1000", Some("10000"), "1001", "1.5", "1501.5")]
    );
}

#[test]
fn nothing_billable_adds_no_model_line() {
    let models = [
        ChargeModel::PerUnit {
            unit_price: dec("3"),
        },
        ChargeModel::Graduated {
            tiers: three_tiers(),
        },
        ChargeModel::Volume {
            tiers: three_tiers(),
        },
        ChargeModel::Package {
            package_size: dec("10"),
            package_price: dec("100"),
        },
    ];
    for model in models {
        let priced = price(&recordings(model.clone()), Decimal::ZERO).expect("valid");
        assert_eq!(
            (priced.amount, priced.tiers.len()),
            (Decimal::ZERO, 0),
            "{model:?}"
        );
    }
}

#[test]
fn allowance_comes_first_and_tiers_count_billable_minutes() {
    let tiers = vec![tier(Some("9000"), "2"), tier(None, "1")];
    let charge = minutes("1000", ChargeModel::Graduated { tiers });
    // 10,000 minutes: 1,000 free, minutes 1,001–10,000 are tier 1's 9,000.
    let priced = price(&charge, d("600000")).expect("valid");
    assert_eq!(priced.quantity, d("10000"));
    assert_eq!(priced.amount, d("18000"));
    assert_eq!(
        priced.tiers,
        vec![
            line("0", Some("1000"), "1000", "0", "0"),
            line("0", Some("9000"), "9000", "2", "18000"),
        ]
    );
    // 10,001 minutes: the last one is in tier 2.
    let priced = price(&charge, d("600060")).expect("valid");
    assert_eq!(priced.amount, d("18001"));
    assert_eq!(priced.tiers[2], line("9000", None, "1", "1", "1"));
}

#[test]
fn allowance_bigger_than_usage_is_free() {
    let charge = minutes(
        "1000",
        ChargeModel::PerUnit {
            unit_price: dec("2"),
        },
    );
    // 30,000 seconds = 500 minutes, all within the 1,000 included.
    let priced = price(&charge, d("30000")).expect("valid");
    assert_eq!(priced.amount, Decimal::ZERO);
    assert_eq!(priced.tiers, vec![line("0", Some("1000"), "500", "0", "0")]);
}

#[test]
fn volume_boundaries_count_billable_units() {
    let tiers = vec![tier(Some("100"), "5"), tier(None, "4")];
    let charge = Charge {
        included: dec("50"),
        ..recordings(ChargeModel::Volume { tiers })
    };
    assert_eq!(amount(&charge, "150"), d("500")); // 100 billable × 5
    assert_eq!(amount(&charge, "151"), d("404")); // 101 billable × 4
    assert_eq!(amount(&charge, "50"), d("0"));
}

#[test]
fn fractional_minutes_are_exact() {
    let charge = minutes(
        "0",
        ChargeModel::PerUnit {
            unit_price: dec("2"),
        },
    );
    // 61 s = 61/60 min; × 2 = 122/60 = 2.0333…
    let priced = price(&charge, d("61")).expect("valid");
    assert_eq!(priced.amount, d("122") / d("60"));
    assert!(priced.amount.to_string().starts_with("2.0333333333"));
    assert_eq!(round_minor(priced.amount, RoundingMode::Down), Ok(2));
    assert_eq!(round_minor(priced.amount, RoundingMode::HalfUp), Ok(2));
    assert_eq!(round_minor(priced.amount, RoundingMode::Up), Ok(3));
    // 20 s at 3 a minute is exactly 1: multiplying before dividing keeps
    // it from being 0.99…9, which Down would make 0.
    let charge = minutes(
        "0",
        ChargeModel::PerUnit {
            unit_price: dec("3"),
        },
    );
    assert_eq!(amount(&charge, "20"), Decimal::ONE);
    assert_eq!(
        round_minor(amount(&charge, "20"), RoundingMode::Down),
        Ok(1)
    );
}

#[test]
fn hours_and_seconds_units() {
    let hourly = Charge {
        unit: ChargeUnit::Hour,
        ..minutes(
            "0",
            ChargeModel::PerUnit {
                unit_price: dec("120"),
            },
        )
    };
    // 5,400 s = 1.5 h × 120
    assert_eq!(amount(&hourly, "5400"), d("180"));
    let by_second = Charge {
        unit: ChargeUnit::Second,
        ..minutes(
            "0",
            ChargeModel::PerUnit {
                unit_price: dec("0.0025"),
            },
        )
    };
    assert_eq!(amount(&by_second, "1000"), d("2.5"));
}

#[test]
fn packages_are_charged_whole() {
    let charge = recordings(ChargeModel::Package {
        package_size: dec("100"),
        package_price: dec("500"),
    });
    // (quantity, packages × 500)
    for (quantity, expected) in [
        ("1", "500"),
        ("99.5", "500"),
        ("100", "500"),
        ("100.5", "1000"),
        ("101", "1000"),
        ("200", "1000"),
        ("201", "1500"),
    ] {
        assert_eq!(
            amount(&charge, quantity),
            d(expected),
            "package at {quantity}"
        );
    }
    let priced = price(&charge, d("101")).expect("valid");
    assert_eq!(priced.tiers, vec![line("0", None, "101", "500", "1000")]);
}

#[test]
fn packages_after_an_allowance_and_in_minutes() {
    let charge = minutes(
        "5",
        ChargeModel::Package {
            package_size: dec("10"),
            package_price: dec("300"),
        },
    );
    // 900 s = 15 min: 10 billable, one package.
    assert_eq!(amount(&charge, "900"), d("300"));
    // 901 s: 10 + 1/60 billable, a second package started.
    assert_eq!(amount(&charge, "901"), d("600"));
    // A fraction far below Decimal's 28th digit of the quotient still
    // starts a package.
    let tiny = recordings(ChargeModel::Package {
        package_size: dec("3"),
        package_price: dec("1"),
    });
    assert_eq!(
        amount(&tiny, "3000000000000000000.0000000001"),
        d("1000000000000000001")
    );
}

#[test]
fn storage_per_gb_month() {
    let charge = Charge {
        meter: Meter::StorageGbMonths,
        unit: ChargeUnit::GbMonth,
        included: dec("10"),
        model: ChargeModel::PerUnit {
            unit_price: dec("2.5"),
        },
        tax_rate: None,
    };
    // 12.25 GB-months, 10 free: 2.25 × 2.5
    assert_eq!(amount(&charge, "12.25"), d("5.625"));
}

#[test]
fn refuses_negative_usage_and_invalid_charges() {
    let charge = recordings(ChargeModel::PerUnit {
        unit_price: dec("1"),
    });
    assert_eq!(price(&charge, d("-1")), Err(PricingError::NegativeQuantity));
    let unbounded_missing = recordings(ChargeModel::Volume {
        tiers: vec![tier(Some("10"), "1")],
    });
    let error = price(&unbounded_missing, d("20")).expect_err("invalid tiers");
    assert_eq!(
        error.to_string(),
        "charge recordings: the last tier (tier 1) must be unbounded (no up_to)"
    );
}

#[test]
fn overflow_is_an_error_not_a_panic() {
    let charge = recordings(ChargeModel::PerUnit {
        unit_price: dec("1000000000000000000000"),
    });
    assert_eq!(
        price(&charge, d("1000000000000000000000")),
        Err(PricingError::Overflow)
    );
}
