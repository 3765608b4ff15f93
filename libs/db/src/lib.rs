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
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

/// How long a SQLite writer waits for another one before giving up: long
/// enough to ride out a checkpoint or a concurrent batch of writes.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a pooled PostgreSQL connection may sit idle and still be handed
/// out without a ping first.
pub const POSTGRES_PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// sqlx statement logging off and, on SQLite, create-if-missing, WAL,
/// [`SQLITE_BUSY_TIMEOUT`] and foreign keys on (sqlx's default too, spelled
/// out so it can't silently change).
///
/// sqlx pings a pooled connection every time it hands it out, by default:
/// a round trip per statement outside a transaction. A SQLite connection is
/// a file in this process and can't drop, so it is never pinged; on the
/// ingest path the pings were a third of all SQLite commands, each a hand-off
/// to the connection's thread and back. A PostgreSQL connection is pinged
/// once idle for [`POSTGRES_PING_IF_IDLE_FOR`], when a server restart or a
/// proxy may have dropped it; a busy one that was dropped fails its next
/// statement, which callers already treat as the database being unavailable.
fn connect_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    if url.starts_with("sqlite:") {
        options.test_before_acquire(false);
    } else {
        options.test_before_acquire_if_idle_for(POSTGRES_PING_IF_IDLE_FOR);
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
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [lock_key.into()],
    ))
    .await?;
    M::up(&txn, None).await?;
    txn.commit().await
}
