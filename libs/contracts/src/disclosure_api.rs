//! The disclosure service's domain: data-subject requests under GDPR and
//! Japan's APPI (access, erasure, restriction, portability), their
//! deadlines, identity checks, matched recordings, redactions, approval,
//! export bundle and register. docs/disclosure.md tells the lifecycle.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TenantId;
use crate::call::Direction;
use crate::ops::subject::{ErasureOutcome, StatutoryRetention};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestKind {
    /// GDPR art. 15, APPI art. 33: a copy of the subject's recordings.
    Access,
    /// GDPR art. 17, APPI art. 35: delete them.
    Erasure,
    /// GDPR art. 18, APPI art. 35 (利用停止): stop using them.
    Restriction,
    /// GDPR art. 20: the subject's data in a machine-readable format.
    Portability,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Regime {
    Gdpr,
    Appi,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestState {
    Received,
    AwaitingIdentity,
    InReview,
    AwaitingApproval,
    Approved,
    Delivered,
    Closed,
    Refused,
    Withdrawn,
}

impl RequestState {
    /// Open: the deadline runs and the recordings are preserved.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            RequestState::Delivered
                | RequestState::Closed
                | RequestState::Refused
                | RequestState::Withdrawn
        )
    }
}

/// How the request reached the company.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntakeChannel {
    Email,
    Phone,
    Letter,
    WebForm,
    InPerson,
    Other,
}

/// How an APPI requester wants the disclosure (art. 33(1)): electronic
/// records by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DisclosureMethod {
    #[default]
    Electronic,
    Paper,
    Other,
}

/// Who asked, and how to answer them. Personal data: sealed at rest, never
/// logged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequesterContact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub postal_address: Option<String>,
}

/// Whose recordings: the subject's phone numbers, in a date range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubjectIdentifiers {
    /// As given on creation; answered in E.164.
    pub numbers: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewDisclosureRequest {
    pub kind: RequestKind,
    /// The tenant's default regime when `None`.
    pub regime: Option<Regime>,
    /// When the request reached the company: in the past or now, never in
    /// the future.
    pub received_at: DateTime<Utc>,
    pub channel: IntakeChannel,
    pub requester: RequesterContact,
    pub subject: SubjectIdentifiers,
    /// APPI: the method the requester chose (electronic when `None`).
    pub method: Option<DisclosureMethod>,
}

/// How the requester's identity was checked. The evidence itself (the ID
/// document, the answers) is never recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdentityMethod {
    /// Called back on the number on file.
    CallBack,
    /// Answers to account questions.
    AccountQuestions,
    /// An identity document was seen.
    IdDocument,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdentityAttempt {
    pub at: DateTime<Utc>,
    pub method: IdentityMethod,
    pub verified: bool,
    pub recorded_by: String,
}

/// Which channel of a recording a span silences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpanChannel {
    Agent,
    Customer,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedactionMode {
    Silence,
    /// A 1 kHz tone.
    Tone,
}

/// A span to redact, in milliseconds from the recording's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RedactionSpan {
    pub channel: SpanChannel,
    pub start_ms: u64,
    pub end_ms: u64,
    pub mode: RedactionMode,
}

/// Why a recording is part of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecordingSource {
    /// Found by the subject's numbers and dates.
    Matched,
    /// Added by an officer.
    Added,
}

/// A recording the request covers (or covered, when removed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequestRecording {
    pub recording_id: crate::RecordingId,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub direction: Direction,
    pub source: RecordingSource,
    /// False once an officer removed it (with `reason`).
    pub included: bool,
    /// Why an officer added or removed it.
    pub reason: Option<String>,
    /// The reviewer's spans.
    pub redactions: Vec<RedactionSpan>,
    /// PCI pause spans: always redacted (silence, both channels).
    pub pci_pauses: Vec<RedactionSpan>,
    pub legal_holds: Vec<Uuid>,
    pub statutory: Option<StatutoryRetention>,
    pub retain_until: DateTime<Utc>,
}

/// One step of the request's life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Transition {
    /// `None` for the creation.
    pub from: Option<RequestState>,
    pub to: RequestState,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    pub reason: Option<String>,
}

/// Documented grounds for refusing (GDPR art. 12(5), 15(4); APPI art.
/// 33(2)), or the identity that could not be verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefusalGround {
    /// Three failed identity checks (GDPR art. 12(6), APPI art. 37(2)).
    IdentityNotVerified,
    /// GDPR art. 12(5)(b).
    ManifestlyUnfoundedOrExcessive,
    /// GDPR art. 15(4): it would adversely affect others' rights.
    RightsOfOthers,
    /// APPI art. 33(2)(i): harm to the life, body, property or other rights
    /// of the subject or a third party.
    HarmToSubjectOrOthers,
    /// APPI art. 33(2)(ii): serious hindrance to the business.
    SeriousHindranceToBusiness,
    /// APPI art. 33(2)(iii): it would violate another law.
    ViolatesOtherLaws,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Refusal {
    pub ground: RefusalGround,
    /// The text sent to the requester.
    pub text: String,
    /// The notice of the right to complain to the supervisory authority
    /// (GDPR art. 12(4); for APPI, the PPC) sent with it.
    pub complaint_notice: String,
}

/// A fee in the currency's minor unit (JPY has none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Fee {
    pub amount: u64,
    /// ISO 4217, e.g. `JPY`.
    pub currency: String,
}

