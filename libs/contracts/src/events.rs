//! Events published on the bus's topic exchange.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::billing_api::{Account, Currency, Party, PlanLevel};
use crate::call::{AudioInfo, CallMetadata};
use crate::disclosure_api::{Regime, RequestKind, RequestState};
use crate::{RecordingId, TenantId};

/// An event type: its routing key on the topic exchange and its version.
pub trait Event:
    Serialize + for<'de> Deserialize<'de> + JsonSchema + Send + Sync + 'static
{
    /// Routing key, e.g. `recording.ingested`.
    const TOPIC: &'static str;
    const VERSION: u32;
}

/// A recording was received, probed and stored; the catalogue should list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingIngestedV1 {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    pub call: CallMetadata,
    pub audio: AudioInfo,
    /// Plaintext audio bytes.
    pub size: u64,
    /// Hex SHA-256 of the audio as received.
    pub sha256: String,
    /// The master key the recording's data key is wrapped under.
    pub key_ref: String,
    pub ingested_at: DateTime<Utc>,
}

impl Event for RecordingIngestedV1 {
    const TOPIC: &'static str = "recording.ingested";
    const VERSION: u32 = 1;
}

/// A tenant's master key changed (rotated, or replaced by a key the tenant
/// brings): the storage service re-wraps every data key of the tenant still
/// under `from_key_ref` so it is under `to_key_ref`. Bodies are untouched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenantKeyChangedV1 {
    pub tenant_id: TenantId,
    pub from_key_ref: String,
    /// The same as `from_key_ref` after a rotation of the same key: its data
    /// keys move onto the new version.
    pub to_key_ref: String,
    pub changed_at: DateTime<Utc>,
}

impl Event for TenantKeyChangedV1 {
    const TOPIC: &'static str = "tenant.key_changed";
    const VERSION: u32 = 1;
}

/// Which check found a damaged recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrityCheck {
    /// A playback (GET or HEAD) or another read of the recording.
    Read,
    /// `verifyRecording`: a whole read asked for by a person.
    Verify,
    /// The storage service's daily scrub.
    Scrub,
}

/// The storage service found a stored recording damaged: its object
/// missing, cut, extended, replaced or altered, or its digest not the one
/// recorded at ingest. The metadata service appends it to the tenant's
/// audit chain. `detail` names the check that failed, never a byte of the
/// recording or a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingIntegrityFailedV1 {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    /// The blob store key of the object that failed.
    pub object_key: String,
    pub detected_by: IntegrityCheck,
    pub detail: String,
    pub detected_at: DateTime<Utc>,
}

impl Event for RecordingIntegrityFailedV1 {
    const TOPIC: &'static str = "recording.integrity_failed";
    const VERSION: u32 = 1;
}

/// What a disclosure event says about its request: ids, kind, regime,
/// state and dates, never the requester or the subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DisclosureRequestV1 {
    pub tenant_id: TenantId,
    pub request_id: Uuid,
    pub kind: RequestKind,
    pub regime: Regime,
    pub state: RequestState,
    pub received_at: DateTime<Utc>,
    /// The deadline's last day, in the tenant's time zone.
    pub due_date: NaiveDate,
    pub at: DateTime<Utc>,
}

macro_rules! disclosure_event {
    ($(#[$doc:meta])* $name:ident, $topic:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub DisclosureRequestV1);

        impl Event for $name {
            const TOPIC: &'static str = $topic;
            const VERSION: u32 = 1;
        }
    };
}

disclosure_event!(
    /// A data-subject request was recorded.
    DisclosureRequestCreatedV1,
    "disclosure.request_created"
);
disclosure_event!(
    /// An open request's deadline is near (the tenant's due-soon warning,
    /// 3 working days by default); sent once per request.
    DisclosureDueSoonV1,
    "disclosure.due_soon"
);
disclosure_event!(
    /// An open request is past its deadline; sent once per request.
    DisclosureOverdueV1,
    "disclosure.overdue"
);
disclosure_event!(
    /// A request was answered: bundle handed over, erasure or restriction
    /// done (billing counts these).
    DisclosureDeliveredV1,
    "disclosure.delivered"
);
disclosure_event!(
    /// A request was closed, refused or withdrawn.
    DisclosureClosedV1,
    "disclosure.closed"
);

/// Storage kept a recording's object (its record committed): its audio
/// bytes start to count as stored. Published by storage's outbox in the
/// transaction that records it, with the record's own instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingStoredV1 {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    /// Plaintext audio bytes (what billing counts as stored).
    pub size: u64,
    pub stored_at: DateTime<Utc>,
}

impl Event for RecordingStoredV1 {
    const TOPIC: &'static str = "recording.stored";
    const VERSION: u32 = 1;
}

/// Storage removed a recording that was stored but never accepted (an
/// upload refused after its bytes were written): it counts as never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingDiscardedV1 {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    pub size: u64,
    /// When it had been stored.
    pub stored_at: DateTime<Utc>,
    pub discarded_at: DateTime<Utc>,
}

impl Event for RecordingDiscardedV1 {
    const TOPIC: &'static str = "recording.discarded";
    const VERSION: u32 = 1;
}

/// Storage crypto-shredded a recording: its bytes stop counting as stored
/// at `shredded_at`. Sent once per recording, whatever shredded it
/// (deletion, erasure, offboarding).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingShreddedV1 {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    pub size: u64,
    pub stored_at: DateTime<Utc>,
    pub shredded_at: DateTime<Utc>,
}

