//! Schema of the storage service's own database.
//!
//! Migrations are append-only: once one has shipped, a change is a new
//! migration, never an edit, because deployed databases already recorded it
//! as applied.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, blob, blob_null, integer, text, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid,
};

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateStorageObjects),
            Box::new(IndexStorageObjectsByAge),
            Box::new(CreateStorageWriteIntents),
            // The events storage emits (recording.stored, .discarded,
            // .shredded, .served) go out through its own outbox.
            callvault_bus::outbox::migration(),
        ]
    }

    // Not the default `seaql_migrations`: several services may share one
    // database (embedded mode, small sites), and each service's migrator
    // must only see its own history.
    fn migration_table_name() -> DynIden {
        "storage_migrations".into_iden()
    }
}

#[derive(DeriveIden)]
enum StorageObjects {
    Table,
    TenantId,
    RecordingId,
    ObjectKey,
    KeyRef,
    WrappedKey,
    FrameSize,
    PlaintextLen,
    CiphertextLen,
    Sha256,
    State,
    CreatedAt,
    RewrappedAt,
    ShreddedAt,
}

/// The database keeps the state invariants itself, so a bug in one writer
/// (or a manual fix in psql) cannot leave a "stored" row without its key or
/// a "shredded" row that still holds one.
const STATE_CHECK: &str = "(state = 'stored' AND wrapped_key IS NOT NULL AND shredded_at IS NULL) \
     OR (state = 'shredded' AND wrapped_key IS NULL AND shredded_at IS NOT NULL)";

/// Lengths and frame sizes are unsigned in the domain; the columns are signed.
const LENGTHS_CHECK: &str =
    "frame_size > 0 AND plaintext_len >= 0 AND ciphertext_len >= 0 AND length(sha256) = 32";

#[derive(DeriveMigrationName)]
struct CreateStorageObjects;

#[async_trait::async_trait]
impl MigrationTrait for CreateStorageObjects {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StorageObjects::Table)
                    .col(uuid(StorageObjects::TenantId))
                    .col(uuid(StorageObjects::RecordingId))
                    .col(text(StorageObjects::ObjectKey))
                    .col(text(StorageObjects::KeyRef))
                    .col(blob_null(StorageObjects::WrappedKey))
                    .col(integer(StorageObjects::FrameSize))
                    .col(big_integer(StorageObjects::PlaintextLen))
                    .col(big_integer(StorageObjects::CiphertextLen))
                    .col(blob(StorageObjects::Sha256))
                    .col(text(StorageObjects::State))
                    .col(timestamp_with_time_zone(StorageObjects::CreatedAt))
                    .col(timestamp_with_time_zone_null(StorageObjects::RewrappedAt))
                    .col(timestamp_with_time_zone_null(StorageObjects::ShreddedAt))
                    .primary_key(
                        Index::create()
                            .col(StorageObjects::TenantId)
                            .col(StorageObjects::RecordingId),
                    )
                    .check(("storage_objects_state_check", Expr::cust(STATE_CHECK)))
                    .check(("storage_objects_lengths_check", Expr::cust(LENGTHS_CHECK)))
                    .to_owned(),
            )
            .await?;
        // Re-wrapping walks one tenant's records under one key in recording id
        // order; with recording_id last the index serves the keyset page
        // (filter and order) without a sort.
        manager
            .create_index(
                Index::create()
                    .name("idx_storage_objects_tenant_key_ref")
                    .table(StorageObjects::Table)
                    .col(StorageObjects::TenantId)
                    .col(StorageObjects::KeyRef)
                    .col(StorageObjects::RecordingId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StorageObjects::Table).to_owned())
            .await
    }
}

/// The reconciler's listing walks every tenant's records in (created_at,
/// tenant_id, recording_id) order below a cutoff; this index serves that
/// keyset page without a sort or a scan of the newer records.
struct IndexStorageObjectsByAge;

// Named by hand: the derived name is the file's, which the first
// migration already holds.
impl MigrationName for IndexStorageObjectsByAge {
    fn name(&self) -> &str {
        "m_storage_0002_created_at_index"
    }
}

const AGE_INDEX: &str = "idx_storage_objects_created_at";

#[async_trait::async_trait]
impl MigrationTrait for IndexStorageObjectsByAge {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(AGE_INDEX)
                    .table(StorageObjects::Table)
                    .col(StorageObjects::CreatedAt)
                    .col(StorageObjects::TenantId)
                    .col(StorageObjects::RecordingId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(AGE_INDEX)
                    .table(StorageObjects::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum StorageWriteIntents {
    Table,
    ObjectKey,
    TenantId,
    RecordingId,
    State,
    CreatedAt,
}

/// One row per object a store is writing or a sweep has yet to remove (see
/// `crate::sweep`). Only the primary key: every store inserts and deletes a
/// row here, and the table only ever holds the uploads in flight and the
/// abandoned ones, so the sweeper's scan by age is cheaper than an index
/// every store would pay for.
struct CreateStorageWriteIntents;

impl MigrationName for CreateStorageWriteIntents {
    fn name(&self) -> &str {
        "m_storage_0003_write_intents"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateStorageWriteIntents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StorageWriteIntents::Table)
                    .col(text(StorageWriteIntents::ObjectKey).primary_key())
                    .col(uuid(StorageWriteIntents::TenantId))
                    .col(uuid(StorageWriteIntents::RecordingId))
                    .col(text(StorageWriteIntents::State))
                    .col(timestamp_with_time_zone(StorageWriteIntents::CreatedAt))
                    .check((
                        "storage_write_intents_state_check",
                        Expr::cust("state IN ('pending', 'abandoned')"),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StorageWriteIntents::Table).to_owned())
            .await
    }
}
