//! Reading the invoice files as their users do: the CSV as an RFC 4180
//! table, the PDF through poppler's `pdftotext` (Debian: poppler-utils).

use std::io::Write as _;
use std::process::{Command, Stdio};

/// The records of an RFC 4180 text: quoted fields may hold commas,
/// doubled quotes and line breaks.
pub fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// The PDF's text as `pdftotext -layout` prints it: table rows stay rows.
pub fn pdftotext(pdf: &[u8]) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run pdftotext ({e}): the scenario reads the invoice PDF with it. \
                 Install poppler-utils (apt-get install -y poppler-utils)."
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

/// Asserts one line of `text` holds `cells` in that order.
pub fn assert_row(text: &str, cells: &[&str]) {
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