impl Event for RecordingShreddedV1 {
    const TOPIC: &'static str = "recording.shredded";
    const VERSION: u32 = 1;
}

/// How a recording's audio left storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServedAs {
    /// A playback stream (ranges included).
    Playback,
    /// A download of the whole file.
    Download,
}

/// Storage served part or all of a recording's audio: what it actually
/// sent (a response cut short counts what went out), and the recording's
/// byte rate so the seconds can be told. One per response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingServedV1 {
    pub tenant_id: TenantId,
    pub recording_id: RecordingId,
    pub served_as: ServedAs,
    /// Audio bytes sent.
    pub bytes: u64,
    /// The recording's audio bytes per second of audio.
    pub byte_rate: u64,
    pub served_at: DateTime<Utc>,
}

impl Event for RecordingServedV1 {
    const TOPIC: &'static str = "recording.served";
    const VERSION: u32 = 1;
}

/// A person (never a recorder key) made a request through the gateway.
/// Sent at most once per user and quarter hour, so any local day with
/// activity has one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserActiveV1 {
    pub tenant_id: TenantId,
    /// The token subject's pseudonym (HMAC), never the subject itself.
    pub user: String,
    pub active_at: DateTime<Utc>,
}

impl Event for UserActiveV1 {
    const TOPIC: &'static str = "user.active";
    const VERSION: u32 = 1;
}

/// An invoice was finalized: numbered and frozen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InvoiceFinalizedV1 {
    pub invoice_id: Uuid,
    pub number: String,
    pub level: PlanLevel,
    pub account: Account,
    pub issuer: Party,
    pub currency: Currency,
    pub period_first_day: NaiveDate,
    pub period_last_day: NaiveDate,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub finalized_at: DateTime<Utc>,
}

impl Event for InvoiceFinalizedV1 {
    const TOPIC: &'static str = "invoice.finalized";
    const VERSION: u32 = 1;
}

/// The webhooks service disabled an endpoint after its deliveries kept
/// failing for the whole retry schedule (docs/webhooks.md). Delivered as a
/// webhook to the tenant's other endpoints subscribed to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookEndpointDisabledV1 {
    pub tenant_id: TenantId,
    pub endpoint_id: Uuid,
    /// The delivery whose last attempt failed.
    pub delivery_id: String,
    pub disabled_at: DateTime<Utc>,
}

impl Event for WebhookEndpointDisabledV1 {
    const TOPIC: &'static str = "webhook.endpoint_disabled";
    const VERSION: u32 = 1;
}

/// A legal hold was placed (metadata's outbox, in the transaction that
/// places it). Ids and counts only: the case name and reason stay in the
/// catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LegalHoldPlacedV1 {
    pub tenant_id: TenantId,
    pub hold_id: Uuid,
    /// The recordings it names; none for a hold by filter (it covers
    /// whatever matches, now and later).
    pub recording_ids: Vec<RecordingId>,
    pub by_filter: bool,
    pub placed_at: DateTime<Utc>,
}

impl Event for LegalHoldPlacedV1 {
    const TOPIC: &'static str = "hold.placed";
    const VERSION: u32 = 1;
}

/// A legal hold was released (metadata's outbox).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LegalHoldReleasedV1 {
    pub tenant_id: TenantId,
    pub hold_id: Uuid,
    pub released_at: DateTime<Utc>,
}

impl Event for LegalHoldReleasedV1 {
    const TOPIC: &'static str = "hold.released";
    const VERSION: u32 = 1;
}

/// A deletion finished and its certificate was issued (metadata's outbox,
/// in the transaction that finishes the certificate): a retention run, an
/// erasure or a single deletion that deleted, held back or failed on at
/// least one recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeletionCertificateIssuedV1 {
    pub tenant_id: TenantId,
    pub certificate_id: Uuid,
    pub deleted: u64,
    pub held_back: u64,
    pub failed: u64,
    pub finished_at: DateTime<Utc>,
}

impl Event for DeletionCertificateIssuedV1 {
    const TOPIC: &'static str = "deletion.certificate_issued";
    const VERSION: u32 = 1;
}

/// The envelope every bus message travels in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    /// Unique per message; consumers deduplicate on it (inbox).
    pub id: Uuid,
    pub topic: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    /// W3C `traceparent` of the operation that caused it, if traced.
    pub traceparent: Option<String>,
    /// W3C `tracestate` that goes with `traceparent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    pub payload: serde_json::Value,
}

impl Message {
    pub fn new<E: Event>(event: &E) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: Uuid::new_v4(),
            topic: E::TOPIC.to_owned(),
            version: E::VERSION,
            occurred_at: Utc::now(),
            traceparent: None,
            tracestate: None,
            payload: serde_json::to_value(event)?,
        })
    }

    /// Decodes the payload as `E`, refusing another topic or version.
    pub fn decode<E: Event>(&self) -> Result<E, DecodeError> {
        if self.topic != E::TOPIC || self.version != E::VERSION {
            return Err(DecodeError::WrongType {
                topic: self.topic.clone(),
                version: self.version,
            });
        }
        serde_json::from_value(self.payload.clone())
            .map_err(|e| DecodeError::Payload(e.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unexpected message type {topic} v{version}")]
    WrongType { topic: String, version: u32 },
    #[error("malformed payload: {0}")]
    Payload(String),
}
