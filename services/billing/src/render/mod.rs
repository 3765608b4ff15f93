//! Invoices as files people keep: CSV for spreadsheets and accounting
//! imports, PDF to send and archive. Both print the same content: the
//! parties, the period, every line with its tiers, the tax per rate (Japan's
//! qualified invoice rules want each rate's subtotal and tax) and the totals.
//!
//! Money is `i64` minor units in the contracts; it is printed in major
//! units with exactly the currency's minor digits, so a file never shows a
//! JPY amount with decimals or a USD one without cents. Unit prices and tier
//! amounts are exact decimals (a tier can cost `2814.6` yen before the line
//! is rounded), printed with at least the currency's minor digits.

pub mod csv;
mod font;
mod layout;
pub mod pdf;

#[cfg(test)]
mod fixtures;

pub use self::csv::invoice_csv;
pub use self::pdf::{RenderError, RenderOptions, invoice_pdf, invoice_pdf_with};

use callvault_contracts::billing_api::{
    ChargeUnit, Currency, Dec, Invoice, InvoiceStatus, LineKind, Meter, TierLine,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// `minor` in major units with exactly the currency's minor digits and no
/// grouping: `12345` (JPY), `-123.45` (USD).
pub(crate) fn money_plain(minor: i64, currency: Currency) -> String {
    Decimal::new(minor, currency.minor_digits()).to_string()
}

/// An exact amount in minor units (a unit price, a tier's amount before
/// rounding) in major units, with at least the currency's minor digits and
/// every further digit it has: `1.5` yen, `0.0025` dollars, `1.50` dollars.
pub(crate) fn exact_plain(minor: Dec, currency: Currency) -> String {
    let digits = currency.minor_digits();
    // Multiplying by 10^-digits is exact: it only adds to the scale.
    let mut major = (minor.0 * Decimal::new(1, digits)).normalize();
    if major.scale() < digits {
        major.rescale(digits);
    }
    major.to_string()
}

/// A plain decimal (`-1234.5`) with its integer part grouped by thousands:
/// `-1,234.5`.
pub(crate) fn group_thousands(plain: &str) -> String {
    let (sign, unsigned) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let mut grouped = String::with_capacity(plain.len() + int.len() / 3);
    grouped.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(frac) = frac {
        grouped.push('.');
        grouped.push_str(frac);
    }
    grouped
}

pub(crate) fn currency_symbol(currency: Currency) -> &'static str {
    match currency {
        Currency::Jpy => "¥",
        Currency::Usd => "$",
        Currency::Eur => "€",
    }
}

/// The sign goes before the symbol (`-¥1,000`), as Japanese and US
/// invoices print a credit.
fn with_symbol(plain: &str, currency: Currency) -> String {
    let grouped = group_thousands(plain);
    let symbol = currency_symbol(currency);
    match grouped.strip_prefix('-') {
        Some(rest) => format!("-{symbol}{rest}"),
        None => format!("{symbol}{grouped}"),
    }
}

/// How the PDF prints money: `¥12,345`, `$1,234.56`, `-€0.50`.
pub(crate) fn money_display(minor: i64, currency: Currency) -> String {
    with_symbol(&money_plain(minor, currency), currency)
}

/// [`exact_plain`] as the PDF prints it: `¥2,814.6`, `$0.0025`.
pub(crate) fn exact_display(minor: Dec, currency: Currency) -> String {
    with_symbol(&exact_plain(minor, currency), currency)
}

/// The day the invoice was finalized in the account's time zone: the date
/// Japanese law calls the invoice's date. An unknown zone name (the service
/// validates them on assignment) falls back to UTC rather than failing a
/// render.
pub(crate) fn issue_date(invoice: &Invoice) -> Option<NaiveDate> {
    let at = invoice.finalized_at?;
    Some(match invoice.time_zone.parse::<chrono_tz::Tz>() {
        Ok(zone) => at.with_timezone(&zone).date_naive(),
        Err(_) => at.date_naive(),
    })
}

/// The invoice number, or `DRAFT` before it has one.
pub(crate) fn number_or_draft(invoice: &Invoice) -> &str {
    invoice.number.as_deref().unwrap_or("DRAFT")
}

// The codes below are the contracts' serde names, so a CSV column holds
// the same words as the JSON API.

