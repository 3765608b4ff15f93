//! The PDFs are checked the way a reader or an accounting tool meets them:
//! through the text poppler's `pdftotext` extracts. These tests need
//! `pdftotext` (Debian: poppler-utils) and, for Japanese, IPAGothic
//! (Debian: fonts-ipafont-gothic) or the font `CALLVAULT_CJK_FONT` names;
//! without them they fail, saying so, rather than skip.

use std::io::Write as _;
use std::process::{Command, Stdio};

use callvault_contracts::billing_api::{Invoice, InvoiceLine};

use super::super::fixtures;
use super::super::{exact_display, money_display};
use super::{RenderError, RenderOptions, invoice_pdf, invoice_pdf_with};

const DEFAULT_CJK_FONT: &str = "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf";

fn cjk_options() -> RenderOptions {
    let path = std::env::var("CALLVAULT_CJK_FONT").unwrap_or_else(|_| DEFAULT_CJK_FONT.to_owned());
    let font = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the CJK test font {path}: {e}. Install it (apt-get install -y \
             fonts-ipafont-gothic) or point CALLVAULT_CJK_FONT at a TrueType/OpenType font \
             with Japanese glyphs."
        )
    });
    RenderOptions {
        cjk_font: Some(font),
    }
}

/// The page text as `pdftotext -layout` prints it: table rows stay rows.
fn pdftotext(pdf: &[u8]) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run pdftotext ({e}): these tests read the PDF's text with it. Install \
                 poppler-utils (apt-get install -y poppler-utils)."
            )
        });
    let mut stdin = child.stdin.take().expect("stdin was piped");
    // pdftotext reads all its input before writing: no deadlock.
    stdin.write_all(pdf).expect("write the PDF to pdftotext");
    drop(stdin);
    let output = child.wait_with_output().expect("wait for pdftotext");
    assert!(
        output.status.success(),
        "pdftotext failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("pdftotext -enc UTF-8 prints UTF-8")
}

fn assert_has(text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "{needle:?} is not in the PDF's text:\n{text}"
    );
}

/// Every row's amounts on one extracted line, in order: what a reader
/// of the tax table sees.
fn assert_row(text: &str, cells: &[&str]) {
    let found = text.lines().any(|line| {
        let mut rest = line;
        cells.iter().all(|cell| match rest.find(cell) {
            Some(at) => {
                rest = &rest[at + cell.len()..];
                true
            }
            None => false,
        })
    });
    assert!(found, "no line has {cells:?} in that order:\n{text}");
}

/// What Helvetica prints for `s`: Latin-1 as is, the rest as `?`
/// (the fixtures use no Windows-1252 extras).
fn helvetica(s: &str) -> String {
    s.chars()
        .map(|c| if u32::from(c) < 0x100 { c } else { '?' })
        .collect()
}

fn line_description(line: &InvoiceLine) -> String {
    match line.original_date {
        Some(day) => format!("{} (usage of {day})", line.description),
        None => line.description.clone(),
    }
}

/// The content every invoice PDF must carry, with `shown` mapping text
/// to what the font prints.
fn assert_content(invoice: &Invoice, text: &str, shown: fn(&str) -> String) {
    let currency = invoice.currency;
    assert_has(
        text,
        &format!("No. {}", invoice.number.as_deref().unwrap_or("DRAFT")),
    );
    assert_has(text, &shown(&invoice.issuer_profile.legal_name));
    if let Some(number) = &invoice.issuer_profile.registration_number {
        assert_has(text, &format!("Registration No. {number}"));
    }
    if let Some(recipient) = &invoice.recipient_profile {
        assert_has(text, &shown(&recipient.legal_name));
    }
    assert_has(
        text,
        &format!(
            "Period: {} – {}",
            invoice.period_first_day, invoice.period_last_day
        ),
    );
    for line in &invoice.lines {
        assert_row(
            text,
            &[
                &shown(&line_description(line)),
                &money_display(line.amount, currency),
            ],
        );
        for tier in &line.tiers {
            assert_has(text, &exact_display(tier.amount, currency));
        }
    }
    for tax in &invoice.taxes {
        let rate = format!("{}%", tax.rate);
        let subtotal = money_display(tax.subtotal, currency);
        let amount = money_display(tax.tax, currency);
        assert_row(text, &[&rate, "subtotal", &subtotal, "tax", &amount]);
    }
    assert_row(
        text,
        &["Subtotal", &money_display(invoice.subtotal, currency)],
    );
    assert_row(text, &["Total", &money_display(invoice.total, currency)]);
}

