//! `information.json` and `information.txt`: what the controller must tell
//! the requester with the copy (GDPR art. 15(1), APPI art. 32), in
//! Japanese and English.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

/// A text in both languages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bilingual {
    pub en: String,
    pub ja: String,
}

/// The tenant's privacy notice for the requester.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyNotice {
    /// Why the recordings are processed.
    pub purposes: Bilingual,
    /// Which personal data (audio, numbers, times…).
    pub categories: Bilingual,
    /// Who receives it.
    pub recipients: Bilingual,
    /// How long it is kept.
    pub retention: Bilingual,
    /// Where it came from.
    pub source: Bilingual,
    /// The subject's rights and how to complain.
    pub rights: Bilingual,
}

impl PrivacyNotice {
    /// Each section with its Japanese and English headings.
    fn sections(&self) -> [(&'static str, &'static str, &Bilingual); 6] {
        [
            ("利用目的", "Purposes", &self.purposes),
            (
                "個人データの項目",
                "Categories of personal data",
                &self.categories,
            ),
            ("提供先", "Recipients", &self.recipients),
            ("保存期間", "Retention", &self.retention),
            ("取得元", "Source", &self.source),
            ("本人の権利", "Your rights", &self.rights),
        ]
    }
}

/// Writes `notice` as pretty-printed JSON, each field `{ "en", "ja" }`.
pub fn write_information_json(notice: &PrivacyNotice, mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, notice)?;
    out.write_all(b"\n")
}

/// Writes `notice` as UTF-8 plain text: the Japanese section, then the
/// English one, each a title and a headed paragraph per field.
pub fn write_information_txt(notice: &PrivacyNotice, mut out: impl Write) -> io::Result<()> {
    writeln!(out, "【個人データの取扱いについて】")?;
    for (heading, _, text) in notice.sections() {
        write_section(&mut out, heading, &text.ja)?;
    }
    writeln!(out)?;
    writeln!(out, "[About your personal data]")?;
    for (_, heading, text) in notice.sections() {
        write_section(&mut out, heading, &text.en)?;
    }
    Ok(())
}

fn write_section(out: &mut impl Write, heading: &str, text: &str) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "■ {heading}")?;
    // One line-end convention for the whole file.
    for line in text.trim_end().lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
