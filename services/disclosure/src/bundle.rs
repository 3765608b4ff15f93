//! The export bundle of a disclosure request: a ZIP streamed to any
//! `Write` (no seeking, so straight into an upload or a socket), each file
//! hashed with SHA-256 on the way through.
//!
//! Layout, in this order:
//! - the caller's files: `recordings/<YYYYMMDDTHHMMSSZ>_<recording_id>.wav`
//!   ([`recording_path`]), `calls.json` and `calls.csv`
//!   ([`BundleWriter::add_calls`]), `information.json` and
//!   `information.txt` ([`BundleWriter::add_information`]);
//! - `manifest.json`: the request, the files (path, size, SHA-256) and the
//!   redactions applied, exactly the bytes the signing service returned;
//! - `SHA256SUMS`: every file above, `manifest.json` included, in the
//!   format `sha256sum -c SHA256SUMS` checks;
//! - `manifest.sig`: the base64 Ed25519 signature over `manifest.json`'s
//!   bytes, and a newline.
//!
//! Entries are stored, not deflated: WAV barely compresses and the rest is
//! small. Each entry has a data descriptor (flag bit 3) since its size and
//! CRC are known only after it. The archive switches to Zip64 records by
//! itself when it passes 4 GiB or 65,535 entries; a single entry is
//! limited to 4 GiB, which a WAV can't exceed anyway.

mod calls;
mod entry;
mod info;
mod manifest;
mod paths;

#[cfg(test)]
mod tests;

use std::error::Error;
use std::io::{self, Read, Write};

use aws_lc_rs::digest;
use chrono::{DateTime, Datelike, Timelike, Utc};
use uuid::Uuid;

use entry::{Stack, Tail};
use paths::Paths;

pub use calls::{CallRow, Direction, write_calls_csv, write_calls_json};
pub use info::{Bilingual, PrivacyNotice, write_information_json, write_information_txt};
pub use manifest::{AppliedRedaction, FileEntry, ManifestFields, RedactionSource};

/// The signed manifest.
pub const MANIFEST_PATH: &str = "manifest.json";
/// Checksums of every file, for `sha256sum -c`.
pub const SUMS_PATH: &str = "SHA256SUMS";
/// The base64 Ed25519 signature over `manifest.json`'s bytes.
pub const SIGNATURE_PATH: &str = "manifest.sig";

/// Where a recording goes in the bundle: its start (UTC) first, so a file
/// listing reads in call order.
pub fn recording_path(started_at: DateTime<Utc>, recording_id: Uuid) -> String {
    format!(
        "recordings/{}_{recording_id}.wav",
        started_at.format("%Y%m%dT%H%M%SZ")
    )
}

