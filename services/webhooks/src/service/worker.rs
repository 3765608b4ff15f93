//! The delivery worker: each pass takes the deliveries that are due (from
//! the database, so they survive restarts), leases each so no other
//! worker takes it meanwhile, and attempts it within its endpoint's
//! concurrency limit. A failed attempt waits for the next step of the
//! schedule (with jitter); when the schedule is used up the delivery has
//! failed, and an endpoint with no success since that delivery began is
//! disabled, with a `webhook.endpoint_disabled` event.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use callvault_bus::{Message, outbox};
use callvault_contracts::TenantId;
use callvault_contracts::events::WebhookEndpointDisabledV1;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::WebhooksService;
use super::deliveries::webhook_id;
use crate::db::db_time;
use crate::db::entity::{delivery, endpoint};
use crate::secret::{SigningSecret, signature_header};
use crate::sender::{Outcome, Signed};

/// Deliveries looked at per pass.
const PASS_SIZE: u64 = 200;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub attempted: u32,
    pub succeeded: u32,
    pub failed: u32,
    /// Due, but their endpoint had no free slot: next pass.
    pub deferred: u32,
    pub disabled_endpoints: u32,
}

impl WebhooksService {
    /// How long a taken delivery stays another worker's: longer than any
    /// attempt can take.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.options.timeout * 3 + Duration::from_secs(30))
            .unwrap_or(chrono::Duration::minutes(5))
    }

    fn slot(&self, endpoint: uuid::Uuid) -> Arc<Semaphore> {
        let mut slots = match self.slots.lock() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots
            .entry(endpoint)
            .or_insert_with(|| Arc::new(Semaphore::new(self.options.per_endpoint_concurrency)))
            .clone()
    }

    /// One pass: attempts every due delivery its endpoint has room for and
    /// waits for them.
    pub async fn deliver_due(self: &Arc<Self>) -> PassReport {
        let mut report = PassReport::default();
        let now = db_time(Utc::now());
        let due = delivery::Entity::find()
            .filter(delivery::Column::Status.eq("pending"))
            .filter(delivery::Column::NextAttemptAt.lte(now))
            .filter(
                Condition::any()
                    .add(delivery::Column::LeasedUntil.is_null())
                    .add(delivery::Column::LeasedUntil.lt(now)),
            )
            .order_by_asc(delivery::Column::NextAttemptAt)
            .limit(PASS_SIZE)
            .all(&self.db)
            .await;
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: due deliveries unreadable");
                return report;
            }
        };
        let mut running = JoinSet::new();
        for found in due {
            let Ok(permit) = self.slot(found.endpoint_id).try_acquire_owned() else {
                report.deferred += 1;
                continue;
            };
            match self.take(&found, now).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: a delivery could not be leased");
                    continue;
                }
            }
            let service = self.clone();
            running.spawn(async move { service.attempt(found, permit).await });
        }
        while let Some(done) = running.join_next().await {
            report.attempted += 1;
            match done {
                Ok(Ok(Attempted::Succeeded)) => report.succeeded += 1,
                Ok(Ok(Attempted::Failed { disabled })) => {
                    report.failed += 1;
                    report.disabled_endpoints += u32::from(disabled);
                }
                Ok(Err(e)) => {
                    report.failed += 1;
                    tracing::warn!(error = %e, "webhooks: an attempt was not recorded");
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(error = %e, "webhooks: an attempt panicked");
                }
            }
        }
        report
    }

    /// Leases a delivery unless another worker just did.
    async fn take(
        &self,
        found: &delivery::Model,
        now: DateTime<Utc>,
    ) -> Result<bool, sea_orm::DbErr> {
        let taken = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::LeasedUntil,
                Expr::value(db_time(now + self.lease())),
            )
            .filter(delivery::Column::Id.eq(found.id))
            .filter(delivery::Column::Status.eq("pending"))
            .filter(
                Condition::any()
                    .add(delivery::Column::LeasedUntil.is_null())
                    .add(delivery::Column::LeasedUntil.lt(now)),
            )
            .exec(&self.db)
            .await?;
        Ok(taken.rows_affected == 1)
    }

    /// The endpoint's secrets that sign now: its own, and the one a
    /// rotation replaced while the overlap lasts.
    fn signing_secrets(&self, found: &endpoint::Model, now: DateTime<Utc>) -> Vec<SigningSecret> {
        let mut secrets = Vec::with_capacity(2);
        match self.seal.open(found.id, &found.secret) {
            Ok(secret) => secrets.push(secret),
            Err(e) => {
                tracing::error!(endpoint = %found.id, error = %e, "webhooks: endpoint secret unreadable")
            }
        }
        if let (Some(previous), Some(until)) = (&found.previous_secret, found.previous_expires_at)
            && until > now
        {
            match self.seal.open(found.id, previous) {
                Ok(secret) => secrets.push(secret),
                Err(e) => {
                    tracing::error!(endpoint = %found.id, error = %e, "webhooks: previous secret unreadable")
                }
            }
        }
        secrets
    }

    async fn attempt(
        &self,
        found: delivery::Model,
        _permit: OwnedSemaphorePermit,
    ) -> Result<Attempted, sea_orm::DbErr> {
        let endpoint = endpoint::Entity::find_by_id(found.endpoint_id)
            .one(&self.db)
            .await?;
        let Some(endpoint) = endpoint.filter(|e| e.enabled) else {
            self.give_up(found, "endpoint disabled").await?;
            return Ok(Attempted::Failed { disabled: false });
        };
        let now = Utc::now();
        let id = webhook_id(found.id);
        let secrets = self.signing_secrets(&endpoint, now);
        let outcome = match signature_header(&secrets, &id, now.timestamp(), &found.payload) {
            Ok(signature) if !secrets.is_empty() => {
                let signed = Signed {
                    id: &id,
                    timestamp: now.timestamp(),
                    signature,
                };
                self.sender
                    .send(&endpoint.url, signed, found.payload.clone())
                    .await
            }
            _ => Outcome {
                status: None,
                error: Some("endpoint secret unreadable"),
            },
        };
        tracing::debug!(
            endpoint = %endpoint.id,
            delivery = %found.id,
            status = ?outcome.status,
            error = ?outcome.error,
            "webhook attempt"
        );
        self.record(found, endpoint, &outcome).await
    }

    async fn record(
        &self,
        found: delivery::Model,
        endpoint: endpoint::Model,
        outcome: &Outcome,
    ) -> Result<Attempted, sea_orm::DbErr> {
        let now = db_time(Utc::now());
        let attempts = found.attempts.saturating_add(1);
        let created_at = found.created_at;
        let delivery_id = found.id;
        let tx = self.db.begin().await?;
        let mut model = found.into_active_model();
        model.attempts = Set(attempts);
        model.last_attempt_at = Set(Some(now));
        model.last_status_code = Set(outcome.status.map(i32::from));
        model.last_error = Set(outcome.error.map(str::to_owned));
        model.leased_until = Set(None);
        if outcome.succeeded() {
            model.status = Set("succeeded".to_owned());
            model.next_attempt_at = Set(None);
            model.delivered_at = Set(Some(now));
            model.update(&tx).await?;
            endpoint::Entity::update_many()
                .col_expr(endpoint::Column::LastSuccessAt, Expr::value(now))
                .filter(endpoint::Column::Id.eq(endpoint.id))
                .exec(&tx)
                .await?;
            tx.commit().await?;
            return Ok(Attempted::Succeeded);
        }
        let step = usize::try_from(attempts - 1).unwrap_or(usize::MAX);
        if let Some(wait) = self.options.schedule.get(step) {
            let wait = chrono::Duration::from_std(jittered(*wait, self.options.jitter))
                .unwrap_or(chrono::Duration::hours(10));
            model.next_attempt_at = Set(Some(db_time(now + wait)));
            model.update(&tx).await?;
            tx.commit().await?;
            return Ok(Attempted::Failed { disabled: false });
        }
        model.status = Set("failed".to_owned());
        model.next_attempt_at = Set(None);
        model.update(&tx).await?;
        let broken = endpoint.last_success_at.is_none_or(|at| at < created_at);
        if broken {
            self.disable(&tx, &endpoint, delivery_id, now).await?;
        }
        tx.commit().await?;
        Ok(Attempted::Failed { disabled: broken })
    }

    /// Disables an endpoint, fails its other pending deliveries and tells
    /// the bus, in the caller's transaction.
    async fn disable(
        &self,
        tx: &sea_orm::DatabaseTransaction,
        found: &endpoint::Model,
        delivery: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        let mut model = found.clone().into_active_model();
        model.enabled = Set(false);
        model.disabled_reason = Set(Some(
            "every delivery attempt failed for the whole retry schedule".to_owned(),
        ));
        model.updated_at = Set(now);
        model.update(tx).await?;
        delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value("failed"))
            .col_expr(
                delivery::Column::NextAttemptAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                delivery::Column::LastError,
                Expr::value("endpoint disabled"),
            )
            .filter(delivery::Column::EndpointId.eq(found.id))
            .filter(delivery::Column::Status.eq("pending"))
            .filter(delivery::Column::Id.ne(delivery))
            .exec(tx)
            .await?;
        let event = WebhookEndpointDisabledV1 {
            tenant_id: TenantId(found.tenant_id),
            endpoint_id: found.id,
            delivery_id: webhook_id(delivery),
            disabled_at: now,
        };
        let message = Message::new(&event)
            .map_err(|e| sea_orm::DbErr::Custom(format!("endpoint_disabled event: {e}")))?;
        outbox::enqueue(tx, &message).await?;
        tracing::warn!(tenant = %found.tenant_id, endpoint = %found.id, "webhook endpoint disabled after repeated failure");
        Ok(())
    }

    /// A delivery whose endpoint is gone or disabled: failed, not retried.
    async fn give_up(&self, found: delivery::Model, why: &str) -> Result<(), sea_orm::DbErr> {
        let mut model = found.into_active_model();
        model.status = Set("failed".to_owned());
        model.next_attempt_at = Set(None);
        model.leased_until = Set(None);
        model.last_error = Set(Some(why.to_owned()));
        model.update(&self.db).await?;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
enum Attempted {
    Succeeded,
    Failed { disabled: bool },
}

/// `wait` moved by a random share of up to `jitter` of it, either way.
pub(crate) fn jittered(wait: Duration, jitter: f64) -> Duration {
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return wait;
    }
    // A uniform draw in [-1, 1).
    let unit = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
    let factor = 1.0 + unit * jitter.clamp(0.0, 1.0);
    wait.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_share() {
        let wait = Duration::from_secs(100);
        for _ in 0..1000 {
            let moved = jittered(wait, 0.2);
            assert!(moved >= Duration::from_secs(80) && moved <= Duration::from_secs(120));
        }
    }

    #[test]
    fn the_default_schedule_spans_about_three_days() {
        let total: u64 = super::super::DEFAULT_SCHEDULE.iter().sum();
        let hours = total / 3600;
        assert!((70..=76).contains(&hours), "{hours} h");
    }
}
