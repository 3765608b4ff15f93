//! Output types of data-subject requests (GDPR, APPI) and their register,
//! converted from the contracts' `disclosure_api`. docs/disclosure.md
//! tells the lifecycle; every field here is documented, since the docs
//! become the public SDL.

use async_graphql::SimpleObject;
use callvault_contracts::disclosure_api as api;
use callvault_contracts::ops::subject;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::disclosure_enums::{
    BundleState, DisclosureMethod, DisclosureState, IdentityMethod, IntakeChannel, RecordingSource,
    RedactionMode, RefusalGround, Regime, RequestKind, RetainedReason, SpanChannel,
};
use super::scalars::Int64;
use super::types::Direction;

/// Who asked, and how to answer them. Personal data.
#[derive(SimpleObject)]
pub struct RequesterContact {
    /// The requester's name.
    pub name: String,
    /// Their email address, if given.
    pub email: Option<String>,
    /// Their phone number, if given.
    pub phone: Option<String>,
    /// Their postal address, if given.
    pub postal_address: Option<String>,
}

impl From<api::RequesterContact> for RequesterContact {
    fn from(contact: api::RequesterContact) -> Self {
        Self {
            name: contact.name,
            email: contact.email,
            phone: contact.phone,
            postal_address: contact.postal_address,
        }
    }
}

/// Whose recordings: the subject's phone numbers, in a time range.
#[derive(SimpleObject)]
pub struct SubjectIdentifiers {
    /// The subject's numbers, in E.164.
    pub numbers: Vec<String>,
    /// Recordings started at or after this instant, if set.
    pub from: Option<DateTime<Utc>>,
    /// Recordings started before this instant, if set.
    pub to: Option<DateTime<Utc>>,
}

impl From<api::SubjectIdentifiers> for SubjectIdentifiers {
    fn from(subject: api::SubjectIdentifiers) -> Self {
        Self {
            numbers: subject.numbers,
            from: subject.from,
            to: subject.to,
        }
    }
}

/// When the answer is due, in the tenant's time zone.
#[derive(SimpleObject)]
pub struct Deadline {
    /// The last day to answer (after the extension, if any).
    pub due_date: NaiveDate,
    /// The end of `dueDate` in the tenant's time zone.
    pub due_at: DateTime<Utc>,
    /// The first deadline, before any extension.
    pub original_due_date: NaiveDate,
    /// Months the deadline was extended by (GDPR art. 12(3)); null until
    /// extended.
    pub extended_by_months: Option<u32>,
    /// The reasons for the extension sent to the requester.
    pub extension_reasons: Option<String>,
    /// Days the clock stood still waiting for the requester's identity.
    pub clock_stopped_days: u32,
    /// APPI art. 39: the requester may sue from this day on.
    pub sue_possible_from: Option<NaiveDate>,
}

impl From<api::Deadline> for Deadline {
    fn from(deadline: api::Deadline) -> Self {
        Self {
            due_date: deadline.due_date,
            due_at: deadline.due_at,
            original_due_date: deadline.original_due_date,
            extended_by_months: deadline.extended_by_months,
            extension_reasons: deadline.extension_reasons,
            clock_stopped_days: deadline.clock_stopped_days,
            sue_possible_from: deadline.sue_possible_from,
        }
    }
}

/// One check of the requester's identity.
#[derive(SimpleObject)]
pub struct IdentityAttempt {
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// How the identity was checked.
    pub method: IdentityMethod,
    /// Whether it was verified.
    pub verified: bool,
    /// Who recorded it.
    pub recorded_by: String,
}

impl From<api::IdentityAttempt> for IdentityAttempt {
    fn from(attempt: api::IdentityAttempt) -> Self {
        Self {
            at: attempt.at,
            method: attempt.method.into(),
            verified: attempt.verified,
            recorded_by: attempt.recorded_by,
        }
    }
}

/// A span of a recording to redact, in milliseconds from its start.
#[derive(SimpleObject)]
pub struct RedactionSpan {
    /// The channel it silences.
    pub channel: SpanChannel,
    /// Where it starts, in ms from the recording's start.
    pub start_ms: Int64,
    /// Where it ends (exclusive), in ms from the recording's start.
    pub end_ms: Int64,
    /// What replaces the audio.
    pub mode: RedactionMode,
}

