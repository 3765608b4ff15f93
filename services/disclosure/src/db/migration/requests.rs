//! The requests (their queryable columns, their sealed personal data and
//! the rest as a JSON document), the blind indexes of their subjects'
//! numbers, the tenants' settings, the export bundles, and the audit entries
//! still to be appended to the tenants' chains.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, binary, binary_null, boolean, integer, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveIden)]
enum DisclosureSettings {
    Table,
    TenantId,
    Settings,
    UpdatedAt,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum DisclosureRequests {
    Table,
    Id,
    TenantId,
    Kind,
    Regime,
    State,
    ReceivedAt,
    DueDate,
    DueSoonSent,
    OverdueSent,
    DuplicateOf,
    KeyRef,
    WrappedKey,
    Sealed,
    Doc,
    Version,
    PreservationSynced,
    CreatedAt,
    UpdatedAt,
    AnsweredAt,
}

#[derive(DeriveIden)]
enum DisclosureRequestNumbers {
    Table,
    RequestId,
    BlindIndex,
    TenantId,
}

#[derive(DeriveIden)]
enum DisclosureBundles {
    Table,
    Id,
    TenantId,
    RequestId,
    State,
    ObjectKey,
    KeyRef,
    WrappedKey,
    Size,
    Sha256,
    CreatedAt,
    ReadyAt,
    DeliveredAt,
    ExpiresAt,
    ShreddedAt,
    Downloads,
    BuildingUntil,
}

#[derive(DeriveIden)]
enum DisclosureAuditQueue {
    Table,
    Id,
    TenantId,
    Entry,
    CreatedAt,
}

pub(super) struct CreateRequests;

impl MigrationName for CreateRequests {
    fn name(&self) -> &str {
        "m_disclosure_requests"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRequests {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DisclosureSettings::Table)
                    .col(uuid(DisclosureSettings::TenantId).primary_key())
                    .col(text(DisclosureSettings::Settings))
                    .col(timestamp_with_time_zone(DisclosureSettings::UpdatedAt))
                    .col(text(DisclosureSettings::UpdatedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisclosureRequests::Table)
                    .col(uuid(DisclosureRequests::Id).primary_key())
                    .col(uuid(DisclosureRequests::TenantId))
                    .col(text(DisclosureRequests::Kind))
                    .col(text(DisclosureRequests::Regime))
                    .col(text(DisclosureRequests::State))
                    .col(timestamp_with_time_zone(DisclosureRequests::ReceivedAt))
                    // ISO `YYYY-MM-DD`: compares as text on both backends.
                    .col(text(DisclosureRequests::DueDate))
                    .col(boolean(DisclosureRequests::DueSoonSent))
                    .col(boolean(DisclosureRequests::OverdueSent))
                    .col(uuid_null(DisclosureRequests::DuplicateOf))
                    .col(text(DisclosureRequests::KeyRef))
                    .col(binary(DisclosureRequests::WrappedKey))
                    .col(binary(DisclosureRequests::Sealed))
                    .col(text(DisclosureRequests::Doc))
                    .col(big_integer(DisclosureRequests::Version))
                    .col(boolean(DisclosureRequests::PreservationSynced))
                    .col(timestamp_with_time_zone(DisclosureRequests::CreatedAt))
                    .col(timestamp_with_time_zone(DisclosureRequests::UpdatedAt))
                    .col(timestamp_with_time_zone_null(
                        DisclosureRequests::AnsweredAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_disclosure_requests_tenant_due")
                    .table(DisclosureRequests::Table)
                    .col(DisclosureRequests::TenantId)
                    .col(DisclosureRequests::DueDate)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisclosureRequestNumbers::Table)
                    .col(uuid(DisclosureRequestNumbers::RequestId))
                    .col(text(DisclosureRequestNumbers::BlindIndex))
                    .col(uuid(DisclosureRequestNumbers::TenantId))
                    .primary_key(
                        Index::create()
                            .col(DisclosureRequestNumbers::RequestId)
                            .col(DisclosureRequestNumbers::BlindIndex),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_disclosure_request_numbers_index")
                    .table(DisclosureRequestNumbers::Table)
                    .col(DisclosureRequestNumbers::TenantId)
                    .col(DisclosureRequestNumbers::BlindIndex)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisclosureBundles::Table)
                    .col(uuid(DisclosureBundles::Id).primary_key())
                    .col(uuid(DisclosureBundles::TenantId))
                    .col(uuid(DisclosureBundles::RequestId))
                    .col(text(DisclosureBundles::State))
                    .col(text_null(DisclosureBundles::ObjectKey))
                    .col(text_null(DisclosureBundles::KeyRef))
                    .col(binary_null(DisclosureBundles::WrappedKey))
                    .col(big_integer_null(DisclosureBundles::Size))
                    .col(text_null(DisclosureBundles::Sha256))
                    .col(timestamp_with_time_zone(DisclosureBundles::CreatedAt))
                    .col(timestamp_with_time_zone_null(DisclosureBundles::ReadyAt))
                    .col(timestamp_with_time_zone_null(
                        DisclosureBundles::DeliveredAt,
                    ))
                    .col(timestamp_with_time_zone_null(DisclosureBundles::ExpiresAt))
                    .col(timestamp_with_time_zone_null(DisclosureBundles::ShreddedAt))
                    .col(integer(DisclosureBundles::Downloads))
                    // The lease of the process building it: another takes
                    // the build over only once it lapsed.
                    .col(timestamp_with_time_zone_null(
                        DisclosureBundles::BuildingUntil,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DisclosureAuditQueue::Table)
                    .col(uuid(DisclosureAuditQueue::Id).primary_key())
                    .col(uuid(DisclosureAuditQueue::TenantId))
                    .col(text(DisclosureAuditQueue::Entry))
                    .col(timestamp_with_time_zone(DisclosureAuditQueue::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DisclosureAuditQueue::Table.into_iden(),
            DisclosureBundles::Table.into_iden(),
            DisclosureRequestNumbers::Table.into_iden(),
            DisclosureRequests::Table.into_iden(),
            DisclosureSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
