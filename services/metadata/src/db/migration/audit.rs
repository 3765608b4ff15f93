//! The hash-chained audit trail, its per-tenant heads, and the signed daily
//! manifests.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, date, text, text_null, timestamp_with_time_zone, uuid,
};

use super::tenancy::Tenants;

#[derive(DeriveIden)]
enum AuditEntries {
    Table,
    TenantId,
    Seq,
    At,
    Actor,
    Role,
    Action,
    Target,
    Origin,
    Reason,
    Details,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHeads {
    Table,
    TenantId,
    Seq,
    Hash,
}

#[derive(DeriveIden)]
enum DailyManifests {
    Table,
    TenantId,
    Date,
    Body,
    Signature,
    SignedAt,
}

#[derive(DeriveIden)]
enum Recordings {
    Table,
    TenantId,
    IngestedAt,
}

pub(super) struct CreateAudit;

impl MigrationName for CreateAudit {
    fn name(&self) -> &str {
        "m_metadata_0005_audit"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateAudit {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditHeads::Table)
                    .col(uuid(AuditHeads::TenantId).primary_key())
                    .col(big_integer(AuditHeads::Seq))
                    .col(text(AuditHeads::Hash))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_heads_tenant")
                            .from(AuditHeads::Table, AuditHeads::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .check(("audit_heads_seq_check", Expr::cust("seq >= 0")))
                    .to_owned(),
            )
            .await?;
        // The primary key (tenant, seq) serves paging, verification and
        // the uniqueness that keeps a chain from forking.
        manager
            .create_table(
                Table::create()
                    .table(AuditEntries::Table)
                    .col(uuid(AuditEntries::TenantId))
                    .col(big_integer(AuditEntries::Seq))
                    .col(timestamp_with_time_zone(AuditEntries::At))
                    .col(text(AuditEntries::Actor))
                    .col(text(AuditEntries::Role))
                    .col(text(AuditEntries::Action))
                    .col(text_null(AuditEntries::Target))
                    .col(text_null(AuditEntries::Origin))
                    .col(text_null(AuditEntries::Reason))
                    .col(text(AuditEntries::Details))
                    .col(text(AuditEntries::PrevHash))
                    .col(text(AuditEntries::Hash))
                    .primary_key(
                        Index::create()
                            .col(AuditEntries::TenantId)
                            .col(AuditEntries::Seq),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_entries_tenant")
                            .from(AuditEntries::Table, AuditEntries::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .check(("audit_entries_seq_check", Expr::cust("seq >= 1")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DailyManifests::Table)
                    .col(uuid(DailyManifests::TenantId))
                    .col(date(DailyManifests::Date))
                    .col(text(DailyManifests::Body))
                    .col(text(DailyManifests::Signature))
                    .col(timestamp_with_time_zone(DailyManifests::SignedAt))
                    .primary_key(
                        Index::create()
                            .col(DailyManifests::TenantId)
                            .col(DailyManifests::Date),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_daily_manifests_tenant")
                            .from(DailyManifests::Table, DailyManifests::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A manifest lists one tenant's recordings ingested on one day;
        // without this it would scan all of the tenant's recordings.
        manager
            .create_index(
                Index::create()
                    .name("idx_recordings_tenant_ingested")
                    .table(Recordings::Table)
                    .col(Recordings::TenantId)
                    .col(Recordings::IngestedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_recordings_tenant_ingested")
                    .table(Recordings::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            DailyManifests::Table.into_iden(),
            AuditEntries::Table.into_iden(),
            AuditHeads::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