impl From<api::RedactionSpan> for RedactionSpan {
    fn from(span: api::RedactionSpan) -> Self {
        Self {
            channel: span.channel.into(),
            start_ms: Int64(span.start_ms),
            end_ms: Int64(span.end_ms),
            mode: span.mode.into(),
        }
    }
}

/// A retention rule marked statutory: a legal duty to keep what it matches.
#[derive(SimpleObject)]
pub struct StatutoryRetention {
    /// The rule's id.
    pub rule_id: Uuid,
    /// The rule's name.
    pub rule_name: String,
    /// E.g. "MiFID II art. 16(7): records of telephone conversations".
    pub legal_basis: String,
}

impl From<subject::StatutoryRetention> for StatutoryRetention {
    fn from(retention: subject::StatutoryRetention) -> Self {
        Self {
            rule_id: retention.rule_id,
            rule_name: retention.rule_name,
            legal_basis: retention.legal_basis,
        }
    }
}

/// A recording the request covers (or covered, once removed).
#[derive(SimpleObject)]
pub struct RequestRecording {
    /// The recording's id.
    pub recording_id: Uuid,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// Its duration in milliseconds.
    pub duration_ms: Int64,
    /// The call's direction.
    pub direction: Direction,
    /// Matched by the subject's identifiers, or added by an officer.
    pub source: RecordingSource,
    /// False once an officer removed it (with `reason`).
    pub included: bool,
    /// Why an officer added or removed it.
    pub reason: Option<String>,
    /// The reviewer's redaction spans.
    pub redactions: Vec<RedactionSpan>,
    /// PCI pause spans: always redacted (silence, both channels).
    pub pci_pauses: Vec<RedactionSpan>,
    /// Active legal holds covering it.
    pub legal_holds: Vec<Uuid>,
    /// The statutory rule deciding its retention, if any.
    pub statutory: Option<StatutoryRetention>,
    /// Until when it is kept by its retention.
    pub retain_until: DateTime<Utc>,
}

impl From<api::RequestRecording> for RequestRecording {
    fn from(recording: api::RequestRecording) -> Self {
        Self {
            recording_id: recording.recording_id.0,
            started_at: recording.started_at,
            duration_ms: Int64(recording.duration_ms),
            direction: recording.direction.into(),
            source: recording.source.into(),
            included: recording.included,
            reason: recording.reason,
            redactions: recording.redactions.into_iter().map(Into::into).collect(),
            pci_pauses: recording.pci_pauses.into_iter().map(Into::into).collect(),
            legal_holds: recording.legal_holds,
            statutory: recording.statutory.map(Into::into),
            retain_until: recording.retain_until,
        }
    }
}

