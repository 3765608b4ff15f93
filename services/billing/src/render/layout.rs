//! Text flowing down A4 pages in one font, and the PDF file around them.
//! What goes on an invoice is in `pdf.rs`; this knows pages, not invoices.

use pdf_writer::types::TextRenderingMode;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::font::Font;
use super::pdf::RenderError;

pub(super) const PAGE_WIDTH: f32 = 595.28;
pub(super) const PAGE_HEIGHT: f32 = 841.89;
pub(super) const LEFT: f32 = 48.0;
pub(super) const RIGHT: f32 = PAGE_WIDTH - LEFT;
pub(super) const TOP: f32 = PAGE_HEIGHT - 48.0;
/// Below this only the footer goes.
pub(super) const BOTTOM: f32 = 64.0;
pub(super) const BODY: f32 = 9.0;
pub(super) const SMALL: f32 = 8.0;
/// Line height over font size.
pub(super) const LEADING: f32 = 1.4;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Style {
    Normal,
    Bold,
    Gray,
}

#[derive(Clone, Copy)]
pub(super) enum Align {
    Left,
    Right,
}

pub(super) struct Layout<'a> {
    font: Font<'a>,
    /// Whether Japanese text shows (else it prints as `?`).
    pub(super) cjk: bool,
    pages: Vec<Content>,
    /// The baseline of the next row on the last page.
    pub(super) y: f32,
}

impl<'a> Layout<'a> {
    pub(super) fn new(font: Font<'a>) -> Self {
        let cjk = font.is_cjk();
        Layout {
            font,
            cjk,
            pages: vec![Content::new()],
            y: TOP,
        }
    }

    /// `english`, followed by `japanese` when the font can show it.
    pub(super) fn label(&self, english: &str, japanese: &str) -> String {
        if self.cjk {
            format!("{english} {japanese}")
        } else {
            english.to_owned()
        }
    }

    /// Draws `text` on the last page, `x` being its left or right end.
    pub(super) fn text(
        &mut self,
        x: f32,
        y: f32,
        size: f32,
        align: Align,
        style: Style,
        text: &str,
    ) {
        self.text_on(self.pages.len() - 1, x, y, size, align, style, text);
    }

    #[allow(clippy::too_many_arguments)] // `text` with a page: kept flat like it.
    fn text_on(
        &mut self,
        page: usize,
        x: f32,
        y: f32,
        size: f32,
        align: Align,
        style: Style,
        text: &str,
    ) {
        let bytes = self.font.encode(text);
        let x = match align {
            Align::Left => x,
            Align::Right => x - self.font.width(text, size),
        };
        let Some(page) = self.pages.get_mut(page) else {
            return;
        };
        page.save_state();
        match style {
            Style::Normal => {}
            // Stroking the outlines thickens them: a bold face without a
            // second font to embed or measure.
            Style::Bold => {
                page.set_text_rendering_mode(TextRenderingMode::FillStroke);
                page.set_line_width(size * 0.04);
            }
            Style::Gray => {
                page.set_fill_gray(0.35);
            }
        }
        page.begin_text();
        page.set_font(Name(b"F1"), size);
        page.next_line(x, y);
        page.show(Str(&bytes));
        page.end_text();
        page.restore_state();
    }

    /// A thin line from `from` to the right margin.
    pub(super) fn rule(&mut self, y: f32, from: f32) {
        if let Some(page) = self.pages.last_mut() {
            page.set_line_width(0.5);
            page.move_to(from, y).line_to(RIGHT, y).stroke();
        }
    }

    /// Starts a new page unless `height` more points fit on this one; says
    /// whether it did.
    pub(super) fn ensure(&mut self, height: f32) -> bool {
        if self.y - height >= BOTTOM {
            return false;
        }
        self.pages.push(Content::new());
        self.y = TOP;
        true
    }

    /// `text` broken into lines no wider than `width`: at its own line
    /// breaks, at the last space that fits, else (Japanese has no spaces)
    /// between any two characters.
    pub(super) fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut current = String::new();
            for c in paragraph.chars() {
                current.push(c);
                if self.font.width(&current, size) <= width || current.chars().count() == 1 {
                    continue;
                }
                let rest = match current.trim_end().rfind(' ').filter(|&at| at > 0) {
                    Some(at) => {
                        let rest = current[at + 1..].to_owned();
                        current.truncate(at);
                        rest
                    }
                    None => {
                        current.pop();
                        c.to_string()
                    }
                };
                let line = std::mem::replace(&mut current, rest.trim_start().to_owned());
                lines.push(line.trim_end().to_owned());
            }
            lines.push(current);
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    }

    /// The PDF: each page gets a footer of `footer` and `Page n of m`.
    pub(super) fn finish(mut self, title: &str, footer: &str) -> Result<Vec<u8>, RenderError> {
        let count = self.pages.len();
        for index in 0..count {
            let of = format!("Page {} of {count}", index + 1);
            self.text_on(index, LEFT, 36.0, SMALL, Align::Left, Style::Gray, footer);
            self.text_on(index, RIGHT, 36.0, SMALL, Align::Right, Style::Gray, &of);
        }

        let mut next = Ref::new(1);
        let [catalog, tree, font, info] = [(); 4].map(|()| next.bump());
        let ids: Vec<(Ref, Ref)> = (0..count).map(|_| (next.bump(), next.bump())).collect();
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(ids.iter().map(|(page, _)| *page))
            .count(i32::try_from(count).unwrap_or(i32::MAX));
        for ((page_id, content_id), content) in ids.into_iter().zip(self.pages) {
            let mut page = pdf.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
                .parent(tree)
                .contents(content_id);
            page.resources().fonts().pair(Name(b"F1"), font);
            page.finish();
            pdf.stream(content_id, &deflate(&content.finish()))
                .filter(Filter::FlateDecode);
        }
        // Last: the glyphs to subset are known only once all text is set.
        self.font.write(&mut pdf, font, &mut next)?;
        pdf.document_info(info).title(TextStr(title));
        Ok(pdf.finish())
    }
}

/// Streams are compressed: a page of text shrinks to about a third.
pub(super) fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces_and_else_anywhere() {
        let layout = Layout::new(Font::Helvetica);
        // Helvetica digits are 0.556 em: five fit in 30 points at 10.
        assert_eq!(layout.wrap("11111 22 33", 10.0, 30.0), ["11111", "22 33"]);
        assert_eq!(layout.wrap("1234567", 10.0, 30.0), ["12345", "67"]);
        assert_eq!(layout.wrap("a\nb", 10.0, 30.0), ["a", "b"]);
        assert_eq!(layout.wrap("", 10.0, 30.0), [""]);
    }
}
