//! An invoice as an A4 PDF, one page or more when the lines overflow (the
//! table's header is repeated on each page; every page's footer carries
//! the invoice number and `Page n of m`).
//!
//! Fonts: with [`RenderOptions::cjk_font`] (a TrueType or OpenType file
//! such as IPAPGothic from Debian's `fonts-ipafont-gothic`, or Noto Sans
//! JP/CJK; for a `.ttc` collection, its first face), all text is set in that
//! font, embedded as a subset of the glyphs used (tens of kilobytes), the
//! title reads `Invoice 請求書` and labels carry their Japanese names.
//! Without one, text is set in the viewer's built-in Helvetica, which
//! shows only Windows-1252 characters: everything else (Japanese names
//! included) is printed as `?`, and the title reads `Invoice`. The text is
//! extractable either way (copy, search, `pdftotext`).
//!
//! Money is printed with the currency's symbol, the sign before it and the
//! integer part grouped by thousands: `¥53,713`, `-¥150`, `$1,234.56`,
//! `-€0.50`. Exact tier amounts and unit prices keep their further digits
//! (`¥2,814.6`, `$0.0025`). Quantities are grouped too (`12,345.5`), rates
//! are percent (`10%`), dates ISO 8601. The issue date is the day of
//! finalization in the invoice's time zone; a draft shows `DRAFT` for its
//! number and issue date.
//!
//! The output has no timestamp or random ID: an invoice renders to the same
//! bytes each time.

use callvault_contracts::billing_api::{Invoice, InvoiceLine, InvoiceStatus};

use super::font::Font;
use super::layout::{Align, BODY, LEADING, LEFT, Layout, RIGHT, SMALL, Style};
use super::{
    exact_display, group_thousands, issue_date, money_display, number_or_draft, tier_label,
    unit_label,
};

/// How invoices are rendered; the service loads it once at start.
#[derive(Clone, Default)]
pub struct RenderOptions {
    /// A TrueType/OpenType font (face 0 of a collection) with Japanese
    /// glyphs; `None` prints in Helvetica with `?` for what it lacks.
    pub cjk_font: Option<Vec<u8>>,
}

impl std::fmt::Debug for RenderOptions {
    // The font is megabytes: say only whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderOptions")
            .field("cjk_font", &self.cjk_font.as_ref().map(|font| font.len()))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The configured font cannot be used.
    #[error("invoice font: {0}")]
    Font(String),
}

/// The invoice in Helvetica: see [`invoice_pdf_with`] to print Japanese.
pub fn invoice_pdf(invoice: &Invoice) -> Result<Vec<u8>, RenderError> {
    invoice_pdf_with(invoice, &RenderOptions::default())
}

pub fn invoice_pdf_with(
    invoice: &Invoice,
    options: &RenderOptions,
) -> Result<Vec<u8>, RenderError> {
    let font = match &options.cjk_font {
        Some(data) => Font::embedded(data)?,
        None => Font::Helvetica,
    };
    let mut layout = Layout::new(font);
    layout.invoice(invoice);
    let number = number_or_draft(invoice);
    layout.finish(&format!("Invoice {number}"), number)
}

// The lines table: description on the left, numbers right-aligned.
const DESCRIPTION_WIDTH: f32 = 250.0;
const QUANTITY_RIGHT: f32 = 360.0;
const UNIT_LEFT: f32 = 368.0;
const TAX_RIGHT: f32 = 470.0;
/// The tax table's middle column, leaving room for `tax 消費税 ¥1,234,567`.
const SUBTOTAL_RIGHT: f32 = 435.0;
/// Where the parties' right column, the tax table and the totals start.
const MIDDLE: f32 = 300.0;

