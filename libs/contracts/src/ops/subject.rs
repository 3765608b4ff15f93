//! What the disclosure service asks of the metadata service about a data
//! subject's recordings: finding them through the tenant's blind index,
//! preserving them while a request is open, restricting and erasing them,
//! and writing the request's steps into the tenant's audit chain and
//! signing its evidence.
//!
//! These are machine calls: the disclosure service has checked the person's
//! permission already and names them as `actor` for the audit trail. The
//! requests carry phone numbers; like every operation they are logged by
//! name only.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::lifecycle_api::AuditEntry;
use crate::metadata_api::{Recording, Tenant};
use crate::rpc::{Rpc, Service};
use crate::{Actor, RecordingId, TenantId};

/// A subject's number as the catalogue knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubjectNumber {
    /// E.164, read with the tenant's default region.
    pub e164: String,
    /// The tenant's blind index of `e164` (hex): what the catalogue and the
    /// disclosure service search by.
    pub blind_index: String,
}

/// Normalises numbers with the tenant's region and answers their blind
/// indexes. `InvalidInput` (naming the position, never the number) when one
/// isn't a phone number; `TenantKeyUnusable` when the tenant's key can't be
/// used.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct IndexSubjectNumbers {
    pub tenant: TenantId,
    pub numbers: Vec<String>,
}

impl Rpc for IndexSubjectNumbers {
    type Reply = Vec<SubjectNumber>;
    const NAME: &'static str = "index_subject_numbers";
    const SERVICE: Service = Service::Metadata;
}

/// The tenant, for its time zone, region and master key (`NotFound` for an
/// unknown tenant, `TenantOffboarded` for a frozen one).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetSubjectTenant {
    pub tenant: TenantId,
}

impl Rpc for GetSubjectTenant {
    type Reply = Tenant;
    const NAME: &'static str = "subject_tenant";
    const SERVICE: Service = Service::Metadata;
}

/// A rule marked statutory: a legal duty to keep what it matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatutoryRetention {
    pub rule_id: Uuid,
    pub rule_name: String,
    /// E.g. "MiFID II art. 16(7): records of telephone conversations".
    pub legal_basis: String,
}

/// A recording of the subject, with what stands in the way of erasing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubjectRecording {
    /// Every field, phone numbers decrypted.
    pub recording: Recording,
    pub retain_until: DateTime<Utc>,
    /// Active legal holds covering it.
    pub legal_holds: Vec<Uuid>,
    /// Set when the rule that decides its retention is statutory.
    pub statutory: Option<StatutoryRetention>,
    /// Restricted (GDPR art. 18): playback refused but to compliance
    /// officers with a reason.
    pub restricted: bool,
}

/// The recordings whose caller or callee is one of `numbers` (matched
/// through the blind index), started in `[from, to)` when given, oldest
/// first. Shredded recordings are not listed.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FindSubjectRecordings {
    pub tenant: TenantId,
    pub numbers: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Rpc for FindSubjectRecordings {
    type Reply = Vec<SubjectRecording>;
    const NAME: &'static str = "find_subject_recordings";
    const SERVICE: Service = Service::Metadata;
}

/// The named recordings of the tenant, in the order asked (`NotFound` when
/// one isn't the tenant's or is shredded).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetSubjectRecordings {
    pub tenant: TenantId,
    pub ids: Vec<RecordingId>,
}

impl Rpc for GetSubjectRecordings {
    type Reply = Vec<SubjectRecording>;
    const NAME: &'static str = "subject_recordings";
    const SERVICE: Service = Service::Metadata;
}

/// Preserves exactly `ids` for the open request `request` (replacing what
/// it preserved before; an empty list preserves nothing): the retention run
/// holds them back, reporting them on its certificate as held by the
/// request, and deletes them on its first run after the preservation is
/// released, if they are then due.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PreserveForRequest {
    pub tenant: TenantId,
    pub request: Uuid,
    pub ids: Vec<RecordingId>,
}

