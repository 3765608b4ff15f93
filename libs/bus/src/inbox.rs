//! The inbox: a consumer records each message id in its own `inbox` table
//! in the same transaction as the message's effect, and skips ids it has
//! already recorded: exactly-once effects over at-least-once delivery.
//!
//! Services add [`migration`] to their own migrator's list. Services sharing
//! a database share the table; the consumer name in the key keeps them apart.

use chrono::{SubsecRound, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use uuid::Uuid;

/// The `inbox` row, for consumers that record a whole batch of message ids
/// in one statement (see [`record_once`] for the one-at-a-time way).
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub message_id: Uuid,
        pub processed_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// The migration creating the `inbox` table; add it to the service's
/// migrator.
pub fn migration() -> Box<dyn sea_orm_migration::MigrationTrait> {
    Box::new(migration::CreateInbox)
}

/// Records that `consumer` processed `message_id`, inside the caller's
/// transaction. Returns false if it already had (the caller then does
/// nothing and commits).
///
/// `ON CONFLICT DO NOTHING` rather than catching the unique violation: on
/// PostgreSQL a failed statement aborts the caller's whole transaction. A
/// concurrent transaction recording the same id makes this one wait for it,
/// then answer false if it committed and true if it rolled back.
pub async fn record_once<C: ConnectionTrait>(
    conn: &C,
    consumer: &str,
    message_id: Uuid,
) -> Result<bool, DbErr> {
    let row = ActiveModel {
        consumer: Set(consumer.to_owned()),
        message_id: Set(message_id),
        processed_at: Set(Utc::now().trunc_subsecs(6)),
    };
    let inserted = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::Consumer, Column::MessageId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

mod migration {
    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema::{text, timestamp_with_time_zone, uuid};

    #[derive(DeriveIden)]
    enum Inbox {
        Table,
        Consumer,
        MessageId,
        ProcessedAt,
    }

    pub(super) struct CreateInbox;

    impl MigrationName for CreateInbox {
        fn name(&self) -> &str {
            "m_bus_0002_inbox"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for CreateInbox {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            // `if_not_exists`: services sharing a database each run this
            // migration under their own migrator, and share the table.
            manager
                .create_table(
                    Table::create()
                        .table(Inbox::Table)
                        .if_not_exists()
                        .col(text(Inbox::Consumer))
                        .col(uuid(Inbox::MessageId))
                        .col(timestamp_with_time_zone(Inbox::ProcessedAt))
                        .primary_key(Index::create().col(Inbox::Consumer).col(Inbox::MessageId))
                        .to_owned(),
                )
                .await
        }

        async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .drop_table(Table::drop().table(Inbox::Table).if_exists().to_owned())
                .await
        }
    }
}
