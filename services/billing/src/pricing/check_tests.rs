use callvault_contracts::billing_api::{
    Charge, ChargeModel, ChargeUnit, Currency, Dec, Meter, NewPlan, Tier,
};

use super::charge_tests::{d, three_tiers};
use super::check_plan;

fn plan(charges: Vec<Charge>) -> NewPlan {
    NewPlan {
        name: "Standard".to_owned(),
        currency: Currency::Jpy,
        base_fee: 10_000,
        tax_rate: Dec::from_int(10),
        charges,
    }
}

fn seconds(model: ChargeModel) -> Charge {
    Charge {
        meter: Meter::IngestedSeconds,
        unit: ChargeUnit::Minute,
        included: Dec::from_int(1000),
        model,
        tax_rate: None,
    }
}

fn tier(up_to: Option<&str>, unit_price: &str) -> Tier {
    Tier {
        up_to: up_to.map(|text| Dec(d(text))),
        unit_price: Dec(d(unit_price)),
    }
}

fn refusal(plan: &NewPlan) -> String {
    check_plan(plan).expect_err("a refused plan").to_string()
}

fn refusal_of(charge: Charge) -> String {
    refusal(&plan(vec![charge]))
}

#[test]
fn accepts_a_plan_of_every_model() {
    let charges = vec![
        seconds(ChargeModel::Graduated {
            tiers: three_tiers(),
        }),
        Charge {
            meter: Meter::PlayedSeconds,
            tax_rate: Some(Dec(d("8"))),
            ..seconds(ChargeModel::Volume {
                tiers: three_tiers(),
            })
        },
        Charge {
            meter: Meter::StorageGbMonths,
            unit: ChargeUnit::GbMonth,
            included: Dec::ZERO,
            model: ChargeModel::PerUnit {
                unit_price: Dec(d("0.5")),
            },
            tax_rate: Some(Dec(d("10.0000000"))),
        },
        Charge {
            meter: Meter::Recordings,
            unit: ChargeUnit::Recording,
            included: Dec::ZERO,
            model: ChargeModel::Package {
                package_size: Dec::from_int(100),
                package_price: Dec::ZERO,
            },
            tax_rate: None,
        },
    ];
    assert_eq!(check_plan(&plan(charges)), Ok(()));
}

#[test]
fn refuses_bad_names_fees_and_rates() {
    let cases = [
        (
            NewPlan {
                name: "  ".to_owned(),
                ..plan(vec![])
            },
            "plan name must not be blank",
        ),
        (
            NewPlan {
                name: "あ".repeat(201),
                ..plan(vec![])
            },
            "plan name must be at most 200 characters",
        ),
        (
            NewPlan {
                base_fee: -1,
                ..plan(vec![])
            },
            "base fee must not be negative",
        ),
        (
            NewPlan {
                tax_rate: Dec(d("-0.5")),
                ..plan(vec![])
            },
            "plan tax rate must be between 0 and 100",
        ),
        (
            NewPlan {
                tax_rate: Dec(d("100.01")),
                ..plan(vec![])
            },
            "plan tax rate must be between 0 and 100",
        ),
        (
            NewPlan {
                tax_rate: Dec(d("8.12345")),
                ..plan(vec![])
            },
            "plan tax rate must have at most 4 decimal places",
        ),
    ];
    for (plan, message) in cases {
        assert_eq!(refusal(&plan), message);
    }
    let exactly_200 = NewPlan {
        name: "あ".repeat(200),
        ..plan(vec![])
    };
    assert_eq!(check_plan(&exactly_200), Ok(()));
}

#[test]
fn refuses_a_second_charge_on_a_meter() {
    let charge = seconds(ChargeModel::PerUnit {
        unit_price: Dec::from_int(2),
    });
    assert_eq!(
        refusal(&plan(vec![charge.clone(), charge])),
        "charge ingested_seconds: the plan already has a charge on this meter"
    );
}

#[test]
fn refuses_bad_charges() {
    let per_unit = |price: &str| ChargeModel::PerUnit {
        unit_price: Dec(d(price)),
    };
    let cases = [
        (
            Charge {
                unit: ChargeUnit::Recording,
                ..seconds(per_unit("1"))
            },
            "charge ingested_seconds: unit recording is not allowed for this meter (allowed: second, minute, hour)",
        ),
        (
            Charge {
                meter: Meter::ActiveUsers,
                ..seconds(per_unit("1"))
            },
            "charge active_users: unit minute is not allowed for this meter (allowed: user)",
        ),
        (
            Charge {
                included: Dec(d("-1")),
                ..seconds(per_unit("1"))
            },
            "charge ingested_seconds: included must not be negative",
        ),
        (
            Charge {
                tax_rate: Some(Dec(d("101"))),
                ..seconds(per_unit("1"))
            },
            "charge ingested_seconds: tax rate must be between 0 and 100",
        ),
        (
            Charge {
                tax_rate: Some(Dec(d("0.00001"))),
                ..seconds(per_unit("1"))
            },
            "charge ingested_seconds: tax rate must have at most 4 decimal places",
        ),
        (
            seconds(per_unit("-0.01")),
            "charge ingested_seconds: unit price must not be negative",
        ),
        (
            seconds(ChargeModel::Package {
                package_size: Dec::ZERO,
                package_price: Dec::ZERO,
            }),
            "charge ingested_seconds: package size must be greater than zero",
        ),
        (
            seconds(ChargeModel::Package {
                package_size: Dec::from_int(10),
                package_price: Dec(d("-5")),
            }),
            "charge ingested_seconds: package price must not be negative",
        ),
    ];
    for (charge, message) in cases {
        assert_eq!(refusal_of(charge), message);
    }
}

#[test]
fn refuses_bad_tiers() {
    let cases = [
        (vec![], "charge ingested_seconds: tiers must not be empty"),
        (
            vec![
                tier(Some("1000"), "2"),
                tier(Some("1000"), "1.5"),
                tier(None, "1"),
            ],
            "charge ingested_seconds: tier 2 up_to must be greater than tier 1's",
        ),
        (
            vec![
                tier(Some("1000"), "2"),
                tier(Some("999"), "1.5"),
                tier(None, "1"),
            ],
            "charge ingested_seconds: tier 2 up_to must be greater than tier 1's",
        ),
        (
            vec![tier(Some("0"), "2"), tier(None, "1")],
            "charge ingested_seconds: tier 1 up_to must be greater than zero",
        ),
        (
            vec![tier(Some("-5"), "2"), tier(None, "1")],
            "charge ingested_seconds: tier 1 up_to must be greater than zero",
        ),
        (
            vec![tier(None, "2"), tier(None, "1")],
            "charge ingested_seconds: tier 1 is unbounded but is not the last tier",
        ),
        (
            vec![tier(Some("10"), "2"), tier(Some("20"), "1")],
            "charge ingested_seconds: the last tier (tier 2) must be unbounded (no up_to)",
        ),
        (
            vec![tier(Some("10"), "2"), tier(None, "-1")],
            "charge ingested_seconds: tier 2 unit price must not be negative",
        ),
    ];
    for (tiers, message) in cases {
        assert_eq!(
            refusal_of(seconds(ChargeModel::Graduated {
                tiers: tiers.clone()
            })),
            message
        );
        assert_eq!(refusal_of(seconds(ChargeModel::Volume { tiers })), message);
    }
}
