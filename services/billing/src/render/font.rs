//! The one font an invoice PDF is set in: a TrueType/OpenType font the
//! caller gives (a CJK one, so Japanese names print), embedded as a subset
//! of the glyphs used; or, without one, the PDF viewer's built-in
//! Helvetica, which can only show Windows-1252 (WinAnsi) characters.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId, Permissions};

use super::layout::deflate;
use super::pdf::RenderError;

/// Stands for every character the font cannot show.
const REPLACEMENT: char = '?';

pub(crate) enum Font<'a> {
    Helvetica,
    Embedded(Box<Embedded<'a>>),
}

pub(crate) struct Embedded<'a> {
    data: &'a [u8],
    face: Face<'a>,
    /// Glyphs used so far, numbered as they will be in the subset: the
    /// content stream writes the new numbers as it goes.
    remapper: GlyphRemapper,
    /// New glyph → the character it was drawn for, so text can be copied
    /// and searched (the ToUnicode map).
    text: BTreeMap<u16, char>,
}

impl<'a> Font<'a> {
    pub(crate) fn embedded(data: &'a [u8]) -> Result<Self, RenderError> {
        let face = Face::parse(data, 0).map_err(|e| RenderError::Font(e.to_string()))?;
        // A restricted font may not be put in a document at all, and one
        // that forbids subsetting would have to be embedded whole (megabytes
        // per invoice): refuse both rather than ship something unlawful or huge.
        if face.permissions() == Some(Permissions::Restricted) || !face.is_subsetting_allowed() {
            return Err(RenderError::Font(
                "the font's licence flags forbid embedding a subset".into(),
            ));
        }
        Ok(Font::Embedded(Box::new(Embedded {
            data,
            face,
            remapper: GlyphRemapper::new(),
            text: BTreeMap::new(),
        })))
    }

    /// Whether Japanese text can be shown.
    pub(crate) fn is_cjk(&self) -> bool {
        match self {
            Font::Helvetica => false,
            Font::Embedded(font) => font.face.glyph_index('請').is_some(),
        }
    }

    /// Width of `text` at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        let thousandths: f32 = match self {
            Font::Helvetica => text.chars().map(|c| helvetica_width(win_ansi(c))).sum(),
            Font::Embedded(font) => {
                let per_em = f32::from(font.face.units_per_em());
                text.chars()
                    .map(|c| f32::from(font.advance(font.glyph(c))) * 1000.0 / per_em)
                    .sum()
            }
        };
        thousandths * size / 1000.0
    }

    /// `text` as the bytes a `Tj` operator shows in this font.
    pub(crate) fn encode(&mut self, text: &str) -> Vec<u8> {
        match self {
            Font::Helvetica => text.chars().map(win_ansi).collect(),
            Font::Embedded(font) => {
                let mut bytes = Vec::with_capacity(text.len() * 2);
                for c in text.chars() {
                    let glyph = font.glyph(c);
                    let new = font.remapper.remap(glyph.0);
                    if glyph.0 != 0 {
                        font.text.entry(new).or_insert(c);
                    }
                    bytes.extend(new.to_be_bytes());
                }
                bytes
            }
        }
    }

    /// Writes the font's objects, `id` being the font dictionary pages
    /// refer to; `next` hands out further object numbers.
    pub(crate) fn write(&self, pdf: &mut Pdf, id: Ref, next: &mut Ref) -> Result<(), RenderError> {
        match self {
            Font::Helvetica => {
                pdf.type1_font(id)
                    .base_font(Name(b"Helvetica"))
                    .encoding_predefined(Name(b"WinAnsiEncoding"));
                Ok(())
            }
            Font::Embedded(font) => font.write(pdf, id, next),
        }
    }
}

