//! The webhooks service's domain: endpoints a tenant subscribes to event
//! types, the deliveries made to them, and the catalogue of event types a
//! webhook can carry (docs/webhooks.md). The operations are in
//! [`crate::ops::webhooks`].

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::TenantId;

/// Every event type an endpoint can subscribe to, as the webhook's `type`.
/// Named for what a tenant's systems care about, not after the bus topics
/// they come from (`recording.deleted` is storage's `recording.shredded`).
pub const EVENT_TYPES: [&str; 12] = [
    "recording.stored",
    "recording.deleted",
    "hold.placed",
    "hold.released",
    "deletion.certificate_issued",
    "disclosure.request_created",
    "disclosure.due_soon",
    "disclosure.overdue",
    "disclosure.delivered",
    "disclosure.closed",
    "invoice.finalized",
    "webhook.endpoint_disabled",
];

/// A subscribed endpoint. Its secret is never part of it: it is shown once,
/// when created or rotated ([`WebhookEndpointWithSecret`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: String,
    /// From [`EVENT_TYPES`], sorted.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled (after repeated failure, or by a person).
    pub disabled_reason: Option<String>,
    /// Until when the secret replaced by the last rotation still signs
    /// deliveries (beside the new one).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint and its signing secret (`whsec_` and base64), answered once.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

impl std::fmt::Debug for WebhookEndpointWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpointWithSecret")
            .field("endpoint", &self.endpoint)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewWebhookEndpoint {
    /// `https://…` (or `http://…`); its host must resolve to public
    /// addresses unless the operator allow-lists them.
    pub url: String,
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// What an update changes; a field left out stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookEndpointPatch {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// Re-enables an endpoint disabled after failures (or disables one).
    pub enabled: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt of the schedule failed, or the endpoint was disabled
    /// or deleted first. A replay makes it pending again.
    Failed,
}

/// One event for one endpoint, with the outcome of its last attempt. Its
/// id is the `webhook-id` header: the same on every attempt and replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebhookDelivery {
    pub id: String,
    pub endpoint_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt, when the endpoint answered.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed without an HTTP status (timeout,
    /// refused address, connection error).
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}