/// When the answer is due, in the tenant's time zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Deadline {
    /// The last day to answer (after the extension, if any).
    pub due_date: NaiveDate,
    /// The end of `due_date` in the tenant's time zone.
    pub due_at: DateTime<Utc>,
    /// The first deadline, before any extension.
    pub original_due_date: NaiveDate,
    /// Set once extended (GDPR art. 12(3)), with the reasons sent.
    pub extended_by_months: Option<u32>,
    pub extension_reasons: Option<String>,
    /// Days the clock stood still waiting for the requester's identity.
    pub clock_stopped_days: u32,
    /// APPI art. 39: the requester may sue from this day on.
    pub sue_possible_from: Option<NaiveDate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BundleState {
    Building,
    Ready,
    Failed,
    /// Past its retention: the object and its key are destroyed.
    Shredded,
}

/// The export bundle of an access or portability request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BundleInfo {
    pub id: Uuid,
    pub state: BundleState,
    pub size: Option<u64>,
    /// Hex SHA-256 of the ZIP.
    pub sha256: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it is shredded: its retention after delivery.
    pub expires_at: Option<DateTime<Utc>>,
    pub downloads: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DisclosureRequest {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub kind: RequestKind,
    pub regime: Regime,
    pub state: RequestState,
    pub received_at: DateTime<Utc>,
    pub channel: IntakeChannel,
    pub requester: RequesterContact,
    /// Numbers in E.164.
    pub subject: SubjectIdentifiers,
    pub method: DisclosureMethod,
    /// An open request for the same subject and kind, when there was one
    /// at creation: flagged, not refused.
    pub duplicate_of: Option<Uuid>,
    pub deadline: Deadline,
    pub overdue: bool,
    pub identity_attempts: Vec<IdentityAttempt>,
    pub recordings: Vec<RequestRecording>,
    pub transitions: Vec<Transition>,
    /// Who submitted the review for approval.
    pub prepared_by: Option<String>,
    pub approved_by: Option<String>,
    pub refusal: Option<Refusal>,
    /// APPI: the tenant's published fee, when it has one (access only).
    pub fee: Option<Fee>,
    pub fee_paid: bool,
    pub bundle: Option<BundleInfo>,
    /// What an erasure did (after delivery).
    pub erasure: Option<ErasureOutcome>,
    /// Restriction requests: whether the restriction is in force.
    pub restriction_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A text in both languages the bundle's `information.txt` is written in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Bilingual {
    pub en: String,
    pub ja: String,
}

impl Bilingual {
    pub fn is_empty(&self) -> bool {
        self.en.trim().is_empty() || self.ja.trim().is_empty()
    }
}

/// What the controller tells a requester (GDPR art. 15(1), APPI art. 32):
/// filled in by each tenant; a request can't be approved while any field
/// is empty in either language.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PrivacyNotice {
    pub purposes: Bilingual,
    pub categories: Bilingual,
    pub recipients: Bilingual,
    pub retention: Bilingual,
    pub source: Bilingual,
    pub rights: Bilingual,
}

impl PrivacyNotice {
    pub fn is_complete(&self) -> bool {
        [
            &self.purposes,
            &self.categories,
            &self.recipients,
            &self.retention,
            &self.source,
            &self.rights,
        ]
        .iter()
        .all(|text| !text.is_empty())
    }
}

/// A tenant's disclosure settings. Defaults: GDPR, APPI limit 14 days, the
/// clock stops while waiting for identity under GDPR and not under APPI
/// (docs/disclosure.md cites the guidance), Japanese holidays on, no fee,
/// agents by pseudonym, bundles kept 30 days after delivery, due-soon 3
/// working days ahead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DisclosureSettings {
    pub default_regime: Regime,
    /// APPI's internal limit, in days from receipt (1 to 14).
    pub appi_limit_days: u32,
    pub gdpr_identity_stops_clock: bool,
    pub appi_identity_stops_clock: bool,
    /// Japanese public holidays (2020–2035) count as closed days.
    pub japanese_holidays: bool,
    /// The tenant's own closed days.
    pub closed_days: Vec<NaiveDate>,
    /// APPI art. 38: the fee for a disclosure, when the tenant charges one.
    pub appi_fee: Option<Fee>,
    /// Agents by name in `calls.json`/`calls.csv`, instead of a pseudonym.
    pub agent_names: bool,
    pub bundle_retention_days: u32,
    pub due_soon_working_days: u32,
    pub privacy: PrivacyNotice,
}

impl Default for DisclosureSettings {
    fn default() -> Self {
        Self {
            default_regime: Regime::Gdpr,
            appi_limit_days: 14,
            gdpr_identity_stops_clock: true,
            appi_identity_stops_clock: false,
            japanese_holidays: true,
            closed_days: Vec::new(),
            appi_fee: None,
            agent_names: false,
            bundle_retention_days: 30,
            due_soon_working_days: 3,
            privacy: PrivacyNotice::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DisclosureFilter {
    pub state: Option<RequestState>,
    pub kind: Option<RequestKind>,
    /// Due on or before this day.
    pub due_before: Option<NaiveDate>,
    pub overdue: Option<bool>,
    /// Requests about this number (matched through the blind index).
    pub number: Option<String>,
}

/// One line of the register: what a regulator or an auditor asks first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegisterEntry {
    pub request_id: Uuid,
    pub kind: RequestKind,
    pub regime: Regime,
    pub state: RequestState,
    pub received_at: DateTime<Utc>,
    pub due_date: NaiveDate,
    pub extended_by_months: Option<u32>,
    /// When it was delivered, refused or withdrawn.
    pub answered_at: Option<DateTime<Utc>>,
    /// `delivered`, `refused:<ground>`, `withdrawn`, or `open`.
    pub outcome: String,
    /// Answered on or before the due date (`None` while open and not late).
    pub on_time: Option<bool>,
}

/// What a bundle download link is for: the gateway signs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BundleDownload {
    pub bundle_id: Uuid,
    pub request_id: Uuid,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
}
