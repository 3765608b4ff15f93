//! The recordings catalogue and its tags.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, blob, blob_null, integer, text, text_null, timestamp_with_time_zone, uuid,
};

use super::tenancy::Tenants;

#[derive(DeriveIden)]
enum Recordings {
    Table,
    TenantId,
    Id,
    ExternalCallId,
    Segment,
    Direction,
    CallerCiphertext,
    CallerIndex,
    CalleeCiphertext,
    CalleeIndex,
    Agent,
    Queue,
    StartedAt,
    EndedAt,
    AgentChannel,
    CustomerChannel,
    Codec,
    SampleRate,
    Channels,
    DurationMs,
    Size,
    Sha256,
    KeyRef,
    IngestedAt,
}

#[derive(DeriveIden)]
enum RecordingTags {
    Table,
    TenantId,
    RecordingId,
    Tag,
    Position,
}

pub(super) struct CreateCatalogue;

impl MigrationName for CreateCatalogue {
    fn name(&self) -> &str {
        "m_metadata_0002_catalogue"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateCatalogue {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Recordings::Table)
                    .col(uuid(Recordings::TenantId))
                    .col(uuid(Recordings::Id))
                    .col(text(Recordings::ExternalCallId))
                    .col(big_integer(Recordings::Segment))
                    .col(text(Recordings::Direction))
                    .col(blob(Recordings::CallerCiphertext))
                    .col(blob_null(Recordings::CallerIndex))
                    .col(blob(Recordings::CalleeCiphertext))
                    .col(blob_null(Recordings::CalleeIndex))
                    .col(text_null(Recordings::Agent))
                    .col(text_null(Recordings::Queue))
                    .col(timestamp_with_time_zone(Recordings::StartedAt))
                    .col(timestamp_with_time_zone(Recordings::EndedAt))
                    .col(text_null(Recordings::AgentChannel))
                    .col(text_null(Recordings::CustomerChannel))
                    .col(text(Recordings::Codec))
                    .col(big_integer(Recordings::SampleRate))
                    .col(integer(Recordings::Channels))
                    .col(big_integer(Recordings::DurationMs))
                    .col(big_integer(Recordings::Size))
                    .col(text(Recordings::Sha256))
                    .col(text(Recordings::KeyRef))
                    .col(timestamp_with_time_zone(Recordings::IngestedAt))
                    .primary_key(
                        Index::create()
                            .col(Recordings::TenantId)
                            .col(Recordings::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recordings_tenant")
                            .from(Recordings::Table, Recordings::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .check((
                        "recordings_numbers_check",
                        Expr::cust(
                            "segment >= 0 AND sample_rate >= 0 AND channels >= 0 \
                             AND duration_ms >= 0 AND size >= 0",
                        ),
                    ))
                    .to_owned(),
            )
            .await?;
        // Every search is one tenant's, newest first, paged by
        // (started_at, id): this index serves the order and the keyset.
        manager
            .create_index(
                Index::create()
                    .name("idx_recordings_tenant_started")
                    .table(Recordings::Table)
                    .col(Recordings::TenantId)
                    .col(Recordings::StartedAt)
                    .col(Recordings::Id)
                    .to_owned(),
            )
            .await?;
        // Phone-number search matches either party through its blind index;
        // agents see only their own calls, so that filter is on every agent
        // query.
        for (name, column) in [
            ("idx_recordings_tenant_caller", Recordings::CallerIndex),
            ("idx_recordings_tenant_callee", Recordings::CalleeIndex),
            ("idx_recordings_tenant_agent", Recordings::Agent),
            ("idx_recordings_tenant_queue", Recordings::Queue),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Recordings::Table)
                        .col(Recordings::TenantId)
                        .col(column)
                        .col(Recordings::StartedAt)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(RecordingTags::Table)
                    .col(uuid(RecordingTags::TenantId))
                    .col(uuid(RecordingTags::RecordingId))
                    .col(text(RecordingTags::Tag))
                    .col(integer(RecordingTags::Position))
                    .primary_key(
                        Index::create()
                            .col(RecordingTags::TenantId)
                            .col(RecordingTags::RecordingId)
                            .col(RecordingTags::Tag),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recording_tags_recording")
                            .from_tbl(RecordingTags::Table)
                            .from_col(RecordingTags::TenantId)
                            .from_col(RecordingTags::RecordingId)
                            .to_tbl(Recordings::Table)
                            .to_col(Recordings::TenantId)
                            .to_col(Recordings::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The tag filter is an EXISTS on (tenant, recording, tag): the
        // primary key serves it. This one serves "which recordings carry
        // this tag" when the tag is the most selective filter.
        manager
            .create_index(
                Index::create()
                    .name("idx_recording_tags_tenant_tag")
                    .table(RecordingTags::Table)
                    .col(RecordingTags::TenantId)
                    .col(RecordingTags::Tag)
                    .col(RecordingTags::RecordingId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecordingTags::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Recordings::Table).to_owned())
            .await
    }
}