impl Embedded<'_> {
    fn glyph(&self, c: char) -> GlyphId {
        self.face
            .glyph_index(c)
            .or_else(|| self.face.glyph_index(REPLACEMENT))
            .unwrap_or(GlyphId(0))
    }

    fn advance(&self, glyph: GlyphId) -> u16 {
        self.face.glyph_hor_advance(glyph).unwrap_or(0)
    }

    fn write(&self, pdf: &mut Pdf, id: Ref, next: &mut Ref) -> Result<(), RenderError> {
        let [cid_id, descriptor_id, cmap_id, file_id] = [(); 4].map(|()| next.bump());
        let subset = subsetter::subset(self.data, 0, &self.remapper)
            .map_err(|e| RenderError::Font(format!("cannot subset the font: {e}")))?;
        let name = self.subset_name();
        let name = Name(name.as_bytes());
        let system_info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        let per_em = f32::from(self.face.units_per_em());
        let scale = |units: i16| f32::from(units) * 1000.0 / per_em;
        // OpenType fonts with PostScript outlines (Noto CJK) are embedded
        // differently from TrueType ones (IPAGothic).
        let cff = self.face.tables().cff.is_some();

        pdf.type0_font(id)
            .base_font(name)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_id)
            .to_unicode(cmap_id);
        // The subsetter numbers glyphs as the remapper did and makes the
        // glyph number the CID, so the identity maps hold.
        let mut cid = pdf.cid_font(cid_id);
        cid.base_font(name)
            .system_info(system_info)
            .font_descriptor(descriptor_id);
        if cff {
            cid.subtype(CidFontType::Type0);
        } else {
            cid.subtype(CidFontType::Type2)
                .cid_to_gid_map_predefined(Name(b"Identity"));
        }
        let widths = self
            .remapper
            .remapped_gids()
            .map(|old| f32::from(self.advance(GlyphId(old))) * 1000.0 / per_em);
        cid.widths().consecutive(0, widths);
        cid.finish();

        let bbox = self.face.global_bounding_box();
        let mut descriptor = pdf.font_descriptor(descriptor_id);
        descriptor
            .name(name)
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                scale(bbox.x_min),
                scale(bbox.y_min),
                scale(bbox.x_max),
                scale(bbox.y_max),
            ))
            .italic_angle(self.face.italic_angle())
            .ascent(scale(self.face.ascender()))
            .descent(scale(self.face.descender()))
            .cap_height(scale(
                self.face.capital_height().unwrap_or(self.face.ascender()),
            ))
            .stem_v(80.0);
        if cff {
            descriptor.font_file3(file_id);
        } else {
            descriptor.font_file2(file_id);
        }
        descriptor.finish();

        let mut cmap = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), system_info);
        for (&glyph, &c) in &self.text {
            cmap.pair(glyph, c);
        }
        pdf.cmap(cmap_id, &cmap.finish());
        let length = i32::try_from(subset.len())
            .map_err(|_| RenderError::Font("the font subset is over 2 GiB".into()))?;
        let compressed = deflate(&subset);
        let mut file = pdf.stream(file_id, &compressed);
        file.filter(Filter::FlateDecode);
        if cff {
            file.pair(Name(b"Subtype"), Name(b"OpenType"));
        } else {
            file.pair(Name(b"Length1"), length);
        }
        Ok(())
    }

    /// `ABCDEF+PostScriptName`: a subset's name must start with a tag of
    /// six capitals. Derived from the glyphs used, so the same invoice
    /// renders to the same bytes.
    fn subset_name(&self) -> String {
        let mut hash: u32 = 0x811c_9dc5;
        for glyph in self.remapper.remapped_gids() {
            for byte in glyph.to_be_bytes() {
                hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
            }
        }
        let tag: String = (0..6)
            .map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8))
            .collect();
        let postscript = self
            .face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            // Only Unicode records decode; Macintosh ones come first in some fonts.
            .filter_map(|n| n.to_string())
            .find(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or_else(|| "Embedded".to_owned());
        format!("{tag}+{postscript}")
    }
}

/// The Windows-1252 byte for `c`, or `?`.
fn win_ansi(c: char) -> u8 {
    const HIGH: [(char, u8); 27] = [
        ('€', 0x80),
        ('‚', 0x82),
        ('ƒ', 0x83),
        ('„', 0x84),
        ('…', 0x85),
        ('†', 0x86),
        ('‡', 0x87),
        ('ˆ', 0x88),
        ('‰', 0x89),
        ('Š', 0x8A),
        ('‹', 0x8B),
        ('Œ', 0x8C),
        ('Ž', 0x8E),
        ('‘', 0x91),
        ('’', 0x92),
        ('“', 0x93),
        ('”', 0x94),
        ('•', 0x95),
        ('–', 0x96),
        ('—', 0x97),
        ('˜', 0x98),
        ('™', 0x99),
        ('š', 0x9A),
        ('›', 0x9B),
        ('œ', 0x9C),
        ('ž', 0x9E),
        ('Ÿ', 0x9F),
    ];
    match u32::from(c) {
        code @ (0x20..=0x7E | 0xA0..=0xFF) => u8::try_from(code).unwrap_or(b'?'),
        _ => HIGH
            .iter()
            .find(|(high, _)| *high == c)
            .map_or(REPLACEMENT as u8, |&(_, byte)| byte),
    }
}

/// Helvetica's advance widths (thousandths of an em, from Adobe's AFM) for
/// the printable ASCII range; other WinAnsi characters get the width of a
/// digit, close enough for the few (`¥`, `€`, `–`, accents) invoices use.
fn helvetica_width(byte: u8) -> f32 {
    const ASCII: [u16; 95] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
        278, // ␠ to /
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584,
        556, // 0 to ?
        1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
        778, // @ to O
        667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
        556, // P to _
        333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
        556, // ` to o
        556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p to ~
    ];
    let width = match byte {
        0x20..=0x7E => ASCII[usize::from(byte - 0x20)],
        0x97 => 1000,
        _ => 556,
    };
    f32::from(width)
}
