//! The recording lifecycle a regulator checks: retention rules, legal holds,
//! deletion (crypto-shredding) with certificates, the hash-chained audit
//! trail and the signed daily manifests.
//!
//! These are the domain types; the operations on them are in
//! [`crate::ops::lifecycle`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::call::Direction;
use crate::metadata_api::RecordingFilter;
use crate::{RecordingId, TenantId};

// ---- retention ----

/// The tenant-wide lifecycle settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenantPolicy {
    /// Kept this many days after the call started when no rule matches.
    pub default_retention_days: u32,
    /// Playback (a playback URL) is refused without a reason.
    pub require_playback_reason: bool,
}

/// Which calls a retention rule applies to: every condition given must hold
/// (an empty match applies to every call).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionMatch {
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    /// Every tag listed must be present on the call.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Every attribute listed must be present with this value
    /// (`CallMetadata::attributes`, e.g. `product = securities`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewRetentionRule {
    pub name: String,
    pub matches: RetentionMatch,
    pub retention_days: u32,
    /// Where several rules match, the longest period wins, unless one is
    /// overriding: then the overriding rules alone decide (the longest of
    /// them).
    pub overriding: bool,
    /// The legal duty to keep what the rule matches (e.g. "MiFID II art.
    /// 16(7)"): set, the rule is statutory, and a data subject's erasure
    /// request keeps (restricted) what it decides the retention of. 1 to
    /// 500 characters when given.
    #[serde(default)]
    pub legal_basis: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionRule {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub matches: RetentionMatch,
    pub retention_days: u32,
    pub overriding: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Set for a statutory rule (see [`NewRetentionRule::legal_basis`]).
    #[serde(default)]
    pub legal_basis: Option<String>,
}

/// The rule that decided a recording's retention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EffectiveRule {
    TenantDefault {
        retention_days: u32,
    },
    Rule {
        id: Uuid,
        name: String,
        retention_days: u32,
    },
}

/// Where a recording stands: until when it is kept, why, and what holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingLifecycle {
    pub recording_id: RecordingId,
    pub rule: EffectiveRule,
    pub retain_until: DateTime<Utc>,
    /// Active holds (explicit or by a case filter) that block its deletion.
    pub holds: Vec<Uuid>,
}

// ---- legal hold ----

/// What a hold covers: listed recordings, or every recording (present and
/// future) a search filter matches: a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HoldScope {
    Recordings { ids: Vec<RecordingId> },
    Filter { filter: RecordingFilter },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewLegalHold {
    pub case_name: String,
    pub reason: String,
    pub scope: HoldScope,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LegalHold {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub case_name: String,
    pub reason: String,
    pub scope: HoldScope,
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    pub released_by: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
    pub release_reason: Option<String>,
}

// ---- deletion ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeletionReason {
    /// Past its retain-until date.
    Retention,
    /// A user with the right asked for it.
    UserRequest,
    /// A data subject's erasure request (GDPR art. 17, APPI).
    Erasure,
}

/// What is left of a deleted recording: no personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tombstone {
    pub recording_id: RecordingId,
    pub tenant_id: TenantId,
    pub deleted_at: DateTime<Utc>,
    pub reason: DeletionReason,
    /// The rule in force (for retention deletions), else what the user said.
    pub policy: String,
    pub deleted_by: String,
}

/// One run of the deletion worker (or one user deletion) for one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeletionCertificate {
    /// The signed bytes: canonical JSON of the certificate (see
    /// `services/metadata/AUDIT.md`); `None` while its run is unfinished
    /// (in progress, or stopped before it could finish).
    #[serde(default)]
    pub body: Option<String>,
    /// Base64 (standard, padded) Ed25519 signature over `body` with the
    /// tenant's manifest key.
    #[serde(default)]
    pub signature: Option<String>,
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Exactly the recordings this run shredded.
    pub deleted: Vec<Tombstone>,
    /// Due but kept because a legal hold covers them.
    pub held_back: Vec<RecordingId>,
    /// Due but not deleted this run because shredding failed; the next run
    /// retries them.
    pub failed: Vec<RecordingId>,
    /// Due but kept because an open data-subject request preserves them
    /// (one entry per recording and request).
    #[serde(default)]
    pub held_by_request: Vec<HeldByRequest>,
    /// The data-subject erasure request this certificate's deletions were
    /// made for.
    #[serde(default)]
    pub request_id: Option<Uuid>,
}

/// A due recording a data-subject request preserves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeldByRequest {
    pub recording_id: RecordingId,
    pub request_id: Uuid,
}

// ---- access ----

/// What a signed URL is for: both stream the same bytes, but the audit
/// trail tells listening from taking a copy away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    #[default]
    Playback,
    Download,
}

// ---- audit ----

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Playback,
    Download,
    Export,
    ViewRecording,
    Search,
    RetentionChange,
    HoldPlaced,
    HoldReleased,
    Deletion,
    KeyChange,
    RoleChange,
    /// Storage found the recording damaged (a read, a verification or the
    /// scrub); `details` say which check failed.
    IntegrityFailure,
    /// A data-subject request's step (created, moved, restricted, erased…),
    /// written by the disclosure service or by a restriction.
    Disclosure,
    /// The recording policy or the do-not-record list changed (how many
    /// numbers, never which).
    RecordingPolicyChange,
}

/// One audit entry. `hash` is SHA-256 over the entry's canonical encoding
/// (see `services/metadata/AUDIT.md`) including `prev_hash`, so editing or
/// removing any entry breaks every later one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    pub tenant_id: TenantId,
    /// 1, 2, 3… per tenant, without gaps.
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// Who: the actor's subject and role.
    pub actor: String,
    pub role: String,
    pub action: AuditAction,
    /// What: a recording id, hold id, rule id, user id… as text.
    pub target: Option<String>,
    /// From where: the client address the gateway saw.
    pub origin: Option<String>,
    /// Why, when the caller gave (or had to give) a reason.
    pub reason: Option<String>,
    /// Action-specific details; never personal data (no phone numbers).
    pub details: serde_json::Value,
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `after_seq` for the next page.
    pub end_seq: Option<u64>,
    pub has_next_page: bool,
}

/// The result of recomputing a tenant's chain and checking it against the
/// audit heads signed into its daily manifests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChainVerification {
    pub entries_checked: u64,
    /// The first entry whose hash or link doesn't verify (or the first
    /// missing sequence number); when a manifest's audit head disagrees
    /// with the chain, the first entry after the last manifest head that
    /// agreed. `None` when the whole chain verifies.
    pub first_bad_seq: Option<u64>,
    /// Manifests (stored, and those the caller kept) whose audit head was
    /// compared with the chain.
    #[serde(default)]
    pub manifests_checked: u64,
    /// The day of the first manifest (in audit head order) whose audit
    /// head the chain no longer passes through: the chain was rewritten
    /// after that manifest was signed.
    #[serde(default)]
    pub mismatched_manifest: Option<NaiveDate>,
}

/// A manifest the tenant kept, handed back to check the chain against:
/// the body and signature exactly as `daily_manifest` returned them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeptManifest {
    pub body: String,
    pub signature: String,
}

// ---- manifests ----

/// The recordings a tenant added and deleted on one UTC day, signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignedManifest {
    pub tenant_id: TenantId,
    pub date: NaiveDate,
    /// The signed bytes: canonical JSON (see `services/metadata/AUDIT.md`).
    pub body: String,
    /// Base64 (standard, padded) Ed25519 signature over `body`.
    pub signature: String,
    /// Base64 Ed25519 public key of the tenant.
    pub public_key: String,
}
