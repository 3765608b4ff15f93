//! Invoices the renderers' tests print. Their amounts are worked out by
//! hand (below each line) so the expected strings in the tests can be
//! checked against the arithmetic, not against the renderer.

use callvault_contracts::billing_api::{
    Account, BillingProfile, ChargeUnit, Currency, Dec, Invoice, InvoiceLine, InvoiceStatus,
    LineKind, Meter, Party, PlanLevel, RoundingMode, TaxSubtotal, TierLine,
};
use callvault_contracts::{BpoId, TenantId};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

fn dec(value: &str) -> Dec {
    value.parse().expect("fixture decimals are valid")
}

fn day(value: &str) -> NaiveDate {
    value.parse().expect("fixture dates are valid")
}

fn at(value: &str) -> DateTime<Utc> {
    value.parse().expect("fixture instants are valid")
}

fn tier(
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

fn profile(legal_name: &str, address: &str, registration_number: Option<&str>) -> BillingProfile {
    BillingProfile {
        legal_name: legal_name.to_owned(),
        address: address.to_owned(),
        registration_number: registration_number.map(str::to_owned),
        invoice_prefix: "INV".to_owned(),
        rounding: RoundingMode::Down,
    }
}

/// A BPO's retail invoice to a Japanese tenant, rounding down.
pub(crate) fn jpy_invoice() -> Invoice {
    let lines = vec![
        InvoiceLine {
            kind: LineKind::BaseFee,
            meter: None,
            description: "Base fee (Standard plan)".to_owned(),
            quantity: dec("1"),
            unit: None,
            tiers: vec![],
            amount: 30_000,
            tax_rate: dec("10"),
            original_date: None,
        },
        // Graduated: 1000 × 2 + 9000 × 1.5 + 2345.5 × 1.2
        // = 2000 + 13500 + 2814.6 = 18314.6, rounded down to 18314.
        InvoiceLine {
            kind: LineKind::Usage,
            meter: Some(Meter::IngestedSeconds),
            description: "通話録音の取り込み (audio ingested)".to_owned(),
            quantity: dec("12345.5"),
            unit: Some(ChargeUnit::Minute),
            tiers: vec![
                tier("0", Some("1000"), "1000", "2", "2000"),
                tier("1000", Some("10000"), "9000", "1.5", "13500"),
                tier("10000", None, "2345.5", "1.2", "2814.6"),
            ],
            amount: 18_314,
            tax_rate: dec("10"),
            original_date: None,
        },
        // 123.456 × 5.5 = 679.008, rounded down to 679; taxed at 8%.
        InvoiceLine {
            kind: LineKind::Usage,
            meter: Some(Meter::StorageGbMonths),
            description: "Archive storage, \"cold\" tier".to_owned(),
            quantity: dec("123.456"),
            unit: Some(ChargeUnit::GbMonth),
            tiers: vec![tier("0", None, "123.456", "5.5", "679.008")],
            amount: 679,
            tax_rate: dec("8"),
            original_date: None,
        },
        // March's usage that arrived after March was finalized, re-rated
        // as a credit: -100 × 1.5 = -150.
        InvoiceLine {
            kind: LineKind::Adjustment,
            meter: Some(Meter::IngestedSeconds),
            description: "Late usage correction 調整".to_owned(),
            quantity: dec("-100"),
            unit: Some(ChargeUnit::Minute),
            tiers: vec![tier("0", None, "-100", "1.5", "-150")],
            amount: -150,
            tax_rate: dec("10"),
            original_date: Some(day("2026-03-31")),
        },
    ];
    Invoice {
        id: Uuid::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0042),
        status: InvoiceStatus::Finalized,
        number: Some("INV-000042".to_owned()),
        level: PlanLevel::Retail,
        account: Account::Tenant(TenantId(Uuid::from_u128(7))),
        issuer: Party::Bpo(BpoId(Uuid::from_u128(3))),
        issuer_profile: profile(
            "株式会社コールボールト",
            "東京都千代田区丸の内1-1-1\nコールボールトビル 5F",
            Some("T1234567890123"),
        ),
        recipient_profile: Some(profile(
            "株式会社サンプル商事",
            "大阪府大阪市北区梅田2-2-2",
            None,
        )),
        plan_id: Uuid::from_u128(11),
        plan_version: 2,
        currency: Currency::Jpy,
        time_zone: "Asia/Tokyo".to_owned(),
        period_first_day: day("2026-04-01"),
        period_last_day: day("2026-04-30"),
        period_start: at("2026-03-31T15:00:00Z"),
        period_end: at("2026-04-30T15:00:00Z"),
        finalize_after: at("2026-05-02T15:00:00Z"),
        // Still May 2nd in UTC, May 3rd in Tokyo: the issue date is Tokyo's.
        finalized_at: Some(at("2026-05-02T15:30:00Z")),
        lines,
        // 8%: 679 → 54.32, down to 54.
        // 10%: 30000 + 18314 - 150 = 48164 → 4816.4, down to 4816.
        taxes: vec![
            TaxSubtotal {
                rate: dec("8"),
                subtotal: 679,
                tax: 54,
            },
            TaxSubtotal {
                rate: dec("10"),
                subtotal: 48_164,
                tax: 4_816,
            },
        ],
        subtotal: 48_843,
        tax: 4_870,
        total: 53_713,
    }
}

