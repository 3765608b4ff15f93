//! The `recording.ingested` consumer: puts each ingested recording in the
//! catalogue, exactly once however often the bus delivers it.
//!
//! Failure policy, since the bus redelivers on error a bounded number of
//! times and then dead-letters:
//! - a duplicate message (its id is in the inbox) is acknowledged and does
//!   nothing;
//! - a message of another topic or version, a malformed payload or values
//!   out of range are errors: redelivery won't fix them, but the dead-letter
//!   queue keeps them for an operator instead of dropping them silently;
//! - a recording for a tenant this database doesn't know is an error too,
//!   and nothing is recorded in the inbox, so a redelivery after the tenant
//!   exists (a restore, a lagging replica) would succeed. Acknowledging it
//!   would lose a customer's recording from the catalogue without a trace;
//! - the same recording id arriving again under a new message id (a
//!   re-published event) keeps the first row.

use async_trait::async_trait;
use callvault_bus::{EventHandler, HandlerError, Message, inbox};
use callvault_contracts::events::RecordingIngestedV1;
use callvault_contracts::metadata_api::ErrorCode;
use sea_orm::{DatabaseConnection, EntityTrait, TransactionTrait};

use crate::catalogue_keys::CatalogueKeys;
use crate::db::db_time;
use crate::db::entity::recording::{self, channel_str, direction_str};
use crate::db::entity::recording_tombstone;
use crate::phone::{self, Region};
use crate::pii::{Party, TenantPii};
use crate::{input, store};

/// The consumer (durable queue) name the inbox deduplicates under.
pub const CONSUMER: &str = "metadata";

pub struct IngestedConsumer {
    db: DatabaseConnection,
    pii: CatalogueKeys,
}

impl IngestedConsumer {
    pub fn new(db: DatabaseConnection, pii: CatalogueKeys) -> Self {
        Self { db, pii }
    }

    async fn catalogue(&self, message: &Message) -> Result<(), HandlerError> {
        let event: RecordingIngestedV1 = message.decode().map_err(|err| {
            HandlerError::permanent(format!("cannot decode recording.ingested: {err}"))
        })?;
        let tenant_id = event.tenant_id;
        let recording_id = event.recording_id;
        // Sealed under the tenant's catalogue key, through its master key.
        // An unknown tenant is handled below (the inbox row rolls back); a
        // key that is unusable now may be usable again by a redelivery.
        let pii = match self.pii.for_tenant(&self.db, tenant_id).await {
            Ok(pii) => pii,
            Err(err) if err.code == ErrorCode::NotFound => {
                tracing::warn!(
                    message_id = %message.id,
                    tenant_id = %tenant_id,
                    recording_id = %recording_id,
                    "recording for an unknown tenant"
                );
                return Err(HandlerError::permanent(format!(
                    "unknown tenant {tenant_id}"
                )));
            }
            Err(err) => {
                return Err(HandlerError::retryable(format!(
                    "tenant {tenant_id}'s catalogue key: {}",
                    err.code.as_str()
                )));
            }
        };
        let (mut row, tags) = self.row(&event, &pii)?;

        let txn = self.db.begin().await.map_err(db_error)?;
        if !inbox::record_once(&txn, CONSUMER, message.id)
            .await
            .map_err(db_error)?
        {
            txn.commit().await.map_err(db_error)?;
            tracing::debug!(message_id = %message.id, "duplicate message skipped");
            return Ok(());
        }
        let tenant = store::tenancy::get_tenant_for_share(&txn, tenant_id)
            .await
            .map_err(db_error)?;
        let Some(tenant) = tenant else {
            // Rolls the inbox row back: a redelivery must not be skipped.
            txn.rollback().await.map_err(db_error)?;
            tracing::warn!(
                message_id = %message.id,
                tenant_id = %tenant_id,
                recording_id = %recording_id,
                "recording for an unknown tenant"
            );
            return Err(HandlerError::permanent(format!(
                "unknown tenant {tenant_id}"
            )));
        };
        // An offboarded tenant takes nothing in, and its key is destroyed:
        // an upload that raced the freeze leaves no catalogue entry.
        if store::offboarding::is_frozen(&txn, tenant_id)
            .await
            .map_err(db_error)?
        {
            txn.rollback().await.map_err(db_error)?;
            tracing::warn!(
                message_id = %message.id,
                tenant_id = %tenant_id,
                recording_id = %recording_id,
                "recording for an offboarded tenant refused"
            );
            return Err(HandlerError::permanent(format!(
                "tenant {tenant_id} is offboarded"
            )));
        }
        // A deleted recording stays deleted: an old event published again
        // (a replayed dead letter, a re-published outbox row) must not bring
        // back a catalogue entry whose audio is shredded.
        let deleted = recording_tombstone::Entity::find_by_id((tenant_id.0, recording_id.0))
            .one(&txn)
            .await
            .map_err(db_error)?;
        if deleted.is_some() {
            txn.commit().await.map_err(db_error)?;
            tracing::warn!(
                message_id = %message.id,
                tenant_id = %tenant_id,
                recording_id = %recording_id,
                "recording.ingested for a deleted recording skipped"
            );
            return Ok(());
        }
        // Indexed in the tenant's region, so a national-format number meets
        // the same number written with its country code.
        let region = input::stored_region(tenant.default_region.as_deref());
        let index_of = |party, number: &str| index(&pii, &event, party, number, region);
        row.caller_index = index_of(Party::Caller, &event.call.caller_number);
        row.callee_index = index_of(Party::Callee, &event.call.callee_number);
        // Under the tenant's share lock: a concurrent rule change can't
        // miss this recording (see `get_tenant_for_share`).
        let rules = store::retention::list(&txn, tenant_id)
            .await
            .map_err(db_error)?;
        let default_days = u32::try_from(tenant.default_retention_days)
            .map_err(|_| HandlerError::permanent("tenant default retention out of range"))?;
        store::retention::apply(&mut row, &tags, &rules, default_days).map_err(db_error)?;
        let inserted = store::recordings::insert(&txn, row, &tags, &event.call.attributes)
            .await
            .map_err(db_error)?;
        txn.commit().await.map_err(db_error)?;
        tracing::info!(
            message_id = %message.id,
            tenant_id = %tenant_id,
            recording_id = %recording_id,
            inserted,
            "recording catalogued"
        );
        Ok(())
    }

