//! From events to usage rows, exactly once: every event the billing
//! service meters becomes one or more rows of `billing_usage`, keyed by what
//! makes it the same event whatever message carried it, and recorded with
//! its message id in the inbox in the same transaction.

use std::collections::HashSet;

use callvault_bus::Message;
use callvault_bus::inbox::entity as inbox_entity;
use callvault_contracts::billing_api::Meter;
use callvault_contracts::events::{
    DisclosureDeliveredV1, Event, RecordingDiscardedV1, RecordingIngestedV1, RecordingServedV1,
    RecordingShreddedV1, RecordingStoredV1, UserActiveV1,
};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QuerySelect, Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::db::db_time;
use crate::db::entity::usage;
use crate::meters;

/// The consumer name in the inbox and the bus queue.
pub const CONSUMER: &str = "billing";

/// Every topic the service meters.
pub const TOPICS: [&str; 7] = [
    RecordingIngestedV1::TOPIC,
    RecordingStoredV1::TOPIC,
    RecordingDiscardedV1::TOPIC,
    RecordingShreddedV1::TOPIC,
    RecordingServedV1::TOPIC,
    DisclosureDeliveredV1::TOPIC,
    UserActiveV1::TOPIC,
];

/// A user counts once per quarter hour at most: every time zone's local
/// midnight falls on a quarter hour, so each local day with activity keeps
/// a row of its own.
const ACTIVITY_SLOT_SECS: i64 = 900;

/// One metered event, in the meter's integer unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UsageRow {
    pub tenant: Uuid,
    pub dedupe_key: String,
    pub meter: Meter,
    pub at: DateTime<Utc>,
    pub quantity: i64,
    pub subject: Option<String>,
}

/// An event that can never be counted (a payload that doesn't decode).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

/// What a message is worth: no rows for a topic the service doesn't meter.
pub(crate) fn rows_of(message: &Message) -> Result<Vec<UsageRow>, Unreadable> {
    let bad = |e: callvault_contracts::events::DecodeError| Unreadable(e.to_string());
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let rows = match message.topic.as_str() {
        RecordingIngestedV1::TOPIC => {
            let e: RecordingIngestedV1 = message.decode().map_err(bad)?;
            let recording = e.recording_id.0;
            // Rounded up to the second, per recording.
            let seconds = e.audio.duration_ms.div_ceil(1000);
            vec![
                row(
                    e.tenant_id.0,
                    format!("ingested:{recording}"),
                    Meter::IngestedSeconds,
                    e.ingested_at,
                    clamp(seconds),
                ),
                row(
                    e.tenant_id.0,
                    format!("recording:{recording}"),
                    Meter::Recordings,
                    e.ingested_at,
                    1,
                ),
            ]
        }
        RecordingStoredV1::TOPIC => {
            let e: RecordingStoredV1 = message.decode().map_err(bad)?;
            let key = format!("stored:{}", e.recording_id.0);
            vec![row(
                e.tenant_id.0,
                key,
                Meter::StorageGbMonths,
                e.stored_at,
                clamp(e.size),
            )]
        }
        // Never accepted: it counts as never stored, from the start.
        RecordingDiscardedV1::TOPIC => {
            let e: RecordingDiscardedV1 = message.decode().map_err(bad)?;
            let key = format!("discarded:{}", e.recording_id.0);
            vec![row(
                e.tenant_id.0,
                key,
                Meter::StorageGbMonths,
                e.stored_at,
                -clamp(e.size),
            )]
        }
        RecordingShreddedV1::TOPIC => {
            let e: RecordingShreddedV1 = message.decode().map_err(bad)?;
            let key = format!("shredded:{}", e.recording_id.0);
            vec![row(
                e.tenant_id.0,
                key,
                Meter::StorageGbMonths,
                e.shredded_at,
                -clamp(e.size),
            )]
        }
        RecordingServedV1::TOPIC => {
            let e: RecordingServedV1 = message.decode().map_err(bad)?;
            if e.byte_rate == 0 {
                return Err(Unreadable("served event without a byte rate".into()));
            }
            // Milliseconds of audio, exact to the millisecond below.
            let millis = u128::from(e.bytes) * 1000 / u128::from(e.byte_rate);
            let millis = i64::try_from(millis).unwrap_or(i64::MAX);
            // Each response is its own event: the message id is its identity.
            let key = format!("served:{}", message.id);
            vec![row(
                e.tenant_id.0,
                key,
                Meter::PlayedSeconds,
                e.served_at,
                millis,
            )]
        }
        DisclosureDeliveredV1::TOPIC => {
            let e: DisclosureDeliveredV1 = message.decode().map_err(bad)?;
            let request = &e.0;
            let key = format!("delivered:{}", request.request_id);
            vec![row(
                request.tenant_id.0,
                key,
                Meter::DisclosuresDelivered,
                request.at,
                1,
            )]
        }
        UserActiveV1::TOPIC => {
            let e: UserActiveV1 = message.decode().map_err(bad)?;
            let slot = e.active_at.timestamp().div_euclid(ACTIVITY_SLOT_SECS);
            let key = format!("active:{}:{slot}", e.user);
            let mut active = row(e.tenant_id.0, key, Meter::ActiveUsers, e.active_at, 1);
            active.subject = Some(e.user);
            vec![active]
        }
        _ => Vec::new(),
    };
    Ok(rows)
}

