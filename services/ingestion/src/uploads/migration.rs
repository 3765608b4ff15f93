//! Schema of the ingestion service's own database. Append-only: once a
//! migration has shipped, a change is a new migration.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, text, text_null, timestamp_with_time_zone, uuid};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateUploads),
            callvault_bus::outbox::migration(),
            callvault_bus::inbox::migration(),
            Box::new(IndexUploadsByRecording),
        ]
    }

    // Several services may share one database (embedded mode): each
    // migrator sees only its own history.
    fn migration_table_name() -> DynIden {
        "ingestion_migrations".into_iden()
    }
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    TenantId,
    ExternalCallId,
    Segment,
    RecordingId,
    State,
    Response,
    CreatedAt,
    UpdatedAt,
}

/// The database keeps the invariant itself: a done upload has its response,
/// an in-progress one has none.
const STATE_CHECK: &str = "(state = 'in_progress' AND response IS NULL) \
     OR (state = 'done' AND response IS NOT NULL)";

#[derive(DeriveMigrationName)]
struct CreateUploads;

#[async_trait::async_trait]
impl MigrationTrait for CreateUploads {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(uuid(Uploads::TenantId))
                    .col(text(Uploads::ExternalCallId))
                    .col(integer(Uploads::Segment))
                    .col(uuid(Uploads::RecordingId))
                    .col(text(Uploads::State))
                    .col(text_null(Uploads::Response))
                    .col(timestamp_with_time_zone(Uploads::CreatedAt))
                    .col(timestamp_with_time_zone(Uploads::UpdatedAt))
                    // The idempotency key: one upload per call segment and tenant.
                    .primary_key(
                        Index::create()
                            .col(Uploads::TenantId)
                            .col(Uploads::ExternalCallId)
                            .col(Uploads::Segment),
                    )
                    .check(("uploads_state_check", Expr::cust(STATE_CHECK)))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Uploads::Table).to_owned())
            .await
    }
}

/// The reconciler looks each stored recording up by (tenant, recording id).
struct IndexUploadsByRecording;

const RECORDING_INDEX: &str = "idx_uploads_tenant_recording";

impl MigrationName for IndexUploadsByRecording {
    fn name(&self) -> &str {
        "m_ingestion_0002_recording_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for IndexUploadsByRecording {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(RECORDING_INDEX)
                    .table(Uploads::Table)
                    .col(Uploads::TenantId)
                    .col(Uploads::RecordingId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(RECORDING_INDEX)
                    .table(Uploads::Table)
                    .to_owned(),
            )
            .await
    }
}