    /// The catalogue row of an event, numbers sealed; they are indexed once
    /// the tenant's region is read.
    fn row(
        &self,
        event: &RecordingIngestedV1,
        pii: &TenantPii,
    ) -> Result<(recording::Model, Vec<String>), HandlerError> {
        let call = &event.call;
        if call.ended_at < call.started_at {
            return Err(HandlerError::permanent("recording ends before it starts"));
        }
        let seal = |party, number: &str| {
            pii.seal(event.recording_id, party, number)
                .map_err(|err| HandlerError::retryable(err.to_string()))
        };
        let signed = |value: u64, field: &str| {
            i64::try_from(value)
                .map_err(|_| HandlerError::permanent(format!("{field} out of range")))
        };
        let mut tags: Vec<String> = Vec::with_capacity(call.tags.len());
        for tag in &call.tags {
            let tag = tag.trim();
            if !tag.is_empty() && !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_string());
            }
        }
        let row = recording::Model {
            tenant_id: event.tenant_id.0,
            id: event.recording_id.0,
            external_call_id: call.external_call_id.clone(),
            segment: i64::from(call.segment),
            direction: direction_str(call.direction).to_string(),
            caller_ciphertext: seal(Party::Caller, &call.caller_number)?,
            caller_index: None,
            callee_ciphertext: seal(Party::Callee, &call.callee_number)?,
            callee_index: None,
            agent: call.agent.clone(),
            queue: call.queue.clone(),
            started_at: db_time(call.started_at),
            ended_at: db_time(call.ended_at),
            agent_channel: call.agent_channel.map(|c| channel_str(c).to_string()),
            customer_channel: call.customer_channel.map(|c| channel_str(c).to_string()),
            codec: event.audio.codec.clone(),
            sample_rate: i64::from(event.audio.sample_rate),
            channels: i32::from(event.audio.channels),
            duration_ms: signed(event.audio.duration_ms, "duration_ms")?,
            size: signed(event.size, "size")?,
            sha256: event.sha256.clone(),
            key_ref: event.key_ref.clone(),
            ingested_at: db_time(event.ingested_at),
            // Set from the tenant's rules once they are read.
            retain_until: db_time(call.started_at),
            retention_rule_id: None,
            attributes: serde_json::to_string(&call.attributes).map_err(|err| {
                HandlerError::permanent(format!("attributes not encodable: {err}"))
            })?,
            notice_played: call.notice_played,
            pauses: serde_json::to_string(&call.pauses)
                .map_err(|err| HandlerError::permanent(format!("pauses not encodable: {err}")))?,
        };
        Ok((row, tags))
    }
}

/// A number's blind index in the tenant's region. One that isn't a valid
/// number is still catalogued (indexed as dialled, see `crate::phone`);
/// noted without the number, which stays out of logs.
fn index(
    pii: &TenantPii,
    event: &RecordingIngestedV1,
    party: Party,
    number: &str,
    region: Option<Region>,
) -> Option<Vec<u8>> {
    let key = phone::index_key(number, region)?;
    if !key.is_e164() {
        tracing::debug!(
            tenant_id = %event.tenant_id,
            recording_id = %event.recording_id,
            ?party,
            "number is not a valid phone number, indexed as dialled"
        );
    }
    Some(pii.blind_index(&key))
}

fn db_error(err: sea_orm::DbErr) -> HandlerError {
    tracing::error!(error = %err, "metadata database error while cataloguing");
    HandlerError::retryable("metadata database error")
}

#[async_trait]
impl EventHandler for IngestedConsumer {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let outcome = self.catalogue(&message).await;
        if let Err(err) = &outcome {
            tracing::warn!(message_id = %message.id, topic = %message.topic, error = %err, "recording.ingested not processed");
        }
        outcome
    }
}
