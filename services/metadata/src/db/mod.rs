//! The metadata service's own database: BPOs, tenants, users, recorder API
//! keys and the recordings catalogue, on SQLite or PostgreSQL.

pub(crate) mod entity;
mod migration;

use callvault_contracts::metadata_api::{ApiError, ErrorCode};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{DatabaseConnection, DbErr, SqlErr};

pub use migration::Migrator;

use crate::pii::PiiKeys;

/// Serialises concurrent migrators on one PostgreSQL database (two replicas
/// starting together). Arbitrary, but fixed forever: "cvmetada" in ASCII.
const PG_MIGRATION_LOCK_KEY: i64 = 0x6376_6d65_7461_6461;

/// Connects to the metadata database and brings its schema up to date.
///
/// `url` is `sqlite://path/to/file.db` (created if missing) or
/// `postgres://…`. SQLite runs in WAL mode with a busy timeout and foreign
/// keys on, so readers don't block the writer and concurrent writers wait.
/// `pii` must be the service's PII keys: a migration re-indexes the stored
/// (encrypted) phone numbers.
pub async fn connect(url: &str, pii: &PiiKeys) -> Result<DatabaseConnection, DbErr> {
    callvault_db::connect_with(url, &Migrator::new(pii.clone()), PG_MIGRATION_LOCK_KEY).await
}

/// Applies pending migrations; a no-op when the schema is current. On
/// PostgreSQL a second process blocks on an advisory lock until the first
/// has finished, then finds nothing pending.
pub async fn migrate(db: &DatabaseConnection, pii: &PiiKeys) -> Result<(), DbErr> {
    callvault_db::migrate_with(db, &Migrator::new(pii.clone()), PG_MIGRATION_LOCK_KEY).await
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
    if callvault_db::is_unavailable(&err) {
        ApiError::new(ErrorCode::Unavailable, "metadata database unavailable")
    } else {
        ApiError::new(ErrorCode::Internal, "internal error")
    }
}
