//! An invoice as one RFC 4180 table.
//!
//! Records end in CRLF. A field is quoted (`"`, inner quotes doubled) when
//! it holds a comma, a quote, CR or LF, so a multi-line address stays one
//! field. The text is UTF-8 without a byte order mark (a caller serving
//! Excel users may prepend U+FEFF).
//!
//! Every record has these 12 fields, and the first record names them:
//!
//! `record,key,kind,meter,description,quantity,unit,unit_price,amount,tax_rate,tax,original_date`
//!
//! `record` tells what the rest mean; fields not listed for a record are
//! empty. The records come in this order:
//!
//! 1. `header`, one per field of the invoice, `key` naming it and
//!    `description` holding its value: `invoice_id` (UUID), `number`
//!    (`DRAFT` before numbering), `status` (`DRAFT` or `FINALIZED`),
//!    `issue_date` (the day of finalization in `time_zone`; empty for a
//!    draft), `issuer_name`, `issuer_address`, `issuer_registration_number`
//!    (`T` and 13 digits, or empty), `recipient_name`, `recipient_address`
//!    (empty without a recipient profile), `period_first_day`,
//!    `period_last_day`, `currency` (ISO 4217), `time_zone` (IANA).
//! 2. `line`, one per invoice line, each followed by its `tier` records:
//!    `key` the line's number from 1; `kind` `BASE_FEE`, `USAGE` or
//!    `ADJUSTMENT`; `meter` (e.g. `INGESTED_SECONDS`, empty for the base
//!    fee); `description`; `quantity`; `unit` (e.g. `MINUTE`, empty for the
//!    base fee); `unit_price`: the price when the line has one tier, the
//!    text `N tiers` when it has more, empty when none; `amount` (rounded);
//!    `tax_rate` (percent); `original_date` (adjustments: the day the usage
//!    happened).
//! 3. `tier`, one per tier the line's quantity reached: `key` its line's
//!    number; `meter` and `unit` as its line's; `description` `tier 1: 0 to
//!    1000`, `tier 3: over 10000`, or `tier 1: all units` for one unbounded
//!    tier; `quantity`; `unit_price`; `amount` exact, before the line's
//!    rounding.
//! 4. `tax`, one per tax rate, in the invoice's order: `tax_rate`,
//!    `amount` (the rate's taxable subtotal), `tax`.
//! 5. `total`, three: `key` `subtotal`, `tax`, `total`, with `amount`.
//!
//! Numbers: money is in major units with exactly the currency's minor
//! digits (`12345` JPY, `123.45` USD/EUR), negative with a leading minus
//! (`-150`), no grouping, no symbol. Unit prices and tier amounts are exact
//! decimals in major units with at least the minor digits (`1.5` JPY,
//! `0.0025` USD, `2814.6` JPY). Quantities and rates are exact decimals
//! (`2345.5`, `-100`, `10`). Dates are ISO 8601 (`2026-04-30`); codes are
//! the JSON API's enum names.
//!
//! Spreadsheet formula injection: a text field starting with `=`, `+`, `-`,
//! `@`, TAB or CR gets a leading `'`. Numeric fields (line numbers,
//! quantities, prices, amounts, rates, dates) are never prefixed, so
//! negative amounts stay numbers.

use callvault_contracts::billing_api::{Invoice, InvoiceLine, TierLine};

use super::{
    exact_plain, issue_date, kind_code, meter_code, money_plain, number_or_draft, status_code,
    tier_label, unit_code,
};

const COLUMNS: [&str; 12] = [
    "record",
    "key",
    "kind",
    "meter",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "tax_rate",
    "tax",
    "original_date",
];

const KIND: usize = 2;
const METER: usize = 3;
const DESCRIPTION: usize = 4;
const QUANTITY: usize = 5;
const UNIT: usize = 6;
const UNIT_PRICE: usize = 7;
const AMOUNT: usize = 8;
const TAX_RATE: usize = 9;
const TAX: usize = 10;
const ORIGINAL_DATE: usize = 11;

/// A field as written: text may come from a tenant (a legal name, an
/// address) and is guarded; numbers are ours and never are.
#[derive(Clone, Default)]
enum Field {
    #[default]
    Empty,
    Text(String),
    Number(String),
}

fn text(value: impl Into<String>) -> Field {
    Field::Text(value.into())
}

fn number(value: impl Into<String>) -> Field {
    Field::Number(value.into())
}