/// Why a bundle could not be written. After any of them the output is
/// incomplete (no ZIP directory) and must be discarded.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("invalid bundle path {path:?}: {why}")]
    InvalidPath { path: String, why: &'static str },
    #[error("{path:?} is already in the bundle")]
    DuplicatePath { path: String },
    /// The caller's writer or reader failed for this file.
    #[error("writing {path:?}: {source}")]
    Content {
        path: String,
        source: Box<dyn Error + Send + Sync>,
    },
    #[error("signing the manifest: {0}")]
    Sign(Box<dyn Error + Send + Sync>),
    #[error("the signer returned a manifest that differs from the one it was given")]
    SignerAltered,
    #[error("the signer returned a signature that is not base64 text")]
    BadSignature,
    #[error("an earlier error left the bundle incomplete")]
    Poisoned,
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("manifest: {0}")]
    Json(#[from] serde_json::Error),
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// The finished bundle.
#[derive(Debug)]
pub struct BundleSummary<W> {
    /// The writer the bundle went to, flushed.
    pub out: W,
    /// Bytes of the whole ZIP.
    pub size: u64,
    /// Hex SHA-256 of the whole ZIP (what a download link advertises).
    pub sha256: String,
    /// Every file with its size and SHA-256, `manifest.json` last.
    pub files: Vec<FileEntry>,
}

/// Writes a bundle to `W` in constant memory: a few buffers and one
/// [`FileEntry`] per file.
///
/// Dropping it unfinished (an early `?`) leaves the output without a ZIP
/// directory, so a partial bundle can't pass for a whole one.
pub struct BundleWriter<W: Write> {
    /// `None` once finished.
    zip: Option<Stack<W>>,
    gate: entry::Gate,
    modified: zip::DateTime,
    paths: Paths,
    files: Vec<FileEntry>,
    poisoned: bool,
}

impl<W: Write> BundleWriter<W> {
    /// A bundle whose entries are dated now (UTC).
    pub fn new(out: W) -> Self {
        Self::new_at(out, Utc::now())
    }

    /// A bundle whose entries are dated `modified` (stored as UTC: ZIP
    /// times have no zone), for output that depends on its inputs only.
    pub fn new_at(out: W, modified: DateTime<Utc>) -> Self {
        let gate = entry::Gate::default();
        let zip = zip::ZipWriter::new_stream(io::BufWriter::with_capacity(
            entry::BUFFER,
            Tail::new(out, gate.clone()),
        ));
        Self {
            zip: Some(zip),
            gate,
            modified: zip_time(modified),
            paths: Paths::default(),
            files: Vec::new(),
            poisoned: false,
        }
    }

    /// Streams `reader` to its end into the file `path`.
    pub fn add_file(
        &mut self,
        path: &str,
        mut reader: impl Read,
    ) -> Result<FileEntry, BundleError> {
        self.add_file_with(path, |out| io::copy(&mut reader, out))
            .map(|(_, entry)| entry)
    }

    /// Adds the file `path` with what `write` writes into the given
    /// writer (buffered: small writes are fine), and returns what `write`
    /// returned. `path` is relative, `/`-separated, of ASCII letters,
    /// digits, `.`, `_` and `-`; the three names [`finish`](Self::finish)
    /// writes are taken.
    pub fn add_file_with<T, E>(
        &mut self,
        path: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
    ) -> Result<(T, FileEntry), BundleError>
    where
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        self.check_usable()?;
        self.paths.claim(path)?;
        let (value, entry) = self.write_entry(path, write)?;
        self.files.push(entry.clone());
        Ok((value, entry))
    }

    /// Adds `calls.json` and `calls.csv` (the GDPR art. 20 portability
    /// formats) for `rows`.
    pub fn add_calls(&mut self, rows: &[CallRow]) -> Result<(), BundleError> {
        self.add_file_with("calls.json", |out| write_calls_json(rows, out))?;
        self.add_file_with("calls.csv", |out| write_calls_csv(rows, out))?;
        Ok(())
    }

    /// Adds `information.json` and `information.txt` (Japanese, then
    /// English) for `notice`.
    pub fn add_information(&mut self, notice: &PrivacyNotice) -> Result<(), BundleError> {
        self.add_file_with("information.json", |out| {
            write_information_json(notice, out)
        })?;
        self.add_file_with("information.txt", |out| write_information_txt(notice, out))?;
        Ok(())
    }

    /// Writes `manifest.json`, `SHA256SUMS` and `manifest.sig`, then the
    /// ZIP directory.
    ///
    /// `sign` gets the manifest as JSON and returns the bytes to store as
    /// `manifest.json` (the signing service's canonical JSON of that same
    /// value) and the base64 Ed25519 signature over exactly those bytes.
    /// The signer may add keys (the signing service adds `kind`), but the
    /// bytes must carry every key of the value given, unchanged: anything
    /// else is refused, the checksums would not describe what was signed.
    pub fn finish<E>(
        mut self,
        fields: &ManifestFields,
        sign: impl FnOnce(&serde_json::Value) -> Result<(Vec<u8>, String), E>,
    ) -> Result<BundleSummary<W>, BundleError>
    where
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        self.check_usable()?;
        let manifest = manifest::value(fields, &self.files)?;
        let (body, signature) = sign(&manifest).map_err(|error| BundleError::Sign(error.into()))?;
        if !carries(&body, &manifest) {
            return Err(BundleError::SignerAltered);
        }
        if !is_base64(&signature) {
            return Err(BundleError::BadSignature);
        }

        let (_, manifest_entry) = self.write_entry(MANIFEST_PATH, |out| out.write_all(&body))?;
        self.files.push(manifest_entry);
        let files = std::mem::take(&mut self.files);
        self.write_entry(SUMS_PATH, |out| {
            files
                .iter()
                .try_for_each(|file| writeln!(out, "{}  {}", file.sha256, file.path))
        })?;
        self.write_entry(SIGNATURE_PATH, |out| writeln!(out, "{signature}"))?;

        let zip = self.zip.take().ok_or(BundleError::Poisoned)?;
        let tail = zip
            .finish()?
            .into_inner()
            .into_inner()
            .map_err(|error| error.into_error())?;
        let (out, size, sha256) = tail.into_parts();
        Ok(BundleSummary {
            out,
            size,
            sha256,
            files,
        })
    }

    fn check_usable(&self) -> Result<(), BundleError> {
        if self.poisoned || self.zip.is_none() {
            return Err(BundleError::Poisoned);
        }
        Ok(())
    }

    /// One stored entry, hashed as it streams.
    fn write_entry<T, E>(
        &mut self,
        path: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
    ) -> Result<(T, FileEntry), BundleError>
    where
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        let zip = self.zip.as_mut().ok_or(BundleError::Poisoned)?;
        // Cleared only on success: any early return leaves the ZIP
        // mid-entry, and nothing more may be added to it.
        self.poisoned = true;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(self.modified)
            .unix_permissions(0o644);
        zip.start_file(path, options)?;
        let mut hashed = entry::Hashed::new(zip);
        let value = {
            let mut buffered = io::BufWriter::with_capacity(entry::BUFFER, &mut hashed);
            let value = write(&mut buffered).map_err(|error| BundleError::Content {
                path: path.to_owned(),
                source: error.into(),
            })?;
            // Hands the buffer to the ZIP without flushing the output
            // after every file.
            buffered.into_inner().map_err(|error| error.into_error())?;
            value
        };
        let (size, sha256) = hashed.finish();
        self.poisoned = false;
        Ok((
            value,
            FileEntry {
                path: path.to_owned(),
                size,
                sha256,
            },
        ))
    }
}

