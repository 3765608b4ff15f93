//! Endpoints: subscribe, change, delete, list, rotate the secret.

use std::collections::BTreeSet;
use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::webhooks::{
    CreateWebhookEndpoint, DeleteWebhookEndpoint, ListWebhookEndpoints, RotateWebhookSecret,
    UpdateWebhookEndpoint,
};
use callvault_contracts::webhooks_api::{
    NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointPatch, WebhookEndpointWithSecret,
};
use callvault_contracts::{Actor, TenantId};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use super::{WebhooksService, endpoint_not_found};
use crate::catalogue::is_known;
use crate::db::entity::{delivery, endpoint};
use crate::db::{db_time, internal};
use crate::secret::SigningSecret;

/// Longest description kept.
const MAX_DESCRIPTION: usize = 500;
/// Endpoints per tenant: enough for any integration, a bound on fan-out.
const MAX_ENDPOINTS: usize = 50;

pub(super) fn routes(router: &mut Router, service: &Arc<WebhooksService>) {
    router
        .route(service, |s, r: CreateWebhookEndpoint| async move {
            s.create_endpoint(&r.actor, r.tenant, r.endpoint).await
        })
        .route(service, |s, r: UpdateWebhookEndpoint| async move {
            s.update_endpoint(&r.actor, r.endpoint_id, r.patch).await
        })
        .route(service, |s, r: DeleteWebhookEndpoint| async move {
            s.delete_endpoint(&r.actor, r.endpoint_id).await
        })
        .route(service, |s, r: ListWebhookEndpoints| async move {
            s.list_endpoints(&r.actor, r.tenant).await
        })
        .route(service, |s, r: RotateWebhookSecret| async move {
            s.rotate_secret(&r.actor, r.endpoint_id).await
        });
}