/// The invoice as CSV; the module documentation is the column layout.
pub fn invoice_csv(invoice: &Invoice) -> String {
    let mut out = String::new();
    let names = COLUMNS.map(text);
    write_record(&mut out, &names);
    for (key, value) in header_fields(invoice) {
        let mut record = new_record("header", text(key));
        record[DESCRIPTION] = text(value);
        write_record(&mut out, &record);
    }
    for (index, line) in invoice.lines.iter().enumerate() {
        let key = number((index + 1).to_string());
        write_record(&mut out, &line_record(invoice, key.clone(), line));
        for (tier_index, tier) in line.tiers.iter().enumerate() {
            write_record(
                &mut out,
                &tier_record(invoice, key.clone(), line, tier_index, tier),
            );
        }
    }
    for tax in &invoice.taxes {
        let mut record = new_record("tax", Field::Empty);
        record[AMOUNT] = number(money_plain(tax.subtotal, invoice.currency));
        record[TAX_RATE] = number(tax.rate.to_string());
        record[TAX] = number(money_plain(tax.tax, invoice.currency));
        write_record(&mut out, &record);
    }
    for (key, amount) in [
        ("subtotal", invoice.subtotal),
        ("tax", invoice.tax),
        ("total", invoice.total),
    ] {
        let mut record = new_record("total", text(key));
        record[AMOUNT] = number(money_plain(amount, invoice.currency));
        write_record(&mut out, &record);
    }
    out
}

fn header_fields(invoice: &Invoice) -> Vec<(&'static str, String)> {
    let issuer = &invoice.issuer_profile;
    let recipient = invoice.recipient_profile.as_ref();
    vec![
        ("invoice_id", invoice.id.to_string()),
        ("number", number_or_draft(invoice).to_owned()),
        ("status", status_code(invoice.status).to_owned()),
        (
            "issue_date",
            issue_date(invoice)
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        ("issuer_name", issuer.legal_name.clone()),
        ("issuer_address", issuer.address.clone()),
        (
            "issuer_registration_number",
            issuer.registration_number.clone().unwrap_or_default(),
        ),
        (
            "recipient_name",
            recipient.map(|r| r.legal_name.clone()).unwrap_or_default(),
        ),
        (
            "recipient_address",
            recipient.map(|r| r.address.clone()).unwrap_or_default(),
        ),
        ("period_first_day", invoice.period_first_day.to_string()),
        ("period_last_day", invoice.period_last_day.to_string()),
        ("currency", invoice.currency.code().to_owned()),
        ("time_zone", invoice.time_zone.clone()),
    ]
}

fn new_record(kind: &str, key: Field) -> [Field; 12] {
    let mut record: [Field; 12] = Default::default();
    record[0] = text(kind);
    record[1] = key;
    record
}

fn line_record(invoice: &Invoice, key: Field, line: &InvoiceLine) -> [Field; 12] {
    let mut record = new_record("line", key);
    record[KIND] = text(kind_code(line.kind));
    record[METER] = line.meter.map(|m| text(meter_code(m))).unwrap_or_default();
    record[DESCRIPTION] = text(line.description.clone());
    record[QUANTITY] = number(line.quantity.to_string());
    record[UNIT] = line.unit.map(|u| text(unit_code(u))).unwrap_or_default();
    record[UNIT_PRICE] = match line.tiers.as_slice() {
        [] => Field::Empty,
        [only] => number(exact_plain(only.unit_price, invoice.currency)),
        tiers => text(format!("{} tiers", tiers.len())),
    };
    record[AMOUNT] = number(money_plain(line.amount, invoice.currency));
    record[TAX_RATE] = number(line.tax_rate.to_string());
    record[ORIGINAL_DATE] = line
        .original_date
        .map(|d| number(d.to_string()))
        .unwrap_or_default();
    record
}

fn tier_record(
    invoice: &Invoice,
    key: Field,
    line: &InvoiceLine,
    index: usize,
    tier: &TierLine,
) -> [Field; 12] {
    let mut record = new_record("tier", key);
    record[METER] = line.meter.map(|m| text(meter_code(m))).unwrap_or_default();
    record[DESCRIPTION] = text(tier_label(index, tier, str::to_owned));
    record[QUANTITY] = number(tier.quantity.to_string());
    record[UNIT] = line.unit.map(|u| text(unit_code(u))).unwrap_or_default();
    record[UNIT_PRICE] = number(exact_plain(tier.unit_price, invoice.currency));
    record[AMOUNT] = number(exact_plain(tier.amount, invoice.currency));
    record
}

fn write_record(out: &mut String, fields: &[Field]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match field {
            Field::Empty => {}
            Field::Number(value) => write_escaped(out, value),
            Field::Text(value) => {
                if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                    write_escaped(out, &format!("'{value}"));
                } else {
                    write_escaped(out, value);
                }
            }
        }
    }
    out.push_str("\r\n");
}

fn write_escaped(out: &mut String, value: &str) {
    if value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
