//! What the disclosure service's data-subject requests need of the
//! catalogue: recordings preserved for an open request (the retention run
//! holds them back like a legal hold), recordings restricted by a request
//! (GDPR art. 18: playback refused), statutory retention rules (a legal
//! basis to keep what they match, against an erasure request), and the
//! deletion certificates' new fields (recordings held by a request, the
//! erasure request a certificate was made for).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{text, text_null, timestamp_with_time_zone, uuid, uuid_null};

use super::tenancy::Tenants;

#[derive(DeriveIden)]
enum RequestPreservations {
    Table,
    TenantId,
    RequestId,
    RecordingId,
    PreservedAt,
}

#[derive(DeriveIden)]
enum RecordingRestrictions {
    Table,
    TenantId,
    RecordingId,
    RequestId,
    Reason,
    RestrictedAt,
    RestrictedBy,
}

#[derive(DeriveIden)]
enum RetentionRules {
    Table,
    LegalBasis,
}

#[derive(DeriveIden)]
enum DeletionCertificates {
    Table,
    HeldByRequest,
    RequestId,
}

pub(super) struct AddDisclosure;

impl MigrationName for AddDisclosure {
    fn name(&self) -> &str {
        "m_metadata_disclosure"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddDisclosure {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign key to recordings (as for legal holds' lists): the
        // rows are removed with the recording they name, in the purge's
        // transaction.
        manager
            .create_table(
                Table::create()
                    .table(RequestPreservations::Table)
                    .col(uuid(RequestPreservations::TenantId))
                    .col(uuid(RequestPreservations::RequestId))
                    .col(uuid(RequestPreservations::RecordingId))
                    .col(timestamp_with_time_zone(RequestPreservations::PreservedAt))
                    .primary_key(
                        Index::create()
                            .col(RequestPreservations::TenantId)
                            .col(RequestPreservations::RequestId)
                            .col(RequestPreservations::RecordingId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_preservations_tenant")
                            .from(RequestPreservations::Table, RequestPreservations::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Every deletion asks "which requests preserve this recording".
        manager
            .create_index(
                Index::create()
                    .name("idx_request_preservations_recording")
                    .table(RequestPreservations::Table)
                    .col(RequestPreservations::TenantId)
                    .col(RequestPreservations::RecordingId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecordingRestrictions::Table)
                    .col(uuid(RecordingRestrictions::TenantId))
                    .col(uuid(RecordingRestrictions::RecordingId))
                    .col(uuid(RecordingRestrictions::RequestId))
                    .col(text(RecordingRestrictions::Reason))
                    .col(timestamp_with_time_zone(
                        RecordingRestrictions::RestrictedAt,
                    ))
                    .col(text(RecordingRestrictions::RestrictedBy))
                    .primary_key(
                        Index::create()
                            .col(RecordingRestrictions::TenantId)
                            .col(RecordingRestrictions::RecordingId)
                            .col(RecordingRestrictions::RequestId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recording_restrictions_tenant")
                            .from(
                                RecordingRestrictions::Table,
                                RecordingRestrictions::TenantId,
                            )
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Lifting a request's restriction finds its rows.
        manager
            .create_index(
                Index::create()
                    .name("idx_recording_restrictions_request")
                    .table(RecordingRestrictions::Table)
                    .col(RecordingRestrictions::TenantId)
                    .col(RecordingRestrictions::RequestId)
                    .to_owned(),
            )
            .await?;

        // Plain columns (no foreign key: SQLite can't ALTER one in), one
        // per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(RetentionRules::Table)
                    .add_column(text_null(RetentionRules::LegalBasis))
                    .to_owned(),
            )
            .await?;
        let columns = [
            text(DeletionCertificates::HeldByRequest)
                .default("[]")
                .to_owned(),
            uuid_null(DeletionCertificates::RequestId),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeletionCertificates::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            DeletionCertificates::RequestId,
            DeletionCertificates::HeldByRequest,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeletionCertificates::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(RetentionRules::Table)
                    .drop_column(RetentionRules::LegalBasis)
                    .to_owned(),
            )
            .await?;
        for table in [
            RecordingRestrictions::Table.into_iden(),
            RequestPreservations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
