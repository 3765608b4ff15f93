//! The enums of data-subject requests (GDPR, APPI), mirroring the
//! contracts' `disclosure_api` (each converts both ways).

use async_graphql::Enum;

/// What the data subject asks for.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::RequestKind")]
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

/// The law the request is answered under.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::Regime")]
pub enum Regime {
    /// The EU General Data Protection Regulation: one month, extendable
    /// by two.
    Gdpr,
    /// Japan's Act on the Protection of Personal Information: without
    /// delay, within the tenant's internal limit.
    Appi,
}

/// Where a request stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::RequestState")]
pub enum DisclosureState {
    /// Recorded; the subject's recordings are found and preserved.
    Received,
    /// Proof of the requester's identity was asked for.
    AwaitingIdentity,
    /// Identity verified: the recordings and redactions are reviewed.
    InReview,
    /// The review was submitted; someone else must approve it.
    AwaitingApproval,
    /// Approved: recordings and spans are frozen; a bundle builds for
    /// access and portability.
    Approved,
    /// Answered: the bundle was handed over, the erasure or restriction
    /// carried out.
    Delivered,
    /// Done after delivery: the recordings are no longer preserved by it.
    Closed,
    /// Refused on a documented ground.
    Refused,
    /// The requester withdrew it.
    Withdrawn,
}

/// How the request reached the company.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::IntakeChannel")]
pub enum IntakeChannel {
    /// By email.
    Email,
    /// On the phone.
    Phone,
    /// By post.
    Letter,
    /// Through a web form.
    WebForm,
    /// At a counter, in person.
    InPerson,
    /// Any other way.
    Other,
}

/// How an APPI requester wants the disclosure (art. 33(1)).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::DisclosureMethod")]
pub enum DisclosureMethod {
    /// Electronic records: the default.
    Electronic,
    /// On paper.
    Paper,
    /// Another method the company offers.
    Other,
}

/// How the requester's identity was checked. The evidence itself is never
/// recorded.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::IdentityMethod")]
pub enum IdentityMethod {
    /// Called back on the number on file.
    CallBack,
    /// Answers to account questions.
    AccountQuestions,
    /// An identity document was seen.
    IdDocument,
    /// Another check.
    Other,
}

/// Which channel of a recording a span silences.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::SpanChannel")]
pub enum SpanChannel {
    /// The agent's side only.
    Agent,
    /// The customer's side only.
    Customer,
    /// Both sides.
    Both,
}

/// What replaces the redacted audio.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::RedactionMode")]
pub enum RedactionMode {
    /// Silence.
    Silence,
    /// A 1 kHz tone.
    Tone,
}

/// Why a recording is part of the request.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::RecordingSource")]
pub enum RecordingSource {
    /// Found by the subject's numbers and dates.
    Matched,
    /// Added by an officer.
    Added,
}

/// Documented grounds for refusing a request.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::RefusalGround")]
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

/// Where an export bundle stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::disclosure_api::BundleState")]
pub enum BundleState {
    /// Being built after the approval.
    Building,
    /// Ready to download.
    Ready,
    /// The build failed.
    Failed,
    /// Past its retention: the object and its key are destroyed.
    Shredded,
}

/// Why a recording an erasure asked for was kept.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetainedReason {
    /// Active legal holds cover it (`legalHolds`).
    LegalHold,
    /// A statutory retention rule keeps it (`statutory`).
    Statutory,
}