/// The platform's wholesale invoice to a US BPO, untaxed.
pub(crate) fn usd_invoice() -> Invoice {
    let lines = vec![
        InvoiceLine {
            kind: LineKind::BaseFee,
            meter: None,
            description: "Platform fee".to_owned(),
            quantity: dec("1"),
            unit: None,
            tiers: vec![],
            amount: 49_900,
            tax_rate: dec("0"),
            original_date: None,
        },
        // 2400 min × 0.25 cents = 600 cents.
        InvoiceLine {
            kind: LineKind::Usage,
            meter: Some(Meter::PlayedSeconds),
            description: "Playback".to_owned(),
            quantity: dec("2400"),
            unit: Some(ChargeUnit::Minute),
            tiers: vec![tier("0", None, "2400", "0.25", "600")],
            amount: 600,
            tax_rate: dec("0"),
            original_date: None,
        },
        InvoiceLine {
            kind: LineKind::Adjustment,
            meter: Some(Meter::Recordings),
            description: "Recording deleted before billing".to_owned(),
            quantity: dec("-1"),
            unit: Some(ChargeUnit::Recording),
            tiers: vec![tier("0", None, "-1", "1234", "-1234")],
            amount: -1_234,
            tax_rate: dec("0"),
            original_date: Some(day("2026-03-15")),
        },
    ];
    Invoice {
        id: Uuid::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0043),
        status: InvoiceStatus::Finalized,
        number: Some("CV-2026-0007".to_owned()),
        level: PlanLevel::Wholesale,
        account: Account::Bpo(BpoId(Uuid::from_u128(5))),
        issuer: Party::Platform,
        issuer_profile: profile("CallVault, Inc.", "1 Harbor Way\nOakland, CA 94607", None),
        recipient_profile: Some(profile(
            "Acme Support, Inc. \"West\"",
            "500 Market St, Suite 1\nSan Francisco, CA 94105",
            None,
        )),
        plan_id: Uuid::from_u128(12),
        plan_version: 1,
        currency: Currency::Usd,
        time_zone: "America/New_York".to_owned(),
        period_first_day: day("2026-04-01"),
        period_last_day: day("2026-04-30"),
        period_start: at("2026-04-01T04:00:00Z"),
        period_end: at("2026-05-01T04:00:00Z"),
        finalize_after: at("2026-05-04T04:00:00Z"),
        finalized_at: Some(at("2026-05-04T04:00:10Z")),
        lines,
        // 49900 + 600 - 1234 = 49266.
        taxes: vec![TaxSubtotal {
            rate: dec("0"),
            subtotal: 49_266,
            tax: 0,
        }],
        subtotal: 49_266,
        tax: 0,
        total: 49_266,
    }
}

/// The JPY invoice while its period runs: no number, no issue date, and a
/// tenant that has not filled in its billing profile.
pub(crate) fn draft_invoice() -> Invoice {
    Invoice {
        status: InvoiceStatus::Draft,
        number: None,
        finalized_at: None,
        recipient_profile: None,
        ..jpy_invoice()
    }
}
