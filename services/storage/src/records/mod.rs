//! The storage service's own database: one row per stored recording, with
//! the wrapped data key that makes its object readable, and one write
//! intent per object being written (see [`WriteIntents`]).
//!
//! Crypto-shredding happens here: clearing `wrapped_key` makes the object
//! unreadable for good, whatever copies of the ciphertext remain. The row
//! itself stays, so a later read answers "shredded" rather than "not found".
//!
//! Every query is scoped by tenant: [`StorageRecords`] has no method that
//! reads or writes without a tenant id, and the tenant is part of the primary
//! key, so a recording id guessed from another tenant matches nothing.

mod entity;
mod intents;
mod migration;
mod model;
mod repository;

use callvault_bus::Message;
use callvault_contracts::events::Event;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

pub use intents::{CommitError, IntentState, WriteIntent, WriteIntents};
pub use migration::Migrator;
pub use model::{ListedRecord, NewRecord, RecordState, ShredOutcome, StorageRecord, StoredSpan};
pub use repository::StorageRecords;

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
    callvault_db::connect::<Migrator>(url, PG_MIGRATION_LOCK_KEY)
        .await
        .map_err(RecordError::from)
}

/// Applies pending migrations; a no-op when the schema is current. On
/// PostgreSQL a second process blocks on an advisory lock until the first
/// has finished, then finds nothing pending.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), RecordError> {
    callvault_db::migrate::<Migrator>(db, PG_MIGRATION_LOCK_KEY)
        .await
        .map_err(RecordError::from)
}

/// Adds `event` to the storage database's outbox, in the caller's
/// transaction: it is published if and only if the change it reports is
/// committed (see `callvault_bus::outbox`).
pub(crate) async fn enqueue<C: ConnectionTrait, E: Event>(
    conn: &C,
    event: &E,
) -> Result<(), DbErr> {
    let message = Message::new(event)
        .map_err(|err| DbErr::Custom(format!("serializing {}: {err}", E::TOPIC)))?;
    callvault_bus::outbox::enqueue(conn, &message).await
}
