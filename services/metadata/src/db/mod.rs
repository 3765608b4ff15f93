//! The metadata service's own database: BPOs, tenants, users, recorder API
//! keys and the recordings catalogue, on SQLite or PostgreSQL.

pub(crate) mod entity;
mod migration;

use std::time::Duration;

use callvault_contracts::metadata_api::{ApiError, ErrorCode};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqlErr,
    Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

pub use migration::Migrator;

/// How long a SQLite writer waits for another one before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Serialises concurrent migrators on one PostgreSQL database (two replicas
/// starting together). Arbitrary, but fixed forever: "cvmetada" in ASCII.
const PG_MIGRATION_LOCK_KEY: i64 = 0x6376_6d65_7461_6461;

/// Connects to the metadata database and brings its schema up to date.
///
/// `url` is `sqlite://path/to/file.db` (created if missing) or
/// `postgres://…`. SQLite runs in WAL mode with a busy timeout and foreign
/// keys on, so readers don't block the writer and concurrent writers wait.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
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
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        // SQLite serialises writers itself, and sea-orm runs its migrations
        // outside a transaction there.
        return Migrator::up(db, None).await;
    }
    // One transaction holding an advisory lock: a second process blocks
    // until the first has finished, then finds nothing pending, instead of
    // failing on "relation exists".
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

/// Both backends must hand back what was written: PostgreSQL keeps
/// microseconds and SQLite would keep nanoseconds, so every timestamp is
/// truncated to microseconds before it is written or compared.
pub(crate) fn db_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A database failure as the caller sees it: no SQL, no values, just
/// "retry later". The details go to the log (they never carry phone numbers
/// or secrets: those are only bound as ciphertext, indexes and hashes).
pub(crate) fn internal(err: DbErr) -> ApiError {
    tracing::error!(error = %err, "metadata database error");
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => {
            ApiError::new(ErrorCode::Unavailable, "metadata database unavailable")
        }
        _ => ApiError::new(ErrorCode::Internal, "internal error"),
    }
}
