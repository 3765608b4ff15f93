//! Finding a call's segments by the id the recorder or CTI gave it
//! (`call_recordings`): one tenant's, in segment order.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum Recordings {
    Table,
    TenantId,
    ExternalCallId,
    Segment,
}

#[derive(DeriveMigrationName)]
pub struct AddCallLookup;

#[async_trait::async_trait]
impl MigrationTrait for AddCallLookup {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_recordings_tenant_call")
                    .table(Recordings::Table)
                    .col(Recordings::TenantId)
                    .col(Recordings::ExternalCallId)
                    .col(Recordings::Segment)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_recordings_tenant_call")
                    .table(Recordings::Table)
                    .to_owned(),
            )
            .await
    }
}
