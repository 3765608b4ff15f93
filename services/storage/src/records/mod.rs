//! The storage service's own database: one row per stored recording, with
//! the wrapped data key that makes its object readable.
//!
//! Crypto-shredding happens here: clearing `wrapped_key` makes the object
//! unreadable for good, whatever copies of the ciphertext remain. The row
//! itself stays, so a later read answers "shredded" rather than "not found".
//!
//! Every query is scoped by tenant: [`StorageRecords`] has no method that
//! reads or writes without a tenant id, and the tenant is part of the primary
//! key, so a recording id guessed from another tenant matches nothing.

mod entity;
mod migration;
mod model;
mod repository;

use std::time::Duration;

use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm::{Statement, TransactionTrait};
use sea_orm_migration::MigratorTrait;

pub use migration::Migrator;
pub use model::{NewRecord, RecordState, ShredOutcome, StorageRecord};
pub use repository::StorageRecords;

/// How long a SQLite writer waits for another one before giving up: long
/// enough to ride out a checkpoint or a concurrent re-wrap batch.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Serialises concurrent migrators on one PostgreSQL database (two replicas
/// starting together). Arbitrary, but fixed forever: "cvstorag" in ASCII.
const PG_MIGRATION_LOCK_KEY: i64 = 0x6376_7374_6f72_6167;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("storage record already exists")]
    AlreadyExists,
    #[error("storage record not found")]
    NotFound,
    /// A value the database cannot hold (a length above `i64::MAX`, an empty
    /// wrapped key), or a row the domain rejects. Names the field, never its
    /// value.
    #[error("invalid storage record: {0}")]
    Invalid(&'static str),
    #[error("storage records database error: {0}")]
    Database(String),
}

impl From<DbErr> for RecordError {
    fn from(err: DbErr) -> Self {
        RecordError::Database(err.to_string())
    }
}

/// Connects to the storage records database and brings its schema up to
/// date.
///
/// `url` is `sqlite://path/to/file.db` (the file is created if missing) or
/// `postgres://…`. SQLite runs in WAL mode with a busy timeout, so readers
/// don't block the writer and concurrent writers wait instead of failing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, RecordError> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
        opts.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true)
    });
    let db = Database::connect(options).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Applies pending migrations; a no-op when the schema is current.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), RecordError> {
    if db.get_database_backend() != DbBackend::Postgres {
        // SQLite serialises writers itself, and sea-orm runs its migrations
        // outside a transaction there.
        Migrator::up(db, None).await?;
        return Ok(());
    }
    // On PostgreSQL the migrations run inside one transaction holding an
    // advisory lock: a second process blocks until the first has finished,
    // then finds nothing pending, instead of failing on "relation exists".
    let txn = db.begin().await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [PG_MIGRATION_LOCK_KEY.into()],
    ))
    .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(())
}
