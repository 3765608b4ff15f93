//! Output types of the recording lifecycle: retention, legal holds,
//! deletion certificates, the audit trail and the signed manifests.

use std::collections::BTreeMap;

use async_graphql::{Enum, Json, SimpleObject};
use callvault_contracts::lifecycle_api as api;
use callvault_contracts::metadata_api::RecordingFilter;
use callvault_contracts::ops::storage::Verification;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::scalars::Int64;
use super::types::Direction;

/// The tenant-wide lifecycle settings.
#[derive(SimpleObject)]
pub struct TenantPolicy {
    /// Days a recording is kept after its call started when no retention
    /// rule matches it.
    pub default_retention_days: u32,
    /// Whether `playbackUrl` needs a `reason`.
    pub require_playback_reason: bool,
}

impl From<api::TenantPolicy> for TenantPolicy {
    fn from(policy: api::TenantPolicy) -> Self {
        Self {
            default_retention_days: policy.default_retention_days,
            require_playback_reason: policy.require_playback_reason,
        }
    }
}

/// A call attribute, e.g. `product = securities`.
#[derive(SimpleObject)]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

pub(super) fn attributes(map: BTreeMap<String, String>) -> Vec<Attribute> {
    map.into_iter()
        .map(|(key, value)| Attribute { key, value })
        .collect()
}

/// Which calls a retention rule applies to: every condition given must
/// hold.
#[derive(SimpleObject)]
pub struct RetentionMatch {
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    /// Every tag listed must be on the call.
    pub tags: Vec<String>,
    /// Every attribute listed must be on the call with this value.
    pub attributes: Vec<Attribute>,
}

#[derive(SimpleObject)]
pub struct RetentionRule {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub matches: RetentionMatch,
    pub retention_days: u32,
    /// Where several rules match, the longest period wins, unless some are
    /// overriding: then the longest overriding one wins.
    pub overriding: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The legal duty to keep what the rule matches; null for a rule that
    /// is not statutory.
    pub legal_basis: Option<String>,
    /// Whether the rule is statutory (it has a `legalBasis`): a data
    /// subject's erasure request keeps, restricted, the recordings whose
    /// retention it decides until they are due.
    pub statutory: bool,
}

impl From<api::RetentionRule> for RetentionRule {
    fn from(rule: api::RetentionRule) -> Self {
        Self {
            id: rule.id,
            tenant_id: rule.tenant_id.0,
            name: rule.name,
            matches: RetentionMatch {
                queue: rule.matches.queue,
                direction: rule.matches.direction.map(Into::into),
                tags: rule.matches.tags,
                attributes: attributes(rule.matches.attributes),
            },
            retention_days: rule.retention_days,
            overriding: rule.overriding,
            created_by: rule.created_by,
            created_at: rule.created_at,
            statutory: rule.legal_basis.is_some(),
            legal_basis: rule.legal_basis,
        }
    }
}

/// What decided a recording's retention.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionSource {
    /// No rule matched: the tenant's default.
    TenantDefault,
    /// A retention rule (`id`, `name`).
    Rule,
}

#[derive(SimpleObject)]
pub struct EffectiveRule {
    pub source: RetentionSource,
    /// The rule's id, for `RULE`.
    pub id: Option<Uuid>,
    /// The rule's name, for `RULE`.
    pub name: Option<String>,
    pub retention_days: u32,
}

/// Where a recording stands: until when it is kept, by which rule, and the
/// legal holds that keep it beyond that.
#[derive(SimpleObject)]
pub struct RecordingLifecycle {
    pub rule: EffectiveRule,
    pub retain_until: DateTime<Utc>,
    /// Active legal holds covering the recording: while any is, it is not
    /// deleted.
    pub holds: Vec<Uuid>,
}