pub(crate) fn status_code(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Draft => "DRAFT",
        InvoiceStatus::Finalized => "FINALIZED",
    }
}

pub(crate) fn kind_code(kind: LineKind) -> &'static str {
    match kind {
        LineKind::BaseFee => "BASE_FEE",
        LineKind::Usage => "USAGE",
        LineKind::Adjustment => "ADJUSTMENT",
    }
}

pub(crate) fn meter_code(meter: Meter) -> &'static str {
    match meter {
        Meter::IngestedSeconds => "INGESTED_SECONDS",
        Meter::Recordings => "RECORDINGS",
        Meter::StorageGbMonths => "STORAGE_GB_MONTHS",
        Meter::PlayedSeconds => "PLAYED_SECONDS",
        Meter::DisclosuresDelivered => "DISCLOSURES_DELIVERED",
        Meter::ActiveUsers => "ACTIVE_USERS",
    }
}

pub(crate) fn unit_code(unit: ChargeUnit) -> &'static str {
    match unit {
        ChargeUnit::Second => "SECOND",
        ChargeUnit::Minute => "MINUTE",
        ChargeUnit::Hour => "HOUR",
        ChargeUnit::Recording => "RECORDING",
        ChargeUnit::GbMonth => "GB_MONTH",
        ChargeUnit::Request => "REQUEST",
        ChargeUnit::User => "USER",
    }
}

/// The unit as a reader of the PDF expects it.
pub(crate) fn unit_label(unit: ChargeUnit) -> &'static str {
    match unit {
        ChargeUnit::Second => "s",
        ChargeUnit::Minute => "min",
        ChargeUnit::Hour => "h",
        ChargeUnit::Recording => "recordings",
        ChargeUnit::GbMonth => "GB-month",
        ChargeUnit::Request => "requests",
        ChargeUnit::User => "users",
    }
}

/// `tier 2: 1000 to 10000`, `tier 3: over 10000`, `tier 1: all units` (a
/// single unbounded tier), with `number` deciding
/// how the bounds are printed (plain in CSV, grouped in the PDF).
pub(crate) fn tier_label(index: usize, tier: &TierLine, number: fn(&str) -> String) -> String {
    let from = number(&tier.from.to_string());
    match tier.up_to {
        Some(up_to) => format!(
            "tier {}: {from} to {}",
            index + 1,
            number(&up_to.to_string())
        ),
        None if tier.from == Dec::ZERO => format!("tier {}: all units", index + 1),
        None => format!("tier {}: over {from}", index + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_uses_the_currency_minor_digits() {
        assert_eq!(money_plain(12345, Currency::Jpy), "12345");
        assert_eq!(money_plain(12345, Currency::Usd), "123.45");
        assert_eq!(money_plain(-12345, Currency::Eur), "-123.45");
        assert_eq!(money_plain(5, Currency::Usd), "0.05");
        assert_eq!(money_plain(-5, Currency::Usd), "-0.05");
        assert_eq!(money_plain(0, Currency::Usd), "0.00");
        assert_eq!(money_plain(i64::MIN, Currency::Jpy), i64::MIN.to_string());
    }

    #[test]
    fn exact_amounts_keep_every_digit() {
        let dec = |s: &str| s.parse::<Dec>().expect("fixture decimal");
        assert_eq!(exact_plain(dec("1.5"), Currency::Jpy), "1.5");
        assert_eq!(exact_plain(dec("10"), Currency::Jpy), "10");
        assert_eq!(exact_plain(dec("0.25"), Currency::Usd), "0.0025");
        assert_eq!(exact_plain(dec("150"), Currency::Usd), "1.50");
        assert_eq!(exact_plain(dec("-2814.60"), Currency::Jpy), "-2814.6");
    }

    #[test]
    fn display_groups_thousands_and_puts_the_sign_first() {
        assert_eq!(money_display(1_234_567, Currency::Jpy), "¥1,234,567");
        assert_eq!(money_display(-123_456, Currency::Usd), "-$1,234.56");
        assert_eq!(money_display(999, Currency::Jpy), "¥999");
        assert_eq!(money_display(-50, Currency::Eur), "-€0.50");
        assert_eq!(group_thousands("-100000.25"), "-100,000.25");
    }
}
