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

use sea_orm::sqlx::Error as SqlxError;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, RuntimeErr, Statement, TransactionTrait,
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

/// Whether a database error says the database is out of reach for now (down,
/// restarting, overloaded, a connection cut mid-statement, a pool
/// exhausted): the caller answers "unavailable, retry later". Anything else
/// (a constraint, a bad statement, a value that doesn't decode) won't pass
/// by retrying.
///
/// A connection can pass sqlx's ping and then lose its server before the
/// statement completes: that is an IO error inside `DbErr::Query` or
/// `DbErr::Exec`, not a `DbErr::Conn`, and it is as transient.
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            sqlx_unavailable(error)
        }
        _ => false,
    }
}

fn sqlx_unavailable(error: &SqlxError) -> bool {
    match error {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        // PostgreSQL's connection exceptions (class 08), its shutdown and
        // start-up refusals (57P01 admin_shutdown, 57P02 crash_shutdown,
        // 57P03 cannot_connect_now) and too_many_connections (53300).
        SqlxError::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn query(error: SqlxError) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
    }

    #[test]
    fn a_cut_connection_or_an_exhausted_pool_is_unavailable() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_unavailable(&query(SqlxError::Io(reset))));
        assert!(is_unavailable(&query(SqlxError::PoolTimedOut)));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(is_unavailable(&DbErr::Conn(RuntimeErr::SqlxError(
            Arc::new(SqlxError::Io(refused))
        ))));
    }

    #[test]
    fn a_bad_statement_or_value_is_not() {
        assert!(!is_unavailable(&query(SqlxError::RowNotFound)));
        assert!(!is_unavailable(&query(SqlxError::ColumnNotFound(
            "x".to_owned()
        ))));
        assert!(!is_unavailable(&DbErr::Query(RuntimeErr::Internal(
            "bad".to_owned()
        ))));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".to_owned())));
    }
}