#[test]
fn jpy_invoice_in_japanese_font() {
    let invoice = fixtures::jpy_invoice();
    let pdf = invoice_pdf_with(&invoice, &cjk_options()).expect("render");
    let text = pdftotext(&pdf);
    assert_content(&invoice, &text, str::to_owned);
    assert_has(&text, "Invoice 請求書");
    assert_has(&text, "Issue date: 2026-05-03");
    assert_has(&text, "東京都千代田区丸の内1-1-1");
    assert_has(&text, "tier 3: over 10,000 at ¥1.2/min");
    assert_row(
        &text,
        &[
            "Late usage correction 調整 (usage of 2026-03-31)",
            "-100",
            "min",
            "10%",
            "-¥150",
        ],
    );
    assert_row(&text, &["8%", "subtotal 対象 ¥679", "tax 消費税 ¥54"]);
    assert_row(
        &text,
        &["10%", "subtotal 対象 ¥48,164", "tax 消費税 ¥4,816"],
    );
    assert_row(&text, &["Total 合計", "¥53,713"]);
    // A subset, not IPAGothic's 6 MB.
    assert!(
        pdf.len() < 200_000,
        "the PDF is {} bytes: is the font subset?",
        pdf.len()
    );
}

#[test]
fn jpy_invoice_in_helvetica_prints_question_marks_for_japanese() {
    let invoice = fixtures::jpy_invoice();
    let text = pdftotext(&invoice_pdf(&invoice).expect("render"));
    assert_content(&invoice, &text, helvetica);
    assert_has(&text, "Invoice");
    assert!(
        !text.contains("請求書"),
        "Helvetica cannot show Japanese:\n{text}"
    );
    assert_has(&text, "????????? (audio ingested)");
    assert_row(&text, &["8%", "subtotal ¥679", "tax ¥54"]);
}

#[test]
fn usd_invoice_prints_cents() {
    let invoice = fixtures::usd_invoice();
    let text = pdftotext(&invoice_pdf(&invoice).expect("render"));
    assert_content(&invoice, &text, helvetica);
    assert_has(&text, "Acme Support, Inc. \"West\"");
    assert_has(&text, "Issue date: 2026-05-04");
    assert_has(&text, "tier 1: all units at $0.0025/min");
    assert_row(
        &text,
        &[
            "Recording deleted before billing (usage of 2026-03-15)",
            "-1",
            "-$12.34",
        ],
    );
    assert_row(&text, &["0%", "subtotal $492.66", "tax $0.00"]);
    assert_row(&text, &["Total", "$492.66"]);
}

#[test]
fn draft_says_draft_and_has_no_issue_date() {
    let invoice = fixtures::draft_invoice();
    for options in [RenderOptions::default(), cjk_options()] {
        let text = pdftotext(&invoice_pdf_with(&invoice, &options).expect("render"));
        let shown: fn(&str) -> String = match options.cjk_font {
            Some(_) => str::to_owned,
            None => helvetica,
        };
        assert_content(&invoice, &text, shown);
        assert_has(&text, "No. DRAFT");
        assert_has(&text, "Issue date: DRAFT");
        assert_has(&text, "(no billing profile on file)");
    }
}

#[test]
fn long_invoices_flow_onto_more_pages() {
    let mut invoice = fixtures::jpy_invoice();
    let template = invoice.lines[1].clone();
    invoice.lines = (1..=60)
        .map(|i| InvoiceLine {
            description: format!("Usage batch {i:02}"),
            ..template.clone()
        })
        .collect();
    let text = pdftotext(&invoice_pdf_with(&invoice, &cjk_options()).expect("render"));
    let pages = text
        .split('\u{c}')
        .filter(|page| !page.trim().is_empty())
        .count();
    assert!(
        pages >= 3,
        "60 lines with 3 tiers each should take 3 pages or more, got {pages}"
    );
    assert_has(&text, &format!("Page {pages} of {pages}"));
    for i in 1..=60 {
        assert_has(&text, &format!("Usage batch {i:02}"));
    }
    // The table's header is repeated on each page.
    assert_eq!(text.matches("Description 品目").count(), pages, "{text}");
}

#[test]
fn rendering_is_deterministic() {
    let invoice = fixtures::jpy_invoice();
    let options = cjk_options();
    let first = invoice_pdf_with(&invoice, &options).expect("render");
    let second = invoice_pdf_with(&invoice, &options).expect("render");
    assert!(first == second, "two renders of one invoice differ");
}

#[test]
fn a_file_that_is_no_font_is_an_error() {
    let options = RenderOptions {
        cjk_font: Some(b"not a font".to_vec()),
    };
    let result = invoice_pdf_with(&fixtures::jpy_invoice(), &options);
    assert!(matches!(result, Err(RenderError::Font(_))), "{result:?}");
}