fn row(
    tenant: Uuid,
    dedupe_key: String,
    meter: Meter,
    at: DateTime<Utc>,
    quantity: i64,
) -> UsageRow {
    UsageRow {
        tenant,
        dedupe_key,
        meter,
        at,
        quantity,
        subject: None,
    }
}

/// What a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntakeReport {
    /// Messages seen for the first time.
    pub counted: u64,
    /// Messages (or events under another message id) already counted.
    pub duplicates: u64,
    /// Messages that can never be counted, left out.
    pub unreadable: u64,
}

/// Rows per INSERT: SQLite allows 32,766 bound values, a row has seven.
const INSERT_CHUNK: usize = 1_000;

/// The batch's message ids already in the inbox. A concurrent transaction
/// counting the same id is caught by the usage rows' keys instead: an event
/// counts once whatever message carried it.
async fn already_counted(
    tx: &sea_orm::DatabaseTransaction,
    messages: &[Message],
) -> Result<HashSet<Uuid>, DbErr> {
    let mut seen = HashSet::new();
    for chunk in messages.chunks(INSERT_CHUNK) {
        let ids: Vec<Uuid> = chunk.iter().map(|m| m.id).collect();
        let found: Vec<Uuid> = inbox_entity::Entity::find()
            .select_only()
            .column(inbox_entity::Column::MessageId)
            .filter(inbox_entity::Column::Consumer.eq(CONSUMER))
            .filter(inbox_entity::Column::MessageId.is_in(ids))
            .into_tuple()
            .all(tx)
            .await?;
        seen.extend(found);
    }
    Ok(seen)
}

fn inbox_row(id: Uuid, at: DateTime<Utc>) -> inbox_entity::ActiveModel {
    inbox_entity::ActiveModel {
        consumer: Set(CONSUMER.to_owned()),
        message_id: Set(id),
        processed_at: Set(at),
    }
}

