//! How every service opens its own database: one URL, SQLite or PostgreSQL,
//! and the service's migrations applied before anything else touches it.
//!
//! - SQLite: the file is created if missing, WAL journal (readers don't
//!   block the writer), a busy timeout (concurrent writers wait instead of
//!   failing) and foreign keys enforced.
//! - PostgreSQL: migrations run in one transaction holding an advisory lock,
//!   so two replicas starting together don't race: the second waits for the
//!   first, then finds nothing pending instead of failing on "relation
//!   exists".
//!
//! Each service keeps its own lock key and its own migration table (named by
//! its [`MigratorTrait`]), so services sharing one PostgreSQL database don't
//! serialise on, or see, each other's migrations.

use std::time::Duration;

use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, Statement, TransactionTrait,
};
use sea_orm_migration::{MigratorTrait, MigratorTraitSelf};

/// How long a SQLite writer waits for another one before giving up: long
/// enough to ride out a checkpoint or a concurrent batch of writes.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// sqlx statement logging off and, on SQLite, create-if-missing, WAL,
/// [`SQLITE_BUSY_TIMEOUT`] and foreign keys on (sqlx's default too, spelled
/// out so it can't silently change).
///
/// sqlx pings a pooled connection when it hands it out, by default, and
/// again when it takes it back: two round trips around every statement run
/// outside a transaction. A SQLite connection is a file in this process and
/// can't drop, so it isn't pinged when handed out (sqlx still pings on
/// return); on the ingest path that took the SQLite threads from 63 to 45
/// context switches per upload. PostgreSQL keeps the ping: a connection a
/// server restart dropped would otherwise fail its next statement with an
/// error callers don't read as "unavailable, retry".
fn connect_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    if url.starts_with("sqlite:") {
        options.test_before_acquire(false);
    }
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
        opts.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true)
    });
    options
}

/// Connects to `url` (`sqlite://path/to/file.db` or `postgres://…`) and
/// brings the schema of migrator `M` up to date, serialised on PostgreSQL by
/// the advisory lock `lock_key`.
pub async fn connect<M: MigratorTrait>(
    url: &str,
    lock_key: i64,
) -> Result<DatabaseConnection, DbErr> {
    let db = Database::connect(connect_options(url)).await?;
    migrate::<M>(&db, lock_key).await?;
    Ok(db)
}

/// Applies `M`'s pending migrations; a no-op when the schema is current.
///
/// On PostgreSQL they run inside one transaction holding the advisory lock
/// `lock_key` (`pg_advisory_xact_lock`, released at commit or rollback).
pub async fn migrate<M: MigratorTrait>(
    db: &DatabaseConnection,
    lock_key: i64,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        // SQLite serialises writers itself, and sea-orm runs its migrations
        // outside a transaction there.
        return M::up(db, None).await;
    }
    let txn = db.begin().await?;
    lock(&txn, lock_key).await?;
    M::up(&txn, None).await?;
    txn.commit().await
}

/// [`connect`] for a migrator that carries state (keys a data migration
/// needs, for instance).
pub async fn connect_with<M: MigratorTraitSelf>(
    url: &str,
    migrator: &M,
    lock_key: i64,
) -> Result<DatabaseConnection, DbErr> {
    let db = Database::connect(connect_options(url)).await?;
    migrate_with(&db, migrator, lock_key).await?;
    Ok(db)
}

/// [`migrate`] for a migrator that carries state.
pub async fn migrate_with<M: MigratorTraitSelf>(
    db: &DatabaseConnection,
    migrator: &M,
    lock_key: i64,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return migrator.up(db, None).await;
    }
    let txn = db.begin().await?;
    lock(&txn, lock_key).await?;
    migrator.up(&txn, None).await?;
    txn.commit().await
}

async fn lock(txn: &DatabaseTransaction, lock_key: i64) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [lock_key.into()],
    ))
    .await
    .map(|_| ())
}
