//! BPOs, tenants, users and recorder API keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
    uuid_null,
};

#[derive(DeriveIden)]
enum Bpos {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(super) enum Tenants {
    Table,
    Id,
    BpoId,
    Name,
    TimeZone,
    DefaultRetentionDays,
    KeyRef,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Scope,
    Subject,
    Role,
    TenantId,
    BpoId,
    AgentId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Name,
    Prefix,
    SecretSha256,
    CreatedAt,
    RevokedAt,
}

pub(super) struct CreateTenancy;

impl MigrationName for CreateTenancy {
    fn name(&self) -> &str {
        "m_metadata_0001_tenancy"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTenancy {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Bpos::Table)
                    .col(uuid(Bpos::Id).primary_key())
                    .col(text(Bpos::Name))
                    .col(timestamp_with_time_zone(Bpos::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(uuid(Tenants::Id).primary_key())
                    .col(uuid(Tenants::BpoId))
                    .col(text(Tenants::Name))
                    .col(text(Tenants::TimeZone))
                    .col(integer(Tenants::DefaultRetentionDays))
                    .col(text(Tenants::KeyRef))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tenants_bpo")
                            .from(Tenants::Table, Tenants::BpoId)
                            .to(Bpos::Table, Bpos::Id),
                    )
                    .check((
                        "tenants_retention_check",
                        Expr::cust("default_retention_days BETWEEN 1 AND 36500"),
                    ))
                    .to_owned(),
            )
            .await?;
        // A BPO admin lists its tenants.
        manager
            .create_index(
                Index::create()
                    .name("idx_tenants_bpo")
                    .table(Tenants::Table)
                    .col(Tenants::BpoId)
                    .col(Tenants::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid(Users::Id).primary_key())
                    .col(text(Users::Scope))
                    .col(text(Users::Subject))
                    .col(text(Users::Role))
                    .col(uuid_null(Users::TenantId))
                    .col(uuid_null(Users::BpoId))
                    .col(text_null(Users::AgentId))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_tenant")
                            .from(Users::Table, Users::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_bpo")
                            .from(Users::Table, Users::BpoId)
                            .to(Bpos::Table, Bpos::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_users_scope_subject")
                    .table(Users::Table)
                    .col(Users::Scope)
                    .col(Users::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_tenant")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(uuid(ApiKeys::Id).primary_key())
                    .col(uuid(ApiKeys::TenantId))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::Prefix))
                    .col(text(ApiKeys::SecretSha256))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_keys_tenant")
                            .from(ApiKeys::Table, ApiKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Verification looks a key up by the hash of its secret.
        manager
            .create_index(
                Index::create()
                    .name("uq_api_keys_secret_sha256")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::SecretSha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_tenant")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::TenantId)
                    .col(ApiKeys::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ApiKeys::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
            Bpos::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
