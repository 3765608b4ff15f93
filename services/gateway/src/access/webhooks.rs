//! The webhook calls of a tenant handle (docs/webhooks.md): its endpoints,
//! their secrets, their delivery log. `ManageWebhooks` only: a tenant admin
//! on its own tenant, a BPO admin on its BPO's tenants.
//!
//! Every field names its tenant, so a caller outside it is refused here and
//! nothing reaches the webhooks service. Endpoint and delivery ids don't
//! say whose they are: the service answers NOT_FOUND for one the caller may
//! not manage, and every answer that names its tenant or endpoint is
//! checked to be the one asked about (an answer about another is our
//! fault: INTERNAL, never passed on).

use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::webhooks::{
    CreateWebhookEndpoint, DeleteWebhookEndpoint, ListWebhookDeliveries, ListWebhookEndpoints,
    ReplayWebhookDelivery, RotateWebhookSecret, UpdateWebhookEndpoint,
};
use callvault_contracts::webhooks_api::{
    DeliveryStatus, NewWebhookEndpoint, WebhookDelivery, WebhookEndpoint, WebhookEndpointPatch,
    WebhookEndpointWithSecret,
};
use tracing::error;
use uuid::Uuid;

use super::handles::TenantScope;
use super::perm;
use crate::error::{coded, from_api};

type Result<T> = async_graphql::Result<T>;

fn ensure(ok: bool, what: &'static str) -> Result<()> {
    if ok {
        return Ok(());
    }
    error!(what, "webhooks answered about something else than asked");
    Err(coded(ErrorCode::Internal, "internal error"))
}

impl TenantScope<'_, perm::ManageWebhooks> {
    fn own(&self, endpoint: &WebhookEndpoint) -> Result<()> {
        ensure(
            endpoint.tenant_id == self.tenant,
            "another tenant's endpoint",
        )
    }

    pub async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        let endpoints = self
            .rpc
            .call(ListWebhookEndpoints {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)?;
        for endpoint in &endpoints {
            self.own(endpoint)?;
        }
        Ok(endpoints)
    }

    pub async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpointWithSecret> {
        let created = self
            .rpc
            .call(CreateWebhookEndpoint {
                actor: self.actor.clone(),
                tenant: self.tenant,
                endpoint,
            })
            .await
            .map_err(from_api)?;
        self.own(&created.endpoint)?;
        Ok(created)
    }

    pub async fn update_webhook_endpoint(
        &self,
        endpoint_id: Uuid,
        patch: WebhookEndpointPatch,
    ) -> Result<WebhookEndpoint> {
        let updated = self
            .rpc
            .call(UpdateWebhookEndpoint {
                actor: self.actor.clone(),
                endpoint_id,
                patch,
            })
            .await
            .map_err(from_api)?;
        ensure(updated.id == endpoint_id, "another endpoint")?;
        self.own(&updated)?;
        Ok(updated)
    }

    pub async fn delete_webhook_endpoint(&self, endpoint_id: Uuid) -> Result<bool> {
        self.rpc
            .call(DeleteWebhookEndpoint {
                actor: self.actor.clone(),
                endpoint_id,
            })
            .await
            .map_err(from_api)
    }

    pub async fn rotate_webhook_secret(
        &self,
        endpoint_id: Uuid,
    ) -> Result<WebhookEndpointWithSecret> {
        let rotated = self
            .rpc
            .call(RotateWebhookSecret {
                actor: self.actor.clone(),
                endpoint_id,
            })
            .await
            .map_err(from_api)?;
        ensure(rotated.endpoint.id == endpoint_id, "another endpoint")?;
        self.own(&rotated.endpoint)?;
        Ok(rotated)
    }

    pub async fn webhook_deliveries(
        &self,
        endpoint_id: Uuid,
        status: Option<DeliveryStatus>,
        limit: Option<u32>,
    ) -> Result<Vec<WebhookDelivery>> {
        let deliveries = self
            .rpc
            .call(ListWebhookDeliveries {
                actor: self.actor.clone(),
                endpoint_id,
                status,
                limit,
            })
            .await
            .map_err(from_api)?;
        let asked = deliveries.iter().all(|d| d.endpoint_id == endpoint_id);
        ensure(asked, "another endpoint's delivery")?;
        Ok(deliveries)
    }

    pub async fn replay_webhook_delivery(&self, delivery_id: String) -> Result<WebhookDelivery> {
        let replayed = self
            .rpc
            .call(ReplayWebhookDelivery {
                actor: self.actor.clone(),
                delivery_id: delivery_id.clone(),
            })
            .await
            .map_err(from_api)?;
        ensure(replayed.id == delivery_id, "another delivery")?;
        Ok(replayed)
    }
}