pub(super) fn endpoint_of(model: &endpoint::Model) -> WebhookEndpoint {
    WebhookEndpoint {
        id: model.id,
        tenant_id: TenantId(model.tenant_id),
        url: model.url.clone(),
        description: model.description.clone(),
        event_types: model
            .event_types
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        enabled: model.enabled,
        disabled_reason: model.disabled_reason.clone(),
        previous_secret_expires_at: model.previous_expires_at,
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

/// Known types only, at least one; kept sorted and once each.
fn event_types(types: &[String]) -> ApiResult<String> {
    if types.is_empty() {
        return Err(ApiError::invalid("subscribe to at least one event type"));
    }
    let mut set = BTreeSet::new();
    for t in types {
        let t = t.trim();
        if !is_known(t) {
            // The catalogue is public: naming the unknown type is safe and
            // tells the caller what to fix.
            return Err(ApiError::invalid(format!("unknown event type {t:?}")));
        }
        set.insert(t.to_owned());
    }
    Ok(set.into_iter().collect::<Vec<_>>().join(" "))
}

fn description(text: &str) -> ApiResult<String> {
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid(format!(
            "the description is longer than {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(text.trim().to_owned())
}

impl WebhooksService {
    async fn checked_url(&self, url: &str) -> ApiResult<String> {
        self.policy
            .check_url(url)
            .await
            .map(|parsed| parsed.to_string())
            .map_err(|refused| ApiError::new(ErrorCode::WebhookUrlRefused, refused.to_string()))
    }

    /// The endpoint, if the actor may manage its tenant; `NotFound` as for
    /// one that doesn't exist otherwise.
    pub(super) async fn managed_endpoint(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> ApiResult<endpoint::Model> {
        self.may_manage_some(actor)?;
        let found = endpoint::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?
            .ok_or_else(endpoint_not_found)?;
        match self.authorize(actor, TenantId(found.tenant_id)).await {
            Ok(()) => Ok(found),
            Err(e) if e.code == ErrorCode::Forbidden => Err(endpoint_not_found()),
            Err(e) => Err(e),
        }
    }

    pub async fn create_endpoint(
        &self,
        actor: &Actor,
        tenant: TenantId,
        new: NewWebhookEndpoint,
    ) -> ApiResult<WebhookEndpointWithSecret> {
        self.authorize(actor, tenant).await?;
        let types = event_types(&new.event_types)?;
        let description = description(&new.description)?;
        let url = self.checked_url(&new.url).await?;
        let existing = endpoint::Entity::find()
            .filter(endpoint::Column::TenantId.eq(tenant.0))
            .all(&self.db)
            .await
            .map_err(internal)?;
        if existing.len() >= MAX_ENDPOINTS {
            return Err(ApiError::invalid(format!(
                "a tenant has at most {MAX_ENDPOINTS} webhook endpoints"
            )));
        }
        let id = Uuid::new_v4();
        let secret = SigningSecret::generate();
        let now = db_time(Utc::now());
        let model = endpoint::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant.0),
            url: Set(url),
            description: Set(description),
            event_types: Set(types),
            secret: Set(self.seal.seal(id, &secret)),
            previous_secret: Set(None),
            previous_expires_at: Set(None),
            enabled: Set(true),
            disabled_reason: Set(None),
            last_success_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.db)
        .await
        .map_err(internal)?;
        tracing::info!(tenant = %tenant, endpoint = %id, "webhook endpoint created");
        Ok(WebhookEndpointWithSecret {
            endpoint: endpoint_of(&model),
            secret: secret.expose().to_owned(),
        })
    }

    pub async fn update_endpoint(
        &self,
        actor: &Actor,
        id: Uuid,
        patch: WebhookEndpointPatch,
    ) -> ApiResult<WebhookEndpoint> {
        let found = self.managed_endpoint(actor, id).await?;
        // Everything is checked before anything is written.
        let types = patch.event_types.as_deref().map(event_types).transpose()?;
        let description = patch.description.as_deref().map(description).transpose()?;
        let url = match &patch.url {
            Some(url) => Some(self.checked_url(url).await?),
            None => None,
        };
        let mut model = found.into_active_model();
        if let Some(types) = types {
            model.event_types = Set(types);
        }
        if let Some(description) = description {
            model.description = Set(description);
        }
        if let Some(url) = url {
            model.url = Set(url);
        }
        if let Some(enabled) = patch.enabled {
            model.enabled = Set(enabled);
            model.disabled_reason = Set((!enabled).then(|| "disabled by a person".to_owned()));
        }
        model.updated_at = Set(db_time(Utc::now()));
        let model = model.update(&self.db).await.map_err(internal)?;
        Ok(endpoint_of(&model))
    }

    pub async fn delete_endpoint(&self, actor: &Actor, id: Uuid) -> ApiResult<bool> {
        let found = self.managed_endpoint(actor, id).await?;
        let tx = self.db.begin().await.map_err(internal)?;
        delivery::Entity::delete_many()
            .filter(delivery::Column::EndpointId.eq(found.id))
            .exec(&tx)
            .await
            .map_err(internal)?;
        endpoint::Entity::delete_by_id(found.id)
            .exec(&tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        tracing::info!(endpoint = %id, "webhook endpoint deleted");
        Ok(true)
    }

    pub async fn list_endpoints(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<WebhookEndpoint>> {
        self.authorize(actor, tenant).await?;
        let found = endpoint::Entity::find()
            .filter(endpoint::Column::TenantId.eq(tenant.0))
            .order_by_asc(endpoint::Column::CreatedAt)
            .order_by_asc(endpoint::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.iter().map(endpoint_of).collect())
    }

    /// The new secret signs from now on; the one it replaces signs beside
    /// it until the overlap ends. A second rotation within the overlap
    /// drops the oldest.
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> ApiResult<WebhookEndpointWithSecret> {
        let found = self.managed_endpoint(actor, id).await?;
        let secret = SigningSecret::generate();
        let now = db_time(Utc::now());
        let overlap = chrono::Duration::from_std(self.options.rotation_overlap)
            .unwrap_or(chrono::Duration::hours(24));
        let previous = found.secret.clone();
        let mut model = found.into_active_model();
        model.secret = Set(self.seal.seal(id, &secret));
        model.previous_secret = Set(Some(previous));
        model.previous_expires_at = Set(Some(now + overlap));
        model.updated_at = Set(now);
        let model = model.update(&self.db).await.map_err(internal)?;
        tracing::info!(endpoint = %id, "webhook secret rotated");
        Ok(WebhookEndpointWithSecret {
            endpoint: endpoint_of(&model),
            secret: secret.expose().to_owned(),
        })
    }
}
