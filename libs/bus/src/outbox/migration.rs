//! The `outbox` table. Append-only like every migration: once shipped, a
//! change is a new migration.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    text, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Topic,
    Payload,
    CreatedAt,
    SentAt,
}

pub(super) struct CreateOutbox;

impl MigrationName for CreateOutbox {
    fn name(&self) -> &str {
        "m_bus_0001_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `if_not_exists`: services sharing a database each run this
        // migration under their own migrator, and share the table.
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(uuid(Outbox::Id).primary_key())
                    .col(text(Outbox::Topic))
                    .col(text(Outbox::Payload))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(Outbox::SentAt))
                    .to_owned(),
            )
            .await?;
        // The relay asks for the oldest unsent rows: `sent_at IS NULL ORDER
        // BY created_at`, which this index serves without a sort.
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_sent_at_created_at")
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(Outbox::SentAt)
                    .col(Outbox::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Outbox::Table).if_exists().to_owned())
            .await
    }
}