/// Whether the signed bytes are a JSON object holding every key of
/// `manifest` with the same value.
fn carries(body: &[u8], manifest: &serde_json::Value) -> bool {
    let Ok(serde_json::Value::Object(signed)) = serde_json::from_slice(body) else {
        return false;
    };
    let Some(manifest) = manifest.as_object() else {
        return false;
    };
    manifest
        .iter()
        .all(|(key, value)| signed.get(key) == Some(value))
}

impl<W: Write> Drop for BundleWriter<W> {
    fn drop(&mut self) {
        if self.zip.is_some() {
            // The ZIP writer's own drop would write a directory for the
            // files so far: a valid-looking archive missing its manifest.
            // With the gate shut, it can't.
            self.gate.shut();
        }
    }
}

/// A ZIP (DOS) time; outside its 1980–2107 range, the nearest end.
fn zip_time(at: DateTime<Utc>) -> zip::DateTime {
    let clamp = |value: u32| u8::try_from(value).unwrap_or(u8::MAX);
    let year = u16::try_from(at.year().clamp(1980, 2107)).unwrap_or(1980);
    zip::DateTime::from_date_and_time(
        year,
        clamp(at.month()),
        clamp(at.day()),
        clamp(at.hour()),
        clamp(at.minute()),
        clamp(at.second().min(59)),
    )
    .unwrap_or_default()
}

/// Standard base64 with padding, one line.
fn is_base64(text: &str) -> bool {
    !text.is_empty()
        && text.len().is_multiple_of(4)
        && text
            .trim_end_matches('=')
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/')
        && text.len() - text.trim_end_matches('=').len() <= 2
}

/// Lowercase hex of a digest.
fn hex(digest: &digest::Digest) -> String {
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