impl From<api::RecordingLifecycle> for RecordingLifecycle {
    fn from(lifecycle: api::RecordingLifecycle) -> Self {
        let rule = match lifecycle.rule {
            api::EffectiveRule::TenantDefault { retention_days } => EffectiveRule {
                source: RetentionSource::TenantDefault,
                id: None,
                name: None,
                retention_days,
            },
            api::EffectiveRule::Rule {
                id,
                name,
                retention_days,
            } => EffectiveRule {
                source: RetentionSource::Rule,
                id: Some(id),
                name: Some(name),
                retention_days,
            },
        };
        Self {
            rule,
            retain_until: lifecycle.retain_until,
            holds: lifecycle.holds,
        }
    }
}

/// The search a case hold covers (present and future recordings matching
/// it).
#[derive(SimpleObject)]
pub struct HoldFilter {
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    pub phone_number: Option<String>,
    pub tags: Vec<String>,
    pub min_duration_ms: Option<Int64>,
    pub max_duration_ms: Option<Int64>,
    pub notice_played: Option<bool>,
    pub attributes: Vec<Attribute>,
}

impl From<RecordingFilter> for HoldFilter {
    fn from(filter: RecordingFilter) -> Self {
        Self {
            started_after: filter.started_after,
            started_before: filter.started_before,
            agent: filter.agent,
            queue: filter.queue,
            direction: filter.direction.map(Into::into),
            phone_number: filter.phone_number,
            tags: filter.tags,
            min_duration_ms: filter.min_duration_ms.map(Int64),
            max_duration_ms: filter.max_duration_ms.map(Int64),
            notice_played: filter.notice_played,
            attributes: attributes(filter.attributes),
        }
    }
}

/// A legal hold: it covers either the listed `recordingIds` or every
/// recording its `filter` matches, and blocks their deletion until
/// released.
#[derive(SimpleObject)]
pub struct LegalHold {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub case_name: String,
    pub reason: String,
    /// For a hold on listed recordings.
    pub recording_ids: Option<Vec<Uuid>>,
    /// For a hold on a search (a case).
    pub filter: Option<HoldFilter>,
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    pub released_by: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
    pub release_reason: Option<String>,
    /// Not released yet.
    pub active: bool,
}

