//! Webhooks (docs/webhooks.md): a tenant's endpoints, their secrets and
//! delivery log. Every field names its tenant and needs `ManageWebhooks` on
//! it (`access::webhooks`); the webhooks service checks every call again.
//!
//! Each resolver checks the token first (UNAUTHENTICATED), then its input
//! (BAD_USER_INPUT), then the caller's permission (FORBIDDEN), and only
//! then calls the webhooks service. The URL is the service's to check
//! (WEBHOOK_URL_REFUSED): it resolves the host.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use callvault_contracts::TenantId;
use callvault_contracts::webhooks_api::{self as api, EVENT_TYPES};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::{ScopeExt, perm};
use crate::error::bad_input;

/// The most deliveries one `webhookDeliveries` answers.
const MAX_DELIVERIES: u32 = 500;

/// A subscribed endpoint. Its secret is never part of it: it is answered
/// once, by `createWebhookEndpoint` and `rotateWebhookSecret`.
#[derive(SimpleObject)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    pub description: String,
    /// The event types it receives, sorted (see `webhookEventTypes`).
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled: after its deliveries kept failing for the whole
    /// retry schedule, or by a person.
    pub disabled_reason: Option<String>,
    /// Until when the secret replaced by the last rotation still signs
    /// deliveries, beside the new one.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<api::WebhookEndpoint> for WebhookEndpoint {
    fn from(e: api::WebhookEndpoint) -> Self {
        Self {
            id: e.id,
            tenant_id: e.tenant_id.0,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            previous_secret_expires_at: e.previous_secret_expires_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint and its signing secret, answered this once.
#[derive(SimpleObject)]
pub struct WebhookEndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    /// `whsec_` and base64: what Standard Webhooks libraries verify with.
    /// Not shown again; a lost secret is replaced by `rotateWebhookSecret`.
    pub secret: String,
}

impl From<api::WebhookEndpointWithSecret> for WebhookEndpointWithSecret {
    fn from(created: api::WebhookEndpointWithSecret) -> Self {
        Self {
            endpoint: created.endpoint.into(),
            secret: created.secret,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum WebhookDeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt failed, or the endpoint was disabled or deleted
    /// first. `replayWebhookDelivery` makes it pending again.
    Failed,
}

impl From<api::DeliveryStatus> for WebhookDeliveryStatus {
    fn from(status: api::DeliveryStatus) -> Self {
        match status {
            api::DeliveryStatus::Pending => Self::Pending,
            api::DeliveryStatus::Succeeded => Self::Succeeded,
            api::DeliveryStatus::Failed => Self::Failed,
        }
    }
}

impl From<WebhookDeliveryStatus> for api::DeliveryStatus {
    fn from(status: WebhookDeliveryStatus) -> Self {
        match status {
            WebhookDeliveryStatus::Pending => Self::Pending,
            WebhookDeliveryStatus::Succeeded => Self::Succeeded,
            WebhookDeliveryStatus::Failed => Self::Failed,
        }
    }
}

/// One event for one endpoint and the outcome of its last attempt.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    /// The `webhook-id` header: the same on every attempt and replay.
    pub id: String,
    pub endpoint_id: Uuid,
    pub event_type: String,
    pub status: WebhookDeliveryStatus,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt, when the endpoint answered.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed without an HTTP status (`timed out`,
    /// `connection failed`, `address not allowed`…).
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<api::WebhookDelivery> for WebhookDelivery {
    fn from(d: api::WebhookDelivery) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_type: d.event_type,
            status: d.status.into(),
            attempts: d.attempts,
            created_at: d.created_at,
            last_attempt_at: d.last_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// `https://…` (or `http://…`), without user name or password; its host
    /// must resolve to public addresses unless the operator allows them.
    /// Kept out of logs and traces: its query may carry a token.
    #[graphql(secret)]
    pub url: String,
    /// At least one, from `webhookEventTypes`.
    pub event_types: Vec<String>,
    #[graphql(default)]
    pub description: String,
}

/// What an update changes; a field left out (or null) stays as it is.
#[derive(InputObject, Default)]
pub struct UpdateWebhookEndpointInput {
    /// Checked again as on creation.
    #[graphql(secret)]
    pub url: Option<String>,
    /// At least one, from `webhookEventTypes`.
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// `true` re-enables an endpoint disabled after failures; `false`
    /// disables one.
    pub enabled: Option<bool>,
}

/// Refused here, before any call: the service would refuse them too, and
/// the caller learns which type was wrong without a round trip.
fn known_event_types(types: &[String]) -> Result<()> {
    if types.is_empty() {
        return Err(bad_input("eventTypes must name at least one event type"));
    }
    match types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        Some(unknown) => Err(bad_input(format!(
            "unknown event type {unknown:?}; see webhookEventTypes"
        ))),
        None => Ok(()),
    }
}

/// `Query.webhookEventTypes`.
pub(super) fn event_types(ctx: &Context<'_>) -> Result<Vec<String>> {
    ctx.scope()?;
    Ok(EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect())
}

/// `Query.webhookEndpoints`.
pub(super) async fn endpoints(ctx: &Context<'_>, tenant_id: Uuid) -> Result<Vec<WebhookEndpoint>> {
    let endpoints = ctx
        .scope()?
        .tenant(TenantId(tenant_id), perm::ManageWebhooks)
        .await?
        .webhook_endpoints()
        .await?;
    Ok(endpoints.into_iter().map(Into::into).collect())
}

/// `Query.webhookDeliveries`.
pub(super) async fn deliveries(
    ctx: &Context<'_>,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    status: Option<WebhookDeliveryStatus>,
    limit: Option<u32>,
) -> Result<Vec<WebhookDelivery>> {
    let scope = ctx.scope()?;
    if limit.is_some_and(|limit| limit == 0 || limit > MAX_DELIVERIES) {
        return Err(bad_input(format!(
            "limit must be between 1 and {MAX_DELIVERIES}"
        )));
    }
    let deliveries = scope
        .tenant(TenantId(tenant_id), perm::ManageWebhooks)
        .await?
        .webhook_deliveries(endpoint_id, status.map(Into::into), limit)
        .await?;
    Ok(deliveries.into_iter().map(Into::into).collect())
}

#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Subscribes an endpoint of a tenant to event types and answers its
    /// signing secret, this once (tenant admins for their tenant, BPO
    /// admins for their BPO's tenants). WEBHOOK_URL_REFUSED for a URL that
    /// isn't http(s) or whose host resolves to a loopback, private,
    /// link-local or otherwise non-public address; BAD_USER_INPUT for an
    /// unknown event type or none. Nothing is stored then.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant whose events it receives.")] tenant_id: Uuid,
        #[graphql(desc = "The endpoint.")] input: CreateWebhookEndpointInput,
    ) -> Result<WebhookEndpointWithSecret> {
        let scope = ctx.scope()?;
        known_event_types(&input.event_types)?;
        let endpoint = api::NewWebhookEndpoint {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
        };
        let created = scope
            .tenant(TenantId(tenant_id), perm::ManageWebhooks)
            .await?
            .create_webhook_endpoint(endpoint)
            .await?;
        Ok(created.into())
    }

    /// Changes an endpoint; a new URL is checked as on creation
    /// (WEBHOOK_URL_REFUSED), and a refused update changes nothing.
    /// NOT_FOUND for an endpoint the caller doesn't manage.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The endpoint.")] id: Uuid,
        #[graphql(desc = "What changes.")] input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpoint> {
        let scope = ctx.scope()?;
        if let Some(types) = &input.event_types {
            known_event_types(types)?;
        }
        let patch = api::WebhookEndpointPatch {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
            enabled: input.enabled,
        };
        let updated = scope
            .tenant(TenantId(tenant_id), perm::ManageWebhooks)
            .await?
            .update_webhook_endpoint(id, patch)
            .await?;
        Ok(updated.into())
    }

    /// Deletes an endpoint with its delivery log; its pending deliveries
    /// are never attempted again. NOT_FOUND for an endpoint the caller
    /// doesn't manage.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The endpoint.")] id: Uuid,
    ) -> Result<bool> {
        ctx.scope()?
            .tenant(TenantId(tenant_id), perm::ManageWebhooks)
            .await?
            .delete_webhook_endpoint(id)
            .await
    }

    /// A new signing secret for an endpoint, answered this once. The one
    /// it replaces keeps signing beside it for 24 hours (two signatures per
    /// delivery), so receivers switch without losing a delivery.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The endpoint.")] id: Uuid,
    ) -> Result<WebhookEndpointWithSecret> {
        let rotated = ctx
            .scope()?
            .tenant(TenantId(tenant_id), perm::ManageWebhooks)
            .await?
            .rotate_webhook_secret(id)
            .await?;
        Ok(rotated.into())
    }

    /// Sends a delivery again, whatever became of it, with the same
    /// `webhook-id` and a fresh retry schedule. CONFLICT while its endpoint
    /// is disabled; NOT_FOUND for a delivery the caller doesn't manage.
    async fn replay_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delivery's tenant.")] tenant_id: Uuid,
        #[graphql(desc = "The delivery (`msg_…`).")] id: String,
    ) -> Result<WebhookDelivery> {
        let replayed = ctx
            .scope()?
            .tenant(TenantId(tenant_id), perm::ManageWebhooks)
            .await?
            .replay_webhook_delivery(id)
            .await?;
        Ok(replayed.into())
    }
}