impl Rpc for PreserveForRequest {
    type Reply = ();
    const NAME: &'static str = "preserve_for_request";
    const SERVICE: Service = Service::Metadata;
}

/// Restricts `ids` (GDPR art. 18) for `request`, or lifts that request's
/// restriction (`restricted: false`). Each change is an audit entry by
/// `actor` with `reason`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RestrictRecordings {
    pub actor: Actor,
    pub tenant: TenantId,
    pub request: Uuid,
    pub ids: Vec<RecordingId>,
    pub restricted: bool,
    pub reason: String,
}

impl Rpc for RestrictRecordings {
    type Reply = ();
    const NAME: &'static str = "restrict_recordings";
    const SERVICE: Service = Service::Metadata;
}

/// Why a recording an erasure asked for was kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RetainedBecause {
    LegalHold { holds: Vec<Uuid> },
    Statutory { retention: StatutoryRetention },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RetainedRecording {
    pub recording_id: RecordingId,
    pub because: RetainedBecause,
    /// Until when it is kept (restricted meanwhile); for a legal hold, the
    /// date its retention would end, the hold's release permitting.
    pub retain_until: DateTime<Utc>,
}

/// Erases `ids` for the erasure request `request`, one by one: those under
/// a legal hold or a statutory rule are kept, restricted until they are
/// due, and listed with their reason; the rest are crypto-shredded through
/// the deletion path with reason `Erasure`, the certificate naming the
/// request. Calling it again after an interruption finishes the job.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EraseForRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub request: Uuid,
    pub ids: Vec<RecordingId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErasureOutcome {
    /// Shredded by this request (now or by an earlier, interrupted call).
    pub erased: Vec<RecordingId>,
    pub retained: Vec<RetainedRecording>,
    /// The deletion certificate naming the request (`None` when nothing
    /// was erased).
    pub certificate_id: Option<Uuid>,
}

impl Rpc for EraseForRequest {
    type Reply = ErasureOutcome;
    const NAME: &'static str = "erase_for_request";
    const SERVICE: Service = Service::Metadata;
}

/// What a disclosure step was, in the audit chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisclosureAuditAction {
    /// A request's state changed (created, moved, refused, withdrawn…).
    Disclosure,
    /// A bundle was handed out (a download link issued to `actor`).
    Export,
}

/// Appends a disclosure step to the tenant's audit chain. `details` carry
/// ids and states, never personal data.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RecordDisclosureAudit {
    pub actor: Actor,
    pub tenant: TenantId,
    pub action: DisclosureAuditAction,
    /// The request id.
    pub target: String,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

impl Rpc for RecordDisclosureAudit {
    type Reply = AuditEntry;
    const NAME: &'static str = "record_disclosure_audit";
    const SERVICE: Service = Service::Metadata;
}

/// Signs disclosure evidence (a bundle's manifest, a reply) with the
/// tenant's manifest key: the body is canonical JSON of `fields` with
/// `kind`, `version` and `tenant_id` added (keys sorted, no whitespace).
/// Only kinds starting with `disclosure_` are signed here, so this call
/// can't forge a deletion certificate or a daily manifest.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SignDisclosureEvidence {
    pub tenant: TenantId,
    pub kind: String,
    pub version: u32,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignedEvidence {
    /// The signed bytes (UTF-8 canonical JSON).
    pub body: String,
    /// Base64 (standard, padded) Ed25519 signature over `body`.
    pub signature: String,
    /// The tenant's manifest public key (base64), as
    /// `GET /v1/tenants/{tenantId}/manifest-key` publishes it.
    pub public_key: String,
}

impl Rpc for SignDisclosureEvidence {
    type Reply = SignedEvidence;
    const NAME: &'static str = "sign_disclosure_evidence";
    const SERVICE: Service = Service::Metadata;
}