impl Layout<'_> {
    fn invoice(&mut self, invoice: &Invoice) {
        self.heading(invoice);
        self.parties(invoice);
        self.table_header();
        for line in &invoice.lines {
            self.line(invoice, line);
        }
        self.taxes_and_totals(invoice);
    }

    fn heading(&mut self, invoice: &Invoice) {
        let title = self.label("Invoice", "請求書");
        self.text(LEFT, self.y - 14.0, 20.0, Align::Left, Style::Bold, &title);
        let issued = issue_date(invoice).map_or_else(|| "DRAFT".to_owned(), |d| d.to_string());
        let rows = [
            (
                11.0,
                Style::Bold,
                format!("No. {}", number_or_draft(invoice)),
            ),
            (BODY, Style::Normal, format!("Issue date: {issued}")),
            (
                BODY,
                Style::Normal,
                format!(
                    "Period: {} – {}",
                    invoice.period_first_day, invoice.period_last_day
                ),
            ),
            (
                BODY,
                Style::Normal,
                format!(
                    "Time zone: {}   Currency: {}",
                    invoice.time_zone,
                    invoice.currency.code()
                ),
            ),
        ];
        for (size, style, row) in rows {
            self.text(RIGHT, self.y - size, size, Align::Right, style, &row);
            self.y -= size * LEADING;
        }
        if invoice.status == InvoiceStatus::Draft {
            let note = "Draft: amounts may still change until the invoice is finalized.";
            self.text(LEFT, self.y - BODY, BODY, Align::Left, Style::Gray, note);
        }
        self.y -= 18.0;
    }

    fn parties(&mut self, invoice: &Invoice) {
        let top = self.y;
        let column = MIDDLE - LEFT - 16.0;
        let bill_to = self.label("Bill to", "請求先");
        let recipient = invoice.recipient_profile.as_ref();
        let mut left = vec![(Style::Bold, bill_to)];
        match recipient {
            Some(profile) => {
                left.push((Style::Normal, profile.legal_name.clone()));
                left.push((Style::Gray, profile.address.clone()));
            }
            None => left.push((Style::Gray, "(no billing profile on file)".to_owned())),
        }
        let issuer = &invoice.issuer_profile;
        let mut right = vec![
            (Style::Bold, self.label("From", "請求元")),
            (Style::Normal, issuer.legal_name.clone()),
            (Style::Gray, issuer.address.clone()),
        ];
        if let Some(number) = &issuer.registration_number {
            // Japanese readers look for 登録番号 first.
            let japanese = if self.cjk { "登録番号 " } else { "" };
            right.push((
                Style::Normal,
                format!("{japanese}Registration No. {number}"),
            ));
        }
        let mut bottom = top;
        for (x, blocks) in [(LEFT, left), (MIDDLE, right)] {
            let mut y = top;
            for (style, block) in blocks {
                for row in self.wrap(&block, BODY, column) {
                    y -= BODY * LEADING;
                    self.text(x, y, BODY, Align::Left, style, &row);
                }
            }
            bottom = bottom.min(y);
        }
        self.y = bottom - 20.0;
    }

    fn table_header(&mut self) {
        let y = self.y - BODY;
        let cells = [
            (LEFT, Align::Left, self.label("Description", "品目")),
            (QUANTITY_RIGHT, Align::Right, self.label("Quantity", "数量")),
            (UNIT_LEFT, Align::Left, self.label("Unit", "単位")),
            (TAX_RIGHT, Align::Right, self.label("Tax", "税率")),
            (RIGHT, Align::Right, self.label("Amount", "金額")),
        ];
        for (x, align, cell) in cells {
            self.text(x, y, BODY, align, Style::Bold, &cell);
        }
        self.rule(y - 4.0, LEFT);
        self.y = y - 4.0 - 4.0;
    }

    /// A row of the table; `cells` are quantity, unit, tax rate, amount.
    fn row(&mut self, indent: f32, size: f32, style: Style, description: &str, cells: [&str; 4]) {
        let rows = self.wrap(description, size, DESCRIPTION_WIDTH - indent);
        let height = size * LEADING * rows.len() as f32;
        if self.ensure(height) {
            self.table_header();
        }
        let first = self.y - size * LEADING;
        for (x, align, cell) in [
            (QUANTITY_RIGHT, Align::Right, cells[0]),
            (UNIT_LEFT, Align::Left, cells[1]),
            (TAX_RIGHT, Align::Right, cells[2]),
            (RIGHT, Align::Right, cells[3]),
        ] {
            self.text(x, first, size, align, style, cell);
        }
        for row in rows {
            self.y -= size * LEADING;
            self.text(LEFT + indent, self.y, size, Align::Left, style, &row);
        }
    }

    fn line(&mut self, invoice: &Invoice, line: &InvoiceLine) {
        let currency = invoice.currency;
        let unit = line.unit.map(unit_label).unwrap_or_default();
        let mut description = line.description.clone();
        if let Some(day) = line.original_date {
            description.push_str(&format!(" (usage of {day})"));
        }
        let quantity = group_thousands(&line.quantity.to_string());
        let rate = format!("{}%", line.tax_rate);
        let amount = money_display(line.amount, currency);
        self.row(
            0.0,
            BODY,
            Style::Normal,
            &description,
            [&quantity, unit, &rate, &amount],
        );
        for (index, tier) in line.tiers.iter().enumerate() {
            let per = line
                .unit
                .map(|u| format!("/{}", unit_label(u)))
                .unwrap_or_default();
            let label = format!(
                "{} at {}{per}",
                tier_label(index, tier, group_thousands),
                exact_display(tier.unit_price, currency),
            );
            let quantity = group_thousands(&tier.quantity.to_string());
            let amount = exact_display(tier.amount, currency);
            self.row(
                12.0,
                SMALL,
                Style::Gray,
                &label,
                [&quantity, unit, "", &amount],
            );
        }
        self.y -= 3.0;
    }

    fn taxes_and_totals(&mut self, invoice: &Invoice) {
        let currency = invoice.currency;
        let rows = invoice.taxes.len() as f32 + 3.0;
        // The tax table and totals stay on one page: they are read together.
        self.ensure(BODY * LEADING * (rows + 2.0) + 30.0);
        self.rule(self.y, LEFT);
        self.y -= 12.0;
        self.text(
            MIDDLE,
            self.y - BODY,
            BODY,
            Align::Left,
            Style::Bold,
            &self.label("Tax by rate", "税率別内訳"),
        );
        self.y -= BODY * LEADING;
        let (subtotal_label, tax_label) =
            (self.label("subtotal", "対象"), self.label("tax", "消費税"));
        for tax in &invoice.taxes {
            self.y -= BODY * LEADING;
            let cells = [
                (MIDDLE, Align::Left, format!("{}%", tax.rate)),
                (
                    SUBTOTAL_RIGHT,
                    Align::Right,
                    format!("{subtotal_label} {}", money_display(tax.subtotal, currency)),
                ),
                (
                    RIGHT,
                    Align::Right,
                    format!("{tax_label} {}", money_display(tax.tax, currency)),
                ),
            ];
            for (x, align, cell) in cells {
                self.text(x, self.y, BODY, align, Style::Normal, &cell);
            }
        }
        self.y -= 10.0;
        let totals = [
            (
                self.label("Subtotal", "小計"),
                invoice.subtotal,
                Style::Normal,
                BODY,
            ),
            (
                self.label("Tax", "消費税"),
                invoice.tax,
                Style::Normal,
                BODY,
            ),
            (
                self.label("Total", "合計"),
                invoice.total,
                Style::Bold,
                11.0,
            ),
        ];
        for (label, amount, style, size) in totals {
            if style == Style::Bold {
                self.rule(self.y - 3.0, MIDDLE);
                self.y -= 4.0;
            }
            self.y -= size * LEADING;
            self.text(MIDDLE, self.y, size, Align::Left, style, &label);
            self.text(
                RIGHT,
                self.y,
                size,
                Align::Right,
                style,
                &money_display(amount, currency),
            );
        }
    }
}

#[cfg(test)]
#[path = "pdf_tests.rs"]
mod tests;
