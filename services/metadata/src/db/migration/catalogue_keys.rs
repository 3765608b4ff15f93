//! Each tenant's catalogue data key, wrapped under its master key (see
//! `crate::catalogue_keys`). One row per tenant, created on first use; the
//! phone numbers sealed under the old platform-secret keys are moved by
//! `crate::pii_rekey` after the migrations, not here: that needs the key
//! provider, and a tenant whose key is unusable must not stop the service
//! from starting.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{binary, text, timestamp_with_time_zone, uuid};

use super::tenancy::Tenants;

#[derive(DeriveIden)]
enum CatalogueKeys {
    Table,
    TenantId,
    MasterKeyRef,
    WrappedKeyRef,
    WrappedKey,
    CreatedAt,
    WrappedAt,
}

pub(super) struct CreateCatalogueKeys;

impl MigrationName for CreateCatalogueKeys {
    fn name(&self) -> &str {
        "m_metadata_0008_catalogue_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateCatalogueKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogueKeys::Table)
                    .col(uuid(CatalogueKeys::TenantId).primary_key())
                    .col(text(CatalogueKeys::MasterKeyRef))
                    .col(text(CatalogueKeys::WrappedKeyRef))
                    .col(binary(CatalogueKeys::WrappedKey))
                    .col(timestamp_with_time_zone(CatalogueKeys::CreatedAt))
                    .col(timestamp_with_time_zone(CatalogueKeys::WrappedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_catalogue_keys_tenant")
                            .from(CatalogueKeys::Table, CatalogueKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CatalogueKeys::Table).to_owned())
            .await
    }
}