impl From<api::LegalHold> for LegalHold {
    fn from(hold: api::LegalHold) -> Self {
        let (recording_ids, filter) = match hold.scope {
            api::HoldScope::Recordings { ids } => {
                (Some(ids.into_iter().map(|id| id.0).collect()), None)
            }
            api::HoldScope::Filter { filter } => (None, Some(filter.into())),
        };
        Self {
            id: hold.id,
            tenant_id: hold.tenant_id.0,
            case_name: hold.case_name,
            reason: hold.reason,
            recording_ids,
            filter,
            placed_by: hold.placed_by,
            placed_at: hold.placed_at,
            active: hold.released_at.is_none(),
            released_by: hold.released_by,
            released_at: hold.released_at,
            release_reason: hold.release_reason,
        }
    }
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::lifecycle_api::DeletionReason")]
pub enum DeletionReason {
    /// Past its retain-until date.
    Retention,
    /// A user with the right asked for it.
    UserRequest,
    /// A data subject's erasure request (GDPR art. 17, APPI).
    Erasure,
}

/// What is left of a deleted recording: no personal data.
#[derive(SimpleObject)]
pub struct Tombstone {
    pub recording_id: Uuid,
    pub deleted_at: DateTime<Utc>,
    pub reason: DeletionReason,
    /// The rule in force (retention deletions), else the user's note.
    pub policy: String,
    pub deleted_by: String,
}

/// One deletion run (or one user deletion): what it shredded, what a hold
/// kept, what failed and will be retried. Once finished it is signed like
/// the daily manifests: `body` and `signature` verify with
/// `manifestPublicKey` (services/metadata/AUDIT.md defines the body).
#[derive(SimpleObject)]
pub struct DeletionCertificate {
    /// The signed bytes, verbatim: canonical JSON with `kind`
    /// `"deletion_certificate"`, the certificate id, its times, each deleted
    /// recording (id, SHA-256, ingested and deleted at, reason, policy, by
    /// whom), `held_back` and `failed`. Null while the run is unfinished
    /// (in progress, or stopped before it could finish); never changes once
    /// set.
    pub body: Option<String>,
    /// Base64 Ed25519 signature over `body` with the tenant's manifest key
    /// (`manifestPublicKey`, `GET /v1/tenants/{tenantId}/manifest-key`).
    pub signature: Option<String>,
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub deleted: Vec<Tombstone>,
    pub held_back: Vec<Uuid>,
    pub failed: Vec<Uuid>,
    /// Due but kept because an open data-subject request preserves them
    /// (docs/disclosure.md): one entry per recording and request.
    pub held_by_request: Vec<HeldByRequest>,
    /// The data-subject erasure request this certificate's deletions were
    /// made for; null for retention runs and user deletions.
    pub request_id: Option<Uuid>,
}

/// A due recording a data-subject request kept from deletion.
#[derive(SimpleObject)]
pub struct HeldByRequest {
    pub recording_id: Uuid,
    /// The disclosure request (`disclosureRequest(id:)`).
    pub request_id: Uuid,
}

impl From<api::DeletionCertificate> for DeletionCertificate {
    fn from(certificate: api::DeletionCertificate) -> Self {
        Self {
            body: certificate.body,
            signature: certificate.signature,
            id: certificate.id,
            tenant_id: certificate.tenant_id.0,
            started_at: certificate.started_at,
            finished_at: certificate.finished_at,
            deleted: certificate
                .deleted
                .into_iter()
                .map(|tombstone| Tombstone {
                    recording_id: tombstone.recording_id.0,
                    deleted_at: tombstone.deleted_at,
                    reason: tombstone.reason.into(),
                    policy: tombstone.policy,
                    deleted_by: tombstone.deleted_by,
                })
                .collect(),
            held_back: certificate.held_back.into_iter().map(|id| id.0).collect(),
            held_by_request: certificate
                .held_by_request
                .into_iter()
                .map(|held| HeldByRequest {
                    recording_id: held.recording_id.0,
                    request_id: held.request_id,
                })
                .collect(),
            request_id: certificate.request_id,
            failed: certificate.failed.into_iter().map(|id| id.0).collect(),
        }
    }
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::lifecycle_api::AuditAction")]
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
    /// Storage found the recording damaged; `details` say which check.
    IntegrityFailure,
    /// A data-subject request's step (by the disclosure service), or a
    /// recording restricted or released by one (`details.request_id`,
    /// `details.restricted`).
    Disclosure,
    /// The recording policy or the do-not-record list changed
    /// (`details.change`; for the list, how many numbers, never which).
    RecordingPolicyChange,
}

/// One entry of the tenant's hash-chained audit trail.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub tenant_id: Uuid,
    /// 1, 2, 3… per tenant, without gaps.
    pub seq: Int64,
    pub at: DateTime<Utc>,
    /// Who: the caller's subject.
    pub actor: String,
    /// The caller's role, as in tokens (snake_case).
    pub role: String,
    pub action: AuditAction,
    /// What: a recording, hold, rule or user id.
    pub target: Option<String>,
    /// From where: the client address the gateway saw.
    pub origin: Option<String>,
    pub reason: Option<String>,
    pub details: Json<serde_json::Value>,
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this entry, `prevHash` included.
    pub hash: String,
}

impl From<api::AuditEntry> for AuditEntry {
    fn from(entry: api::AuditEntry) -> Self {
        Self {
            tenant_id: entry.tenant_id.0,
            seq: Int64(entry.seq),
            at: entry.at,
            actor: entry.actor,
            role: entry.role,
            action: entry.action.into(),
            target: entry.target,
            origin: entry.origin,
            reason: entry.reason,
            details: Json(entry.details),
            prev_hash: entry.prev_hash,
            hash: entry.hash,
        }
    }
}

