//! The CSV read back with a strict RFC 4180 reader.

use super::super::fixtures;
use super::*;

/// A minimal RFC 4180 reader, so the tests check fields rather than
/// the writer's own string building.
fn parse(csv: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = csv.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR must be followed by LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\n') => panic!("bare LF outside quotes in {csv:?}"),
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "last record lacks CRLF"
    );
    records
}

fn rows<'a>(records: &'a [Vec<String>], kind: &str) -> Vec<&'a Vec<String>> {
    records.iter().filter(|r| r[0] == kind).collect()
}

fn header<'a>(records: &'a [Vec<String>], key: &str) -> &'a str {
    rows(records, "header")
        .into_iter()
        .find(|r| r[1] == key)
        .map(|r| r[DESCRIPTION].as_str())
        .unwrap_or_else(|| panic!("no header {key}"))
}

#[test]
fn jpy_invoice_has_every_record_in_order() {
    let invoice = fixtures::jpy_invoice();
    let csv = invoice_csv(&invoice);
    let records = parse(&csv);
    assert!(records.iter().all(|r| r.len() == COLUMNS.len()), "{csv}");
    assert_eq!(records[0], COLUMNS.map(str::to_owned).to_vec());
    assert_eq!(header(&records, "number"), "INV-000042");
    assert_eq!(header(&records, "status"), "FINALIZED");
    // Finalized 2026-05-02T15:30Z: already May 3rd in Tokyo.
    assert_eq!(header(&records, "issue_date"), "2026-05-03");
    assert_eq!(header(&records, "issuer_name"), "株式会社コールボールト");
    assert_eq!(
        header(&records, "issuer_registration_number"),
        "T1234567890123"
    );
    assert_eq!(
        header(&records, "recipient_address"),
        invoice
            .recipient_profile
            .as_ref()
            .expect("recipient")
            .address
    );
    assert_eq!(header(&records, "period_first_day"), "2026-04-01");
    assert_eq!(header(&records, "period_last_day"), "2026-04-30");
    assert_eq!(header(&records, "currency"), "JPY");
    assert_eq!(header(&records, "time_zone"), "Asia/Tokyo");

    let kinds: Vec<&str> = records[14..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "line", "line", "tier", "tier", "tier", "line", "tier", "line", "tier", "tax", "tax",
            "total", "total", "total"
        ]
    );
    let usage = &records[15];
    assert_eq!(usage[1..4], ["2", "USAGE", "INGESTED_SECONDS"]);
    assert_eq!(
        usage[QUANTITY..=TAX_RATE],
        ["12345.5", "MINUTE", "3 tiers", "18314", "10"]
    );
    let third_tier = &records[18];
    assert_eq!(third_tier[1], "2");
    assert_eq!(third_tier[DESCRIPTION], "tier 3: over 10000");
    assert_eq!(
        third_tier[QUANTITY..=AMOUNT],
        ["2345.5", "MINUTE", "1.2", "2814.6"]
    );
    let adjustment = &records[21];
    assert_eq!(adjustment[2], "ADJUSTMENT");
    assert_eq!(adjustment[AMOUNT], "-150");
    assert_eq!(adjustment[ORIGINAL_DATE], "2026-03-31");
    let taxes: Vec<&[String]> = rows(&records, "tax")
        .iter()
        .map(|r| &r[AMOUNT..=TAX])
        .collect();
    assert_eq!(taxes, [["679", "8", "54"], ["48164", "10", "4816"]]);
    let totals: Vec<[&str; 2]> = rows(&records, "total")
        .iter()
        .map(|r| [r[1].as_str(), r[AMOUNT].as_str()])
        .collect();
    assert_eq!(
        totals,
        [["subtotal", "48843"], ["tax", "4870"], ["total", "53713"]]
    );
}

#[test]
fn usd_amounts_have_two_digits_and_negatives_stay_numbers() {
    let csv = invoice_csv(&fixtures::usd_invoice());
    let records = parse(&csv);
    let lines = rows(&records, "line");
    assert_eq!(lines[0][AMOUNT], "499.00");
    assert_eq!(lines[1][UNIT_PRICE], "0.0025");
    assert_eq!(lines[2][AMOUNT], "-12.34");
    assert!(
        csv.contains(",-12.34,"),
        "negative amount must not be prefixed: {csv}"
    );
    let totals: Vec<&str> = rows(&records, "total")
        .iter()
        .map(|r| r[AMOUNT].as_str())
        .collect();
    assert_eq!(totals, ["492.66", "0.00", "492.66"]);
}

#[test]
fn a_draft_says_so_and_has_no_issue_date() {
    let records = parse(&invoice_csv(&fixtures::draft_invoice()));
    assert_eq!(header(&records, "number"), "DRAFT");
    assert_eq!(header(&records, "status"), "DRAFT");
    assert_eq!(header(&records, "issue_date"), "");
}

#[test]
fn quotes_commas_quotes_and_newlines() {
    let mut out = String::new();
    write_record(
        &mut out,
        &[
            text("a,b"),
            text("say \"hi\""),
            text("one\ntwo"),
            text("plain"),
        ],
    );
    assert_eq!(out, "\"a,b\",\"say \"\"hi\"\"\",\"one\ntwo\",plain\r\n");
    let csv = invoice_csv(&fixtures::usd_invoice());
    let records = parse(&csv);
    assert_eq!(
        header(&records, "recipient_name"),
        "Acme Support, Inc. \"West\""
    );
    assert_eq!(
        header(&records, "recipient_address"),
        "500 Market St, Suite 1\nSan Francisco, CA 94105"
    );
}

#[test]
fn formula_text_is_defused_but_numbers_are_not() {
    let mut invoice = fixtures::usd_invoice();
    let recipient = invoice
        .recipient_profile
        .as_mut()
        .expect("fixture has a recipient");
    recipient.legal_name = "=HYPERLINK(\"http://x\",\"y\")".to_owned();
    recipient.address = "@SUM(1+1)".to_owned();
    invoice.lines[0].description = "+1 seat".to_owned();
    invoice.lines[1].description = "-minus".to_owned();
    let records = parse(&invoice_csv(&invoice));
    assert_eq!(
        header(&records, "recipient_name"),
        "'=HYPERLINK(\"http://x\",\"y\")"
    );
    assert_eq!(header(&records, "recipient_address"), "'@SUM(1+1)");
    let lines = rows(&records, "line");
    assert_eq!(lines[0][DESCRIPTION], "'+1 seat");
    assert_eq!(lines[1][DESCRIPTION], "'-minus");
    assert_eq!(lines[2][AMOUNT], "-12.34");
    assert_eq!(lines[2][QUANTITY], "-1");
}
