//! The disclosure service's operations: data-subject requests from intake
//! to delivery, its settings and its register. Every one names the person
//! asking; the service checks their permission itself.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::disclosure_api::{
    BundleDownload, DisclosureFilter, DisclosureRequest, DisclosureSettings, IdentityMethod,
    NewDisclosureRequest, RedactionSpan, Refusal, RegisterEntry,
};
use crate::rpc::{Rpc, Service};
use crate::{Actor, RecordingId, TenantId};

/// The tenant's disclosure settings (defaults until set).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetDisclosureSettings {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for GetDisclosureSettings {
    type Reply = DisclosureSettings;
    const NAME: &'static str = "disclosure_settings";
    const SERVICE: Service = Service::Disclosure;
}

/// Replaces the tenant's disclosure settings. Refused (`InvalidInput`) for an
/// APPI limit outside 1–14 days, a bundle retention outside 1–365 days, a due-
/// soon warning outside 1–20 working days, a fee in an unknown currency.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SetDisclosureSettings {
    pub actor: Actor,
    pub tenant: TenantId,
    pub settings: DisclosureSettings,
}

impl Rpc for SetDisclosureSettings {
    type Reply = DisclosureSettings;
    const NAME: &'static str = "set_disclosure_settings";
    const SERVICE: Service = Service::Disclosure;
}

/// Records a request (state `Received`), computes its deadline, finds the
/// subject's recordings and preserves them. A request for the same subject and
/// kind while one is open is created and flagged (`duplicate_of`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreateDisclosureRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub request: NewDisclosureRequest,
}

impl Rpc for CreateDisclosureRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "create_disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// One request (`NotFound` for another tenant's).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetDisclosureRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
}

impl Rpc for GetDisclosureRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// The tenant's requests, oldest deadline first.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListDisclosureRequests {
    pub actor: Actor,
    pub tenant: TenantId,
    pub filter: DisclosureFilter,
}

impl Rpc for ListDisclosureRequests {
    type Reply = Vec<DisclosureRequest>;
    const NAME: &'static str = "disclosure_requests";
    const SERVICE: Service = Service::Disclosure;
}

/// `Received` → `AwaitingIdentity`: proof of identity was asked for.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AskForIdentity {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub reason: Option<String>,
}

impl Rpc for AskForIdentity {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "ask_for_identity";
    const SERVICE: Service = Service::Disclosure;
}

/// Records a check of the requester's identity (method and outcome only). A
/// verified one moves `AwaitingIdentity` (or `Received`) to `InReview`; the
/// third failed one refuses the request (`IdentityNotVerified`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RecordIdentityAttempt {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub method: IdentityMethod,
    pub verified: bool,
}

impl Rpc for RecordIdentityAttempt {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "record_identity_attempt";
    const SERVICE: Service = Service::Disclosure;
}

/// `Refused` for an unverified identity → `AwaitingIdentity`, with a reason;
/// the failed attempts are kept but no longer count.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ReopenRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub reason: String,
}

impl Rpc for ReopenRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "reopen_disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// GDPR art. 12(3): extends the deadline once by one or two months, only while
/// the first month runs, with the reasons sent to the requester.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ExtendDeadline {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub months: u32,
    pub reasons: String,
}

impl Rpc for ExtendDeadline {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "extend_disclosure_deadline";
    const SERVICE: Service = Service::Disclosure;
}

/// An officer adds a recording of the tenant to an open request, with a reason;
/// it is preserved.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AddRequestRecording {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub recording: RecordingId,
    pub reason: String,
}

impl Rpc for AddRequestRecording {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "add_request_recording";
    const SERVICE: Service = Service::Disclosure;
}

/// An officer removes a recording from an open request, with a reason; it is no
/// longer preserved by it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RemoveRequestRecording {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub recording: RecordingId,
    pub reason: String,
}

impl Rpc for RemoveRequestRecording {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "remove_request_recording";
    const SERVICE: Service = Service::Disclosure;
}

/// Replaces the reviewer's spans on one of the request's recordings (`InReview`
/// only). Spans must lie inside the recording, be ordered by start and not
/// overlap on a channel.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SetRedactions {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub recording: RecordingId,
    pub spans: Vec<RedactionSpan>,
}

impl Rpc for SetRedactions {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "set_redactions";
    const SERVICE: Service = Service::Disclosure;
}

/// `InReview` → `AwaitingApproval`: the actor prepared the review.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SubmitForApproval {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
}

impl Rpc for SubmitForApproval {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "submit_disclosure_for_approval";
    const SERVICE: Service = Service::Disclosure;
}

/// `AwaitingApproval` → `InReview`, with the reason.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SendBackRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub reason: String,
}

impl Rpc for SendBackRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "send_back_disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// `AwaitingApproval` → `Approved`, by someone other than who prepared the
/// review (`Forbidden` otherwise); refused while the tenant's privacy notice is
/// incomplete. Freezes the recordings and spans; an access or portability
/// request's bundle starts building.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ApproveRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
}

impl Rpc for ApproveRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "approve_disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// APPI: whether the published fee was paid.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RecordFeePayment {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub paid: bool,
}

impl Rpc for RecordFeePayment {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "record_disclosure_fee";
    const SERVICE: Service = Service::Disclosure;
}

/// `Approved` → `Delivered`. Access/portability: the bundle must be ready (and
/// an APPI fee paid); erasure: the recordings are erased (or kept with their
/// reason); restriction: the recordings are restricted.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeliverRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
}

impl Rpc for DeliverRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "deliver_disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// `Delivered` → `Closed`; the recordings are no longer preserved by it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CloseRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub reason: Option<String>,
}

impl Rpc for CloseRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "close_disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// Any open state → `Refused`, with the ground, the text sent and the notice of
/// the right to complain.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RefuseRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub refusal: Refusal,
}

impl Rpc for RefuseRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "refuse_disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// Any open state → `Withdrawn` (the requester withdrew it).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct WithdrawRequest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub reason: String,
}

impl Rpc for WithdrawRequest {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "withdraw_disclosure_request";
    const SERVICE: Service = Service::Disclosure;
}

/// Lifts a delivered restriction request's restriction (a recorded step).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct LiftRestriction {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
    pub reason: String,
}

impl Rpc for LiftRestriction {
    type Reply = DisclosureRequest;
    const NAME: &'static str = "lift_disclosure_restriction";
    const SERVICE: Service = Service::Disclosure;
}

/// Checks the bundle is ready and records an `Export` audit entry (who, from
/// where); the gateway then signs the download link.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AuthorizeBundleDownload {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: Uuid,
}

impl Rpc for AuthorizeBundleDownload {
    type Reply = BundleDownload;
    const NAME: &'static str = "authorize_bundle_download";
    const SERVICE: Service = Service::Disclosure;
}

/// Every request received in `[from, to]` (local dates of the tenant).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetDisclosureRegister {
    pub actor: Actor,
    pub tenant: TenantId,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Rpc for GetDisclosureRegister {
    type Reply = Vec<RegisterEntry>;
    const NAME: &'static str = "disclosure_register";
    const SERVICE: Service = Service::Disclosure;
}

/// The register as CSV (header row, RFC 4180).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetDisclosureRegisterCsv {
    pub actor: Actor,
    pub tenant: TenantId,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Rpc for GetDisclosureRegisterCsv {
    type Reply = String;
    const NAME: &'static str = "disclosure_register_csv";
    const SERVICE: Service = Service::Disclosure;
}
