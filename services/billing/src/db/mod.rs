//! The billing service's own database, on SQLite or PostgreSQL.

pub(crate) mod entity;
mod migration;

use callvault_contracts::metadata_api::{ApiError, ErrorCode};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{DatabaseConnection, DbErr, SqlErr};

pub use migration::Migrator;

/// Serialises concurrent migrators on one PostgreSQL database: "cvbillin".
const PG_MIGRATION_LOCK_KEY: i64 = 0x6376_6269_6c6c_696e;

/// Connects to the billing database (`sqlite://…` or `postgres://…`) and
/// brings its schema up to date.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    callvault_db::connect::<Migrator>(url, PG_MIGRATION_LOCK_KEY).await
}

/// Timestamps are kept to the microsecond on both backends.
pub(crate) fn db_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// A database failure as the caller sees it: no SQL, no values.
pub(crate) fn internal(err: DbErr) -> ApiError {
    tracing::error!(error = %err, "billing database error");
    if callvault_db::is_unavailable(&err) {
        ApiError::new(ErrorCode::Unavailable, "billing database unavailable")
    } else {
        ApiError::new(ErrorCode::Internal, "internal error")
    }
}

/// A stored document that no longer reads: a bug or tampering, never the
/// caller's fault.
pub(crate) fn corrupt(what: &str) -> ApiError {
    tracing::error!(what, "billing database holds an unreadable document");
    ApiError::new(ErrorCode::Internal, "internal error")
}

/// A unique constraint refused the write: someone else wrote first.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
