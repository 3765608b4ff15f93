//! Tenant offboarding: the exports made of a tenant (what they covered and
//! their digest, never their content) and the offboarding's state machine
//! and signed certificate, one row per tenant.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean_null, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid,
};

use super::tenancy::Tenants;

#[derive(DeriveIden)]
enum TenantExports {
    Table,
    TenantId,
    Id,
    CreatedAt,
    CreatedBy,
    Sha256,
    SizeBytes,
    Recordings,
    AuditSeq,
}

#[derive(DeriveIden)]
enum TenantOffboardings {
    Table,
    TenantId,
    Id,
    State,
    RequestedBy,
    StartedAt,
    ExportSha256,
    KeyRef,
    KeyDestroyed,
    RecordingsShredded,
    FinishedAt,
    Body,
    Signature,
}

pub(super) struct CreateOffboarding;

impl MigrationName for CreateOffboarding {
    fn name(&self) -> &str {
        "m_metadata_offboarding"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOffboarding {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantExports::Table)
                    .col(uuid(TenantExports::TenantId))
                    .col(uuid(TenantExports::Id))
                    .col(timestamp_with_time_zone(TenantExports::CreatedAt))
                    .col(text(TenantExports::CreatedBy))
                    .col(text(TenantExports::Sha256))
                    .col(big_integer(TenantExports::SizeBytes))
                    .col(big_integer(TenantExports::Recordings))
                    .col(big_integer(TenantExports::AuditSeq))
                    .primary_key(
                        Index::create()
                            .col(TenantExports::TenantId)
                            .col(TenantExports::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tenant_exports_tenant")
                            .from(TenantExports::Table, TenantExports::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tenant_exports_latest")
                    .table(TenantExports::Table)
                    .col(TenantExports::TenantId)
                    .col(TenantExports::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantOffboardings::Table)
                    .col(uuid(TenantOffboardings::TenantId).primary_key())
                    .col(uuid(TenantOffboardings::Id))
                    .col(text(TenantOffboardings::State))
                    .col(text(TenantOffboardings::RequestedBy))
                    .col(timestamp_with_time_zone(TenantOffboardings::StartedAt))
                    .col(text(TenantOffboardings::ExportSha256))
                    .col(text(TenantOffboardings::KeyRef))
                    .col(boolean_null(TenantOffboardings::KeyDestroyed))
                    .col(big_integer_null(TenantOffboardings::RecordingsShredded))
                    .col(timestamp_with_time_zone_null(
                        TenantOffboardings::FinishedAt,
                    ))
                    .col(text_null(TenantOffboardings::Body))
                    .col(text_null(TenantOffboardings::Signature))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tenant_offboardings_tenant")
                            .from(TenantOffboardings::Table, TenantOffboardings::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .check((
                        "tenant_offboardings_state_check",
                        Expr::cust("state IN ('offboarding', 'offboarded')"),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantOffboardings::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TenantExports::Table).to_owned())
            .await
    }
}
