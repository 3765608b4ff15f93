//! The storage service's operations.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::rpc::{Rpc, Service};
use crate::{Actor, RecordingId, TenantId};

/// Destroys a recording's wrapped data key and every object version
/// (crypto-shredding), for the metadata service's deletion worker.
/// Idempotent: shredding an already shredded (or never stored) recording
/// succeeds.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Shred {
    pub tenant: TenantId,
    pub recording: RecordingId,
}

impl Rpc for Shred {
    type Reply = ();
    const NAME: &'static str = "shred";
    const SERVICE: Service = Service::Storage;
}

/// Reads a whole recording, checking every frame and the SHA-256 recorded
/// at ingest, for `verifyRecording`. A damaged recording is a result
/// (`intact: false`), not an error; it is also reported like any integrity
/// failure (log, metric, audit chain).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct VerifyRecording {
    /// Checked again by storage against the permission table.
    pub actor: Actor,
    pub tenant: TenantId,
    pub recording: RecordingId,
}

/// What [`VerifyRecording`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Verification {
    pub intact: bool,
    /// Plaintext bytes read and checked.
    pub bytes_checked: u64,
    /// Hex SHA-256 recorded at ingest.
    pub expected_sha256: String,
    /// Which check failed, when one did.
    pub failure: Option<String>,
    pub verified_at: DateTime<Utc>,
}

impl Rpc for VerifyRecording {
    type Reply = Verification;
    const NAME: &'static str = "verify_recording";
    const SERVICE: Service = Service::Storage;
}

/// One tenant's stored audio over a time window, from storage's own
/// records: the sum over its recordings of plaintext bytes × the seconds of
/// `[from, to)` each was stored (created, not yet shredded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenantByteSeconds {
    pub tenant: TenantId,
    /// A decimal integer (it passes 2^64).
    pub byte_seconds: String,
}

/// Every tenant's stored byte-seconds over `[from, to)`, for billing's
/// daily reconciliation. Tenants with nothing stored in the window are left
/// out.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct StoredByteSeconds {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Rpc for StoredByteSeconds {
    type Reply = Vec<TenantByteSeconds>;
    const NAME: &'static str = "stored_byte_seconds";
    const SERVICE: Service = Service::Storage;
}