/// A page of the audit trail, oldest first.
#[derive(SimpleObject)]
pub struct AuditPage {
    pub nodes: Vec<AuditEntry>,
    /// Pass as `after` for the next page.
    pub end_seq: Option<Int64>,
    pub has_next_page: bool,
}

impl From<api::AuditPage> for AuditPage {
    fn from(page: api::AuditPage) -> Self {
        Self {
            nodes: page.items.into_iter().map(Into::into).collect(),
            end_seq: page.end_seq.map(Int64),
            has_next_page: page.has_next_page,
        }
    }
}

/// The result of recomputing the tenant's whole chain and checking that it
/// passes through the audit head signed into each daily manifest (stored,
/// and those passed as `manifests`).
#[derive(SimpleObject)]
pub struct ChainVerification {
    pub entries_checked: Int64,
    /// The first entry that doesn't verify (or the first missing one). When
    /// a manifest's audit head disagrees with the chain: the first entry
    /// after the last manifest head that agreed (the rewrite is there or
    /// later, up to that manifest's head).
    pub first_bad_seq: Option<Int64>,
    /// Manifests whose audit head was compared with the chain.
    pub manifests_checked: Int64,
    /// The day of the first manifest (in head order) the chain no longer
    /// passes through: the chain was rewritten after it was signed.
    pub mismatched_manifest: Option<NaiveDate>,
    /// Every entry verified and every manifest's head agreed.
    pub intact: bool,
}

impl From<api::ChainVerification> for ChainVerification {
    fn from(verification: api::ChainVerification) -> Self {
        Self {
            entries_checked: Int64(verification.entries_checked),
            intact: verification.first_bad_seq.is_none()
                && verification.mismatched_manifest.is_none(),
            first_bad_seq: verification.first_bad_seq.map(Int64),
            manifests_checked: Int64(verification.manifests_checked),
            mismatched_manifest: verification.mismatched_manifest,
        }
    }
}

/// What reading a whole recording found (`verifyRecording`).
#[derive(SimpleObject)]
pub struct RecordingVerification {
    /// Every frame authenticated and the SHA-256 equal to ingest's.
    pub intact: bool,
    /// Audio bytes read and checked before the end or the first failure.
    pub bytes_checked: Int64,
    /// Hex SHA-256 of the audio, recorded at ingest.
    pub expected_sha256: String,
    /// Which check failed, when one did (also in the audit trail, as an
    /// `INTEGRITY_FAILURE` entry).
    pub failure: Option<String>,
    pub verified_at: DateTime<Utc>,
}

impl From<Verification> for RecordingVerification {
    fn from(verification: Verification) -> Self {
        Self {
            intact: verification.intact,
            bytes_checked: Int64(verification.bytes_checked),
            expected_sha256: verification.expected_sha256,
            failure: verification.failure,
            verified_at: verification.verified_at,
        }
    }
}

/// The recordings a tenant added and deleted on one UTC day, signed with
/// the tenant's Ed25519 key.
#[derive(SimpleObject)]
pub struct SignedManifest {
    pub tenant_id: Uuid,
    pub date: NaiveDate,
    /// The signed bytes (canonical JSON), verbatim.
    pub body: String,
    /// Base64 Ed25519 signature over `body`.
    pub signature: String,
    /// Base64 Ed25519 public key; also at
    /// `GET /v1/tenants/{tenantId}/manifest-key` without a token.
    pub public_key: String,
}

impl From<api::SignedManifest> for SignedManifest {
    fn from(manifest: api::SignedManifest) -> Self {
        Self {
            tenant_id: manifest.tenant_id.0,
            date: manifest.date,
            body: manifest.body,
            signature: manifest.signature,
            public_key: manifest.public_key,
        }
    }
}

/// A stretch of the call that was not recorded (pause/resume), in
/// milliseconds from the start.
#[derive(SimpleObject)]
pub struct PauseSpan {
    pub start_ms: Int64,
    pub end_ms: Int64,
}
