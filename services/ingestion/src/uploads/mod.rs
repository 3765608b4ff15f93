//! Ingestion's own database: one row per (tenant, external call id,
//! segment) upload, the idempotency key recorders retry on, plus the bus
//! outbox and inbox tables.

mod entity;
mod migration;
mod repository;

use std::time::Duration;

use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm::{Statement, TransactionTrait};
use sea_orm_migration::MigratorTrait;

pub use migration::Migrator;
pub use repository::{Claim, UploadKey, Uploads};

/// How long a SQLite writer waits for another one before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Serialises concurrent migrators on one PostgreSQL database (two replicas
/// starting together). Arbitrary, but fixed forever: "cvingest" in ASCII.
const PG_MIGRATION_LOCK_KEY: i64 = 0x6376_696e_6765_7374;

/// Connects to the ingestion database and brings its schema up to date.
///
/// `url` is `sqlite://path/to/file.db` (created if missing) or
/// `postgres://…`. SQLite runs in WAL mode with a busy timeout, so the
/// outbox relay reading does not block uploads writing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
        opts.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
    });
    let db = Database::connect(options).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Applies pending migrations; a no-op when the schema is current.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        // SQLite serialises writers itself, and sea-orm runs its migrations
        // outside a transaction there.
        return Migrator::up(db, None).await;
    }
    // One transaction holding an advisory lock: a second replica waits for
    // the first one's migrations instead of failing on "relation exists".
    let txn = db.begin().await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [PG_MIGRATION_LOCK_KEY.into()],
    ))
    .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}
