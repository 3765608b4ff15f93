//! Legal holds, deletion tombstones and certificates, and the deletion
//! claim on recordings.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    blob_null, text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

use super::tenancy::Tenants;

#[derive(DeriveIden)]
enum Recordings {
    Table,
    DeletingSince,
}

#[derive(DeriveIden)]
enum LegalHolds {
    Table,
    TenantId,
    Id,
    CaseName,
    Reason,
    ScopeKind,
    Filter,
    FilterPhoneCiphertext,
    FilterPhoneIndex,
    PlacedBy,
    PlacedAt,
    ReleasedBy,
    ReleasedAt,
    ReleaseReason,
}

#[derive(DeriveIden)]
enum LegalHoldRecordings {
    Table,
    TenantId,
    HoldId,
    RecordingId,
}

#[derive(DeriveIden)]
enum RecordingTombstones {
    Table,
    TenantId,
    RecordingId,
    IngestedAt,
    Sha256,
    DeletedAt,
    Reason,
    Policy,
    DeletedBy,
    CertificateId,
}

#[derive(DeriveIden)]
enum DeletionCertificates {
    Table,
    TenantId,
    Id,
    StartedAt,
    FinishedAt,
    HeldBack,
    Failed,
}

pub(super) struct CreateHoldsDeletion;

impl MigrationName for CreateHoldsDeletion {
    fn name(&self) -> &str {
        "m_metadata_0004_holds_deletion"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateHoldsDeletion {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Set while a deletion is shredding the recording's bytes: a hold
        // can't be placed on it then, and a second worker leaves it alone
        // unless the claim is old enough to be a crashed worker's.
        manager
            .alter_table(
                Table::alter()
                    .table(Recordings::Table)
                    .add_column(timestamp_with_time_zone_null(Recordings::DeletingSince))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LegalHolds::Table)
                    .col(uuid(LegalHolds::TenantId))
                    .col(uuid(LegalHolds::Id))
                    .col(text(LegalHolds::CaseName))
                    .col(text(LegalHolds::Reason))
                    .col(text(LegalHolds::ScopeKind))
                    // The case filter as JSON, without its phone number: that
                    // is personal data, kept only as ciphertext and blind
                    // index like the recordings' numbers.
                    .col(text_null(LegalHolds::Filter))
                    .col(blob_null(LegalHolds::FilterPhoneCiphertext))
                    .col(blob_null(LegalHolds::FilterPhoneIndex))
                    .col(text(LegalHolds::PlacedBy))
                    .col(timestamp_with_time_zone(LegalHolds::PlacedAt))
                    .col(text_null(LegalHolds::ReleasedBy))
                    .col(timestamp_with_time_zone_null(LegalHolds::ReleasedAt))
                    .col(text_null(LegalHolds::ReleaseReason))
                    .primary_key(
                        Index::create()
                            .col(LegalHolds::TenantId)
                            .col(LegalHolds::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_legal_holds_tenant")
                            .from(LegalHolds::Table, LegalHolds::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .check((
                        "legal_holds_scope_check",
                        Expr::cust(
                            "(scope_kind = 'recordings' AND filter IS NULL) \
                             OR (scope_kind = 'filter' AND filter IS NOT NULL)",
                        ),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_legal_holds_tenant_placed")
                    .table(LegalHolds::Table)
                    .col(LegalHolds::TenantId)
                    .col(LegalHolds::PlacedAt)
                    .to_owned(),
            )
            .await?;

        // No foreign key to recordings: a hold's list is what the case
        // named, and a recording under hold is never deleted anyway.
        manager
            .create_table(
                Table::create()
                    .table(LegalHoldRecordings::Table)
                    .col(uuid(LegalHoldRecordings::TenantId))
                    .col(uuid(LegalHoldRecordings::HoldId))
                    .col(uuid(LegalHoldRecordings::RecordingId))
                    .primary_key(
                        Index::create()
                            .col(LegalHoldRecordings::TenantId)
                            .col(LegalHoldRecordings::HoldId)
                            .col(LegalHoldRecordings::RecordingId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_legal_hold_recordings_hold")
                            .from_tbl(LegalHoldRecordings::Table)
                            .from_col(LegalHoldRecordings::TenantId)
                            .from_col(LegalHoldRecordings::HoldId)
                            .to_tbl(LegalHolds::Table)
                            .to_col(LegalHolds::TenantId)
                            .to_col(LegalHolds::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Every deletion asks "which holds list this recording".
        manager
            .create_index(
                Index::create()
                    .name("idx_legal_hold_recordings_recording")
                    .table(LegalHoldRecordings::Table)
                    .col(LegalHoldRecordings::TenantId)
                    .col(LegalHoldRecordings::RecordingId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RecordingTombstones::Table)
                    .col(uuid(RecordingTombstones::TenantId))
                    .col(uuid(RecordingTombstones::RecordingId))
                    .col(timestamp_with_time_zone(RecordingTombstones::IngestedAt))
                    .col(text(RecordingTombstones::Sha256))
                    .col(timestamp_with_time_zone(RecordingTombstones::DeletedAt))
                    .col(text(RecordingTombstones::Reason))
                    .col(text(RecordingTombstones::Policy))
                    .col(text(RecordingTombstones::DeletedBy))
                    .col(uuid(RecordingTombstones::CertificateId))
                    .primary_key(
                        Index::create()
                            .col(RecordingTombstones::TenantId)
                            .col(RecordingTombstones::RecordingId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recording_tombstones_tenant")
                            .from(RecordingTombstones::Table, RecordingTombstones::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .check((
                        "recording_tombstones_reason_check",
                        Expr::cust("reason IN ('retention', 'user_request', 'erasure')"),
                    ))
                    .to_owned(),
            )
            .await?;
        // The daily manifest lists a day's deletions and a day's ingests;
        // a certificate lists its own deletions.
        for (name, column) in [
            (
                "idx_recording_tombstones_deleted",
                RecordingTombstones::DeletedAt,
            ),
            (
                "idx_recording_tombstones_ingested",
                RecordingTombstones::IngestedAt,
            ),
            (
                "idx_recording_tombstones_certificate",
                RecordingTombstones::CertificateId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RecordingTombstones::Table)
                        .col(RecordingTombstones::TenantId)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(DeletionCertificates::Table)
                    .col(uuid(DeletionCertificates::TenantId))
                    .col(uuid(DeletionCertificates::Id))
                    .col(timestamp_with_time_zone(DeletionCertificates::StartedAt))
                    .col(timestamp_with_time_zone(DeletionCertificates::FinishedAt))
                    .col(text(DeletionCertificates::HeldBack))
                    .col(text(DeletionCertificates::Failed))
                    .primary_key(
                        Index::create()
                            .col(DeletionCertificates::TenantId)
                            .col(DeletionCertificates::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deletion_certificates_tenant")
                            .from(DeletionCertificates::Table, DeletionCertificates::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deletion_certificates_tenant_started")
                    .table(DeletionCertificates::Table)
                    .col(DeletionCertificates::TenantId)
                    .col(DeletionCertificates::StartedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DeletionCertificates::Table.into_iden(),
            RecordingTombstones::Table.into_iden(),
            LegalHoldRecordings::Table.into_iden(),
            LegalHolds::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Recordings::Table)
                    .drop_column(Recordings::DeletingSince)
                    .to_owned(),
            )
            .await
    }
}
