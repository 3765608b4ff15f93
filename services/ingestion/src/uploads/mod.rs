//! Ingestion's own database: one row per (tenant, external call id,
//! segment) upload, the idempotency key recorders retry on, plus the bus
//! outbox and inbox tables.

mod entity;
mod migration;
mod repository;

use sea_orm::{DatabaseConnection, DbErr};

pub use migration::Migrator;
pub use repository::{Claim, Holder, UploadKey, Uploads};

/// Serialises concurrent migrators on one PostgreSQL database (two replicas
/// starting together). Arbitrary, but fixed forever: "cvingest" in ASCII.
const PG_MIGRATION_LOCK_KEY: i64 = 0x6376_696e_6765_7374;

/// Connects to the ingestion database and brings its schema up to date.
///
/// `url` is `sqlite://path/to/file.db` (created if missing) or
/// `postgres://…`. SQLite runs in WAL mode with a busy timeout, so the
/// outbox relay reading does not block uploads writing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    callvault_db::connect::<Migrator>(url, PG_MIGRATION_LOCK_KEY).await
}

/// Applies pending migrations; a no-op when the schema is current. On
/// PostgreSQL a second replica waits on an advisory lock for the first
/// one's migrations instead of failing on "relation exists".
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    callvault_db::migrate::<Migrator>(db, PG_MIGRATION_LOCK_KEY).await
}
