//! From an event to its deliveries, once: the message id goes into the
//! inbox in the transaction that creates one pending delivery per enabled
//! endpoint of the tenant subscribed to its type.

use callvault_bus::{Message, inbox};
use callvault_contracts::metadata_api::ApiResult;
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::WebhooksService;
use crate::CONSUMER;
use crate::catalogue::{self, webhook_of};
use crate::db::entity::{delivery, endpoint};
use crate::db::{db_time, internal};

/// What an event became.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntakeOutcome {
    pub deliveries: u32,
    pub duplicate: bool,
}

impl WebhooksService {
    /// Turns one event into its deliveries. A message seen before changes
    /// nothing; one that can't be decoded is logged and recorded as seen
    /// (it never will decode, redelivering it would not help).
    pub async fn accept(&self, message: &Message) -> ApiResult<IntakeOutcome> {
        let event = match webhook_of(message) {
            Ok(event) => event,
            Err(why) => {
                tracing::warn!(topic = %message.topic, message_id = %message.id, %why, "event not turned into webhooks");
                None
            }
        };
        let now = db_time(Utc::now());
        let tx = self.db.begin().await.map_err(internal)?;
        if !inbox::record_once(&tx, CONSUMER, message.id)
            .await
            .map_err(internal)?
        {
            tx.commit().await.map_err(internal)?;
            return Ok(IntakeOutcome {
                deliveries: 0,
                duplicate: true,
            });
        }
        let mut outcome = IntakeOutcome::default();
        if let Some(event) = event {
            let endpoints = endpoint::Entity::find()
                .filter(endpoint::Column::TenantId.eq(event.tenant))
                .filter(endpoint::Column::Enabled.eq(true))
                .all(&tx)
                .await
                .map_err(internal)?;
            let body = catalogue::body(&event, message);
            for found in endpoints {
                if Some(found.id) == event.except_endpoint
                    || !found.event_types.split(' ').any(|t| t == event.event_type)
                {
                    continue;
                }
                let row = delivery::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    endpoint_id: Set(found.id),
                    tenant_id: Set(event.tenant),
                    message_id: Set(message.id),
                    event_type: Set(event.event_type.to_owned()),
                    payload: Set(body.clone()),
                    status: Set("pending".to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(Some(now)),
                    leased_until: Set(None),
                    last_attempt_at: Set(None),
                    last_status_code: Set(None),
                    last_error: Set(None),
                    delivered_at: Set(None),
                    created_at: Set(now),
                };
                let inserted = delivery::Entity::insert(row)
                    .on_conflict(
                        OnConflict::columns([
                            delivery::Column::EndpointId,
                            delivery::Column::MessageId,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .exec_without_returning(&tx)
                    .await
                    .map_err(internal)?;
                outcome.deliveries += u32::try_from(inserted).unwrap_or(0);
            }
        }
        tx.commit().await.map_err(internal)?;
        Ok(outcome)
    }
}