/// One step of the request's life.
#[derive(SimpleObject)]
pub struct Transition {
    /// The state before; null for the creation.
    pub from: Option<DisclosureState>,
    /// The state after.
    pub to: DisclosureState,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (the token's subject).
    pub actor: String,
    /// In which role.
    pub role: String,
    /// Why, when a reason was given.
    pub reason: Option<String>,
}

impl From<api::Transition> for Transition {
    fn from(transition: api::Transition) -> Self {
        Self {
            from: transition.from.map(Into::into),
            to: transition.to.into(),
            at: transition.at,
            actor: transition.actor,
            role: transition.role,
            reason: transition.reason,
        }
    }
}

/// A refusal, as sent to the requester.
#[derive(SimpleObject)]
pub struct Refusal {
    /// The documented ground.
    pub ground: RefusalGround,
    /// The text sent to the requester.
    pub text: String,
    /// The notice of the right to complain to the supervisory authority
    /// (for APPI, the PPC) sent with it.
    pub complaint_notice: String,
}

impl From<api::Refusal> for Refusal {
    fn from(refusal: api::Refusal) -> Self {
        Self {
            ground: refusal.ground.into(),
            text: refusal.text,
            complaint_notice: refusal.complaint_notice,
        }
    }
}

/// A fee, in the currency's minor unit (JPY has none).
#[derive(SimpleObject)]
pub struct Fee {
    /// The amount in the currency's minor unit.
    pub amount: Int64,
    /// ISO 4217, e.g. `JPY`.
    pub currency: String,
}

impl From<api::Fee> for Fee {
    fn from(fee: api::Fee) -> Self {
        Self {
            amount: Int64(fee.amount),
            currency: fee.currency,
        }
    }
}

/// The export bundle of an access or portability request.
#[derive(SimpleObject)]
pub struct DisclosureBundle {
    /// The bundle's id.
    pub id: Uuid,
    /// Where it stands.
    pub state: BundleState,
    /// Its size in bytes, once built.
    pub size: Option<Int64>,
    /// Hex SHA-256 of the ZIP, once built.
    pub sha256: Option<String>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// When it is shredded: its retention after delivery.
    pub expires_at: Option<DateTime<Utc>>,
    /// How many download links were handed out.
    pub downloads: u32,
}

impl From<api::BundleInfo> for DisclosureBundle {
    fn from(bundle: api::BundleInfo) -> Self {
        Self {
            id: bundle.id,
            state: bundle.state.into(),
            size: bundle.size.map(Int64),
            sha256: bundle.sha256,
            created_at: bundle.created_at,
            expires_at: bundle.expires_at,
            downloads: bundle.downloads,
        }
    }
}

/// A recording an erasure asked for and that was kept.
#[derive(SimpleObject)]
pub struct RetainedRecording {
    /// The recording's id.
    pub recording_id: Uuid,
    /// Why it was kept.
    pub reason: RetainedReason,
    /// The legal holds keeping it (`LEGAL_HOLD`), else empty.
    pub legal_holds: Vec<Uuid>,
    /// The statutory rule keeping it (`STATUTORY`), else null.
    pub statutory: Option<StatutoryRetention>,
    /// Until when it is kept (restricted meanwhile); for a legal hold, the
    /// date its retention would end, the hold's release permitting.
    pub retain_until: DateTime<Utc>,
}

impl From<subject::RetainedRecording> for RetainedRecording {
    fn from(retained: subject::RetainedRecording) -> Self {
        let (reason, legal_holds, statutory) = match retained.because {
            subject::RetainedBecause::LegalHold { holds } => {
                (RetainedReason::LegalHold, holds, None)
            }
            subject::RetainedBecause::Statutory { retention } => (
                RetainedReason::Statutory,
                Vec::new(),
                Some(retention.into()),
            ),
        };
        Self {
            recording_id: retained.recording_id.0,
            reason,
            legal_holds,
            statutory,
            retain_until: retained.retain_until,
        }
    }
}

/// What an erasure did.
#[derive(SimpleObject)]
pub struct ErasureOutcome {
    /// The recordings crypto-shredded for the request.
    pub erased: Vec<Uuid>,
    /// The recordings kept, each with its reason.
    pub retained: Vec<RetainedRecording>,
    /// The deletion certificate naming the request; null when nothing was
    /// erased.
    pub certificate_id: Option<Uuid>,
}

impl From<subject::ErasureOutcome> for ErasureOutcome {
    fn from(outcome: subject::ErasureOutcome) -> Self {
        Self {
            erased: outcome.erased.into_iter().map(|id| id.0).collect(),
            retained: outcome.retained.into_iter().map(Into::into).collect(),
            certificate_id: outcome.certificate_id,
        }
    }
}

/// A data-subject request (GDPR, APPI).
#[derive(SimpleObject)]
pub struct DisclosureRequest {
    /// The request's id.
    pub id: Uuid,
    /// The tenant it belongs to.
    pub tenant_id: Uuid,
    /// What the subject asks for.
    pub kind: RequestKind,
    /// The law it is answered under.
    pub regime: Regime,
    /// Where it stands.
    pub state: DisclosureState,
    /// When it reached the company.
    pub received_at: DateTime<Utc>,
    /// How it reached the company.
    pub channel: IntakeChannel,
    /// Who asked. Personal data.
    pub requester: RequesterContact,
    /// Whose recordings. Personal data.
    pub subject: SubjectIdentifiers,
    /// How an APPI requester wants the disclosure.
    pub method: DisclosureMethod,
    /// An open request for the same subject and kind when this one was
    /// created: flagged, not refused.
    pub duplicate_of: Option<Uuid>,
    /// When the answer is due.
    pub deadline: Deadline,
    /// Past its deadline and still open.
    pub overdue: bool,
    /// Every identity check, oldest first.
    pub identity_attempts: Vec<IdentityAttempt>,
    /// The recordings it covers (removed ones with `included: false`).
    pub recordings: Vec<RequestRecording>,
    /// Every step of its life, oldest first.
    pub transitions: Vec<Transition>,
    /// Who submitted the review for approval.
    pub prepared_by: Option<String>,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// The refusal, once refused.
    pub refusal: Option<Refusal>,
    /// APPI: the tenant's published fee, when it has one (access only).
    pub fee: Option<Fee>,
    /// Whether the fee was paid.
    pub fee_paid: bool,
    /// The export bundle (access and portability), once approved.
    pub bundle: Option<DisclosureBundle>,
    /// What an erasure did, after delivery.
    pub erasure: Option<ErasureOutcome>,
    /// Restriction requests: whether the restriction is in force.
    pub restriction_active: bool,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<api::DisclosureRequest> for DisclosureRequest {
    fn from(request: api::DisclosureRequest) -> Self {
        Self {
            id: request.id,
            tenant_id: request.tenant_id.0,
            kind: request.kind.into(),
            regime: request.regime.into(),
            state: request.state.into(),
            received_at: request.received_at,
            channel: request.channel.into(),
            requester: request.requester.into(),
            subject: request.subject.into(),
            method: request.method.into(),
            duplicate_of: request.duplicate_of,
            deadline: request.deadline.into(),
            overdue: request.overdue,
            identity_attempts: request
                .identity_attempts
                .into_iter()
                .map(Into::into)
                .collect(),
            recordings: request.recordings.into_iter().map(Into::into).collect(),
            transitions: request.transitions.into_iter().map(Into::into).collect(),
            prepared_by: request.prepared_by,
            approved_by: request.approved_by,
            refusal: request.refusal.map(Into::into),
            fee: request.fee.map(Into::into),
            fee_paid: request.fee_paid,
            bundle: request.bundle.map(Into::into),
            erasure: request.erasure.map(Into::into),
            restriction_active: request.restriction_active,
            created_at: request.created_at,
            updated_at: request.updated_at,
        }
    }
}

/// One line of the register: what a regulator or an auditor asks first.
#[derive(SimpleObject)]
pub struct RegisterEntry {
    /// The request's id.
    pub request_id: Uuid,
    /// What the subject asked for.
    pub kind: RequestKind,
    /// The law it was answered under.
    pub regime: Regime,
    /// Where it stands.
    pub state: DisclosureState,
    /// When it reached the company.
    pub received_at: DateTime<Utc>,
    /// The last day to answer (after any extension).
    pub due_date: NaiveDate,
    /// Months the deadline was extended by, if it was.
    pub extended_by_months: Option<u32>,
    /// When it was delivered, refused or withdrawn.
    pub answered_at: Option<DateTime<Utc>>,
    /// `delivered`, `refused:<ground>`, `withdrawn`, or `open`.
    pub outcome: String,
    /// Answered on or before the due date; null while open and not late.
    pub on_time: Option<bool>,
}

impl From<api::RegisterEntry> for RegisterEntry {
    fn from(entry: api::RegisterEntry) -> Self {
        Self {
            request_id: entry.request_id,
            kind: entry.kind.into(),
            regime: entry.regime.into(),
            state: entry.state.into(),
            received_at: entry.received_at,
            due_date: entry.due_date,
            extended_by_months: entry.extended_by_months,
            answered_at: entry.answered_at,
            outcome: entry.outcome,
            on_time: entry.on_time,
        }
    }
}

/// A signed, short-lived link to download a request's export bundle (a ZIP).
#[derive(SimpleObject)]
pub struct DisclosureBundleUrl {
    /// The link: a GET downloads the bundle without a token, so whoever
    /// holds it can; keep it to yourself. A download must start before
    /// `expiresAt`; ask again for a fresh link.
    pub url: String,
    /// When the link stops working (not the bundle's own expiry).
    pub expires_at: DateTime<Utc>,
    /// The ZIP's file name.
    pub file_name: String,
    /// The ZIP's size in bytes.
    pub size: Int64,
    /// Hex SHA-256 of the ZIP, to check the download against.
    pub sha256: String,
}
