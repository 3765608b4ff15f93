//! Schema of the ingestion service's own database. Append-only: once a
//! migration has shipped, a change is a new migration.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, blob, integer, text, text_null, timestamp_with_time_zone, uuid,
};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateUploads),
            callvault_bus::outbox::migration(),
            callvault_bus::inbox::migration(),
            Box::new(IndexUploadsByRecording),
            Box::new(CreateTusUploads),
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

#[derive(DeriveIden)]
enum TusUploads {
    Table,
    Id,
    TenantId,
    ContentType,
    UploadLength,
    UploadOffset,
    SealedCall,
    WrappedKey,
    Receipt,
    CreatedAt,
    ExpiresAt,
}

/// Resumable (tus) uploads: what was announced and how far it got. The
/// bytes are on the process's disk, sealed (`crate::tus::staging`); the call
/// metadata is sealed here under the same per-upload key.
struct CreateTusUploads;

impl MigrationName for CreateTusUploads {
    fn name(&self) -> &str {
        "m_ingestion_0003_tus_uploads"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTusUploads {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TusUploads::Table)
                    .if_not_exists()
                    .col(uuid(TusUploads::Id).primary_key())
                    .col(uuid(TusUploads::TenantId))
                    .col(text(TusUploads::ContentType))
                    .col(big_integer(TusUploads::UploadLength))
                    .col(big_integer(TusUploads::UploadOffset))
                    .col(blob(TusUploads::SealedCall))
                    .col(blob(TusUploads::WrappedKey))
                    .col(text_null(TusUploads::Receipt))
                    .col(timestamp_with_time_zone(TusUploads::CreatedAt))
                    .col(timestamp_with_time_zone(TusUploads::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        // The sweep looks for expired uploads.
        manager
            .create_index(
                Index::create()
                    .name("idx_tus_uploads_expires_at")
                    .table(TusUploads::Table)
                    .col(TusUploads::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TusUploads::Table).to_owned())
            .await
    }
}
