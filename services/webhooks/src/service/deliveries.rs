//! The delivery log and replays.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::Actor;
use callvault_contracts::metadata_api::{ApiError, ApiResult};
use callvault_contracts::ops::webhooks::{ListWebhookDeliveries, ReplayWebhookDelivery};
use callvault_contracts::webhooks_api::{DeliveryStatus, WebhookDelivery};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::{WebhooksService, conflict};
use crate::db::entity::delivery;
use crate::db::{db_time, internal};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

pub(super) fn routes(router: &mut Router, service: &Arc<WebhooksService>) {
    router
        .route(service, |s, r: ListWebhookDeliveries| async move {
            s.deliveries(&r.actor, r.endpoint_id, r.status, r.limit)
                .await
        })
        .route(service, |s, r: ReplayWebhookDelivery| async move {
            s.replay(&r.actor, &r.delivery_id).await
        });
}

/// The `webhook-id` of a delivery.
pub(crate) fn webhook_id(id: Uuid) -> String {
    format!("msg_{}", id.simple())
}

fn parse_webhook_id(id: &str) -> Option<Uuid> {
    Uuid::try_parse(id.strip_prefix("msg_")?).ok()
}

pub(crate) fn status_key(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Succeeded => "succeeded",
        DeliveryStatus::Failed => "failed",
    }
}

fn status_of(key: &str) -> DeliveryStatus {
    match key {
        "succeeded" => DeliveryStatus::Succeeded,
        "failed" => DeliveryStatus::Failed,
        _ => DeliveryStatus::Pending,
    }
}

pub(crate) fn delivery_of(model: &delivery::Model) -> WebhookDelivery {
    WebhookDelivery {
        id: webhook_id(model.id),
        endpoint_id: model.endpoint_id,
        event_type: model.event_type.clone(),
        status: status_of(&model.status),
        attempts: u32::try_from(model.attempts).unwrap_or(0),
        created_at: model.created_at,
        last_attempt_at: model.last_attempt_at,
        last_status_code: model.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: model.last_error.clone(),
        next_attempt_at: model.next_attempt_at,
        delivered_at: model.delivered_at,
    }
}

impl WebhooksService {
    pub async fn deliveries(
        &self,
        actor: &Actor,
        endpoint: Uuid,
        status: Option<DeliveryStatus>,
        limit: Option<u32>,
    ) -> ApiResult<Vec<WebhookDelivery>> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let endpoint = self.managed_endpoint(actor, endpoint).await?;
        let mut query =
            delivery::Entity::find().filter(delivery::Column::EndpointId.eq(endpoint.id));
        if let Some(status) = status {
            query = query.filter(delivery::Column::Status.eq(status_key(status)));
        }
        let found = query
            .order_by_desc(delivery::Column::CreatedAt)
            .order_by_desc(delivery::Column::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.iter().map(delivery_of).collect())
    }

    /// Pending again, due now, with a fresh schedule and the same
    /// `webhook-id`.
    pub async fn replay(&self, actor: &Actor, id: &str) -> ApiResult<WebhookDelivery> {
        self.may_manage_some(actor)?;
        let not_found = || ApiError::not_found("webhook delivery");
        let id = parse_webhook_id(id).ok_or_else(not_found)?;
        let found = delivery::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        // Through the endpoint: another tenant's delivery is not found.
        let endpoint = self
            .managed_endpoint(actor, found.endpoint_id)
            .await
            .map_err(|e| {
                if e.code == callvault_contracts::metadata_api::ErrorCode::NotFound {
                    not_found()
                } else {
                    e
                }
            })?;
        if !endpoint.enabled {
            return Err(conflict("the endpoint is disabled: enable it first"));
        }
        let mut model = found.into_active_model();
        model.status = Set(status_key(DeliveryStatus::Pending).to_owned());
        model.attempts = Set(0);
        model.next_attempt_at = Set(Some(db_time(Utc::now())));
        model.leased_until = Set(None);
        let model = model.update(&self.db).await.map_err(internal)?;
        tracing::info!(endpoint = %endpoint.id, delivery = %model.id, "webhook delivery replayed");
        Ok(delivery_of(&model))
    }
}