/// The batch's messages not counted before, in batch order, with their
/// ids now in the inbox: one query for the ids already there, one INSERT
/// for the new ones, so a batch costs a few statements, not two per
/// message.
async fn claim_portable<'m>(
    tx: &sea_orm::DatabaseTransaction,
    messages: &'m [Message],
    received_at: DateTime<Utc>,
) -> Result<Vec<&'m Message>, DbErr> {
    let mut seen = already_counted(tx, messages).await?;
    let fresh: Vec<&Message> = messages.iter().filter(|m| seen.insert(m.id)).collect();
    for chunk in fresh.chunks(INSERT_CHUNK) {
        let ids = chunk.iter().map(|m| inbox_row(m.id, received_at));
        inbox_entity::Entity::insert_many(ids)
            .on_conflict(
                OnConflict::columns([
                    inbox_entity::Column::Consumer,
                    inbox_entity::Column::MessageId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(tx)
            .await?;
    }
    Ok(fresh)
}

/// Counts a batch of messages in one transaction: each message id goes into
/// the inbox, each new event's rows into `billing_usage`. A message already
/// in the inbox, or an event already counted under another message id,
/// changes nothing.
pub(crate) async fn record(
    db: &DatabaseConnection,
    messages: &[Message],
    received_at: DateTime<Utc>,
) -> Result<IntakeReport, DbErr> {
    let received_at = db_time(received_at);
    let mut report = IntakeReport::default();
    let tx = db.begin().await?;
    let fresh = if tx.get_database_backend() == DbBackend::Postgres {
        claim_postgres(&tx, messages, received_at).await?
    } else {
        claim_portable(&tx, messages, received_at).await?
    };
    report.duplicates = (messages.len() - fresh.len()) as u64;
    let mut rows = Vec::new();
    let mut keys = HashSet::new();
    for message in fresh {
        match rows_of(message) {
            Ok(found) => {
                report.counted += 1;
                for found in found {
                    // A duplicate inside the batch would make one INSERT
                    // conflict with itself on PostgreSQL.
                    if keys.insert((found.tenant, found.dedupe_key.clone())) {
                        rows.push(found);
                    }
                }
            }
            Err(Unreadable(why)) => {
                tracing::warn!(topic = %message.topic, message_id = %message.id, %why, "event not metered");
                report.unreadable += 1;
            }
        }
    }
    if tx.get_database_backend() == DbBackend::Postgres {
        insert_usage_postgres(&tx, &rows, received_at).await?;
    } else {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let models = chunk.iter().map(|r| usage::ActiveModel {
                tenant_id: Set(r.tenant),
                dedupe_key: Set(r.dedupe_key.clone()),
                meter: Set(meters::key(r.meter).to_owned()),
                at_s: Set(r.at.timestamp()),
                quantity: Set(r.quantity),
                subject: Set(r.subject.clone()),
                received_at: Set(received_at),
            });
            usage::Entity::insert_many(models)
                .on_conflict(
                    OnConflict::columns([usage::Column::TenantId, usage::Column::DedupeKey])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(report)
}

// On PostgreSQL a batch's statements take one JSON parameter, so their
// text is the same whatever the batch holds (an ingested recording makes
// two usage rows, a duplicate none): prepared once per connection, not once
// per row count, and no longer than the batch's data. What made the intake
// fast was the claim below (docs/billing.md §14: a lookup of the ids first
// was planned generically and scanned the inbox); the usage INSERT follows
// the same form. SQLite keeps the portable statements above.

const INBOX_CLAIM_POSTGRES: &str = "INSERT INTO inbox (consumer, message_id, processed_at) \
     SELECT $1, id::uuid, $3 FROM jsonb_array_elements_text($2::text::jsonb) AS ids(id) \
     ON CONFLICT (consumer, message_id) DO NOTHING RETURNING message_id";

const USAGE_INSERT_POSTGRES: &str = "INSERT INTO billing_usage \
     (tenant_id, dedupe_key, meter, at_s, quantity, subject, received_at) \
     SELECT r.tenant_id, r.dedupe_key, r.meter, r.at_s, r.quantity, r.subject, $2 \
     FROM jsonb_to_recordset($1::text::jsonb) AS r(tenant_id uuid, dedupe_key text, \
     meter text, at_s bigint, quantity bigint, subject text) \
     ON CONFLICT (tenant_id, dedupe_key) DO NOTHING";

/// [`claim_portable`] in one statement: the ids the INSERT took are the
/// fresh ones. (A lookup of 500 ids first, with a bound `IN` list, is
/// planned generically after a few runs and scans the inbox: the intake
/// slowed as the inbox grew.)
async fn claim_postgres<'m>(
    tx: &sea_orm::DatabaseTransaction,
    messages: &'m [Message],
    received_at: DateTime<Utc>,
) -> Result<Vec<&'m Message>, DbErr> {
    let mut unique = HashSet::new();
    let candidates: Vec<&Message> = messages.iter().filter(|m| unique.insert(m.id)).collect();
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let ids: Vec<Uuid> = candidates.iter().map(|m| m.id).collect();
    let ids = serde_json::to_string(&ids).map_err(|e| DbErr::Custom(e.to_string()))?;
    let taken: HashSet<Uuid> = tx
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            INBOX_CLAIM_POSTGRES,
            [CONSUMER.into(), ids.into(), received_at.into()],
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "message_id"))
        .collect::<Result<_, _>>()?;
    Ok(candidates
        .into_iter()
        .filter(|m| taken.contains(&m.id))
        .collect())
}

async fn insert_usage_postgres(
    tx: &sea_orm::DatabaseTransaction,
    rows: &[UsageRow],
    received_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let records: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "tenant_id": r.tenant,
                "dedupe_key": r.dedupe_key,
                "meter": meters::key(r.meter),
                "at_s": r.at.timestamp(),
                "quantity": r.quantity,
                "subject": r.subject,
            })
        })
        .collect();
    let records = serde_json::to_string(&records).map_err(|e| DbErr::Custom(e.to_string()))?;
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        USAGE_INSERT_POSTGRES,
        [records.into(), received_at.into()],
    ))
    .await
    .map(|_| ())
}
