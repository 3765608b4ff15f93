//! The transactional outbox: a service writes the events it emits into its
//! own `outbox` table in the same database transaction as the state change,
//! and a relay publishes them (and marks them sent) afterwards. A crash
//! between the two loses nothing: the relay publishes what is unsent on
//! restart (so consumers see at-least-once delivery and deduplicate).
//!
//! Services add [`migration`] to their own migrator's list. Several services
//! sharing one database (embedded mode) share one `outbox` table: the
//! migration creates it only if it is missing, and each service's relay then
//! publishes every row in it, so a row may go out twice — which the
//! consumers' inboxes absorb.

mod migration;
mod relay;

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set};

pub use relay::{OutboxRelay, RelayHandle, RelayNotifier};

use crate::Message;

pub(crate) mod entity {
    //! The `outbox` row, hand-written so the column types stay the ones the
    //! migration creates on both SQLite and PostgreSQL.

    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// The message id: consumers deduplicate on it.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub topic: String,
        /// The whole serialized [`crate::Message`], not only its payload, so
        /// the relay republishes exactly what was enqueued.
        pub payload: String,
        pub created_at: DateTimeUtc,
        pub sent_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// The migration creating the `outbox` table; add it to the service's
/// migrator.
pub fn migration() -> Box<dyn sea_orm_migration::MigrationTrait> {
    Box::new(migration::CreateOutbox)
}

/// Adds `message` to the outbox, inside the caller's transaction, stamped
/// with the current trace (unless it carries one) so its consumers continue
/// the operation that caused it.
pub async fn enqueue<C: ConnectionTrait>(conn: &C, message: &Message) -> Result<(), DbErr> {
    let mut message = message.clone();
    crate::trace::stamp(&mut message);
    let payload = serde_json::to_string(&message)
        .map_err(|err| DbErr::Custom(format!("failed to serialize outbox message: {err}")))?;
    let row = ActiveModel {
        id: Set(message.id),
        topic: Set(message.topic.clone()),
        payload: Set(payload),
        created_at: Set(next_created_at()),
        sent_at: Set(None),
    };
    Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// How many messages are waiting to be published, for metrics.
pub async fn backlog<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::SentAt.is_null())
        .count(db)
        .await
}

/// Deletes the messages sent before `before`, returning how many; run it
/// now and then so the table does not grow forever. Unsent rows are kept
/// whatever their age.
pub async fn purge_sent<C: ConnectionTrait>(db: &C, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::SentAt.is_not_null())
        .filter(Column::SentAt.lt(before))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}

/// Marks one row sent; a no-op if it already was (another relay on the same
/// database got there first).
pub(crate) async fn mark_sent<C: ConnectionTrait>(db: &C, id: uuid::Uuid) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(
            Column::SentAt,
            Expr::value(Some(Utc::now().trunc_subsecs(6))),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::SentAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The microsecond (the precision both databases keep) of the last
/// `created_at` this process handed out.
static LAST_CREATED_AT_MICROS: AtomicI64 = AtomicI64::new(0);

/// Now, to the microsecond, but strictly after any earlier call: the relay
/// publishes in `created_at` order, so two messages enqueued in the same
/// microsecond (one transaction emitting two events) must still keep the
/// order they were enqueued in.
fn next_created_at() -> DateTime<Utc> {
    let now = Utc::now().timestamp_micros();
    let mut last = LAST_CREATED_AT_MICROS.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_CREATED_AT_MICROS.compare_exchange_weak(
            last,
            next,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return DateTime::from_timestamp_micros(next).unwrap_or_else(Utc::now),
            Err(current) => last = current,
        }
    }
}
