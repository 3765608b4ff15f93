//! The webhooks service's own database, on SQLite or PostgreSQL.

pub(crate) mod entity;
mod migration;

use callvault_contracts::metadata_api::{ApiError, ErrorCode};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{DatabaseConnection, DbErr};

pub use migration::Migrator;

/// Serialises concurrent migrators on one PostgreSQL database: "cvwebhok".
const PG_MIGRATION_LOCK_KEY: i64 = 0x6376_7765_6268_6f6b;

/// Connects to the webhooks database (`sqlite://…` or `postgres://…`) and
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
    tracing::error!(error = %err, "webhooks database error");
    if callvault_db::is_unavailable(&err) {
        ApiError::new(ErrorCode::Unavailable, "webhooks database unavailable")
    } else {
        ApiError::new(ErrorCode::Internal, "internal error")
    }
}
