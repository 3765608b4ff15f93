//! What `manifest.json` says: the request, the files, the redactions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::redact::{RedactionMode, SpanChannel};

/// Bumped when a field changes meaning, so a verifier knows which rules
/// to read the manifest by.
const MANIFEST_VERSION: u32 = 1;

/// A file of the bundle as the manifest and `SHA256SUMS` list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the bundle's root, as stored in the ZIP.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// Where a redaction came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedactionSource {
    /// A reviewer marked the span.
    Reviewer,
    /// The recorder paused for card-number capture (PCI DSS): always
    /// redacted.
    PciPause,
}

/// A redaction applied to one of the bundle's recordings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRedaction {
    pub recording_id: Uuid,
    pub channel: SpanChannel,
    pub start_ms: u64,
    pub end_ms: u64,
    pub mode: RedactionMode,
    pub source: RedactionSource,
}

/// The caller's part of the manifest; the files are the bundle's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFields {
    pub request_id: Uuid,
    pub tenant_id: Uuid,
    pub generated_at: DateTime<Utc>,
    pub redactions: Vec<AppliedRedaction>,
}

#[derive(Serialize)]
struct Manifest<'a> {
    version: u32,
    request_id: Uuid,
    tenant_id: Uuid,
    generated_at: DateTime<Utc>,
    files: &'a [FileEntry],
    redactions: &'a [AppliedRedaction],
}

/// The manifest as JSON, for the signer.
pub(super) fn value(
    fields: &ManifestFields,
    files: &[FileEntry],
) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(Manifest {
        version: MANIFEST_VERSION,
        request_id: fields.request_id,
        tenant_id: fields.tenant_id,
        generated_at: fields.generated_at,
        files,
        redactions: &fields.redactions,
    })
}
