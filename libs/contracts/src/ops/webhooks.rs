//! The webhooks service's operations: a tenant's endpoints, their secrets
//! and their delivery log. The tenant's admin (or its BPO's) may use them;
//! the service checks that itself. An endpoint of a tenant the actor may
//! not manage answers `NotFound`, exactly like one that doesn't exist.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rpc::{Rpc, Service};
use crate::webhooks_api::{
    DeliveryStatus, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint, WebhookEndpointPatch,
    WebhookEndpointWithSecret,
};
use crate::{Actor, TenantId};

/// Subscribes an endpoint and answers its new secret. `WebhookUrlRefused`
/// for a URL that isn't http(s) or whose host resolves to a loopback,
/// private, link-local or otherwise non-public address; `InvalidInput` for
/// an unknown or missing event type.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreateWebhookEndpoint {
    pub actor: Actor,
    pub tenant: TenantId,
    pub endpoint: NewWebhookEndpoint,
}

impl Rpc for CreateWebhookEndpoint {
    type Reply = WebhookEndpointWithSecret;
    const NAME: &'static str = "create_webhook_endpoint";
    const SERVICE: Service = Service::Webhooks;
}

/// Changes an endpoint; the URL is checked again as on creation.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct UpdateWebhookEndpoint {
    pub actor: Actor,
    pub endpoint_id: Uuid,
    pub patch: WebhookEndpointPatch,
}

impl Rpc for UpdateWebhookEndpoint {
    type Reply = WebhookEndpoint;
    const NAME: &'static str = "update_webhook_endpoint";
    const SERVICE: Service = Service::Webhooks;
}

/// Deletes an endpoint with its delivery log; its pending deliveries are
/// never attempted again.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeleteWebhookEndpoint {
    pub actor: Actor,
    pub endpoint_id: Uuid,
}

impl Rpc for DeleteWebhookEndpoint {
    type Reply = bool;
    const NAME: &'static str = "delete_webhook_endpoint";
    const SERVICE: Service = Service::Webhooks;
}

/// A tenant's endpoints, oldest first.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListWebhookEndpoints {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for ListWebhookEndpoints {
    type Reply = Vec<WebhookEndpoint>;
    const NAME: &'static str = "webhook_endpoints";
    const SERVICE: Service = Service::Webhooks;
}

/// A new secret for an endpoint. The one it replaces keeps signing too
/// (two signatures per delivery) for 24 hours, so receivers can switch
/// without losing a delivery.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RotateWebhookSecret {
    pub actor: Actor,
    pub endpoint_id: Uuid,
}

impl Rpc for RotateWebhookSecret {
    type Reply = WebhookEndpointWithSecret;
    const NAME: &'static str = "rotate_webhook_secret";
    const SERVICE: Service = Service::Webhooks;
}

/// An endpoint's delivery log, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListWebhookDeliveries {
    pub actor: Actor,
    pub endpoint_id: Uuid,
    pub status: Option<DeliveryStatus>,
    /// At most 500; 100 when absent.
    pub limit: Option<u32>,
}

impl Rpc for ListWebhookDeliveries {
    type Reply = Vec<WebhookDelivery>;
    const NAME: &'static str = "webhook_deliveries";
    const SERVICE: Service = Service::Webhooks;
}

/// Sends a delivery again, whatever became of it, with the same
/// `webhook-id` (receivers deduplicate on it) and a fresh retry schedule.
/// `Conflict` while its endpoint is disabled.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ReplayWebhookDelivery {
    pub actor: Actor,
    pub delivery_id: String,
}

impl Rpc for ReplayWebhookDelivery {
    type Reply = WebhookDelivery;
    const NAME: &'static str = "replay_webhook_delivery";
    const SERVICE: Service = Service::Webhooks;
}
