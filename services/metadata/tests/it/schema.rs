//! The database set-up itself: migrations and SQLite's journal mode.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use callvault_metadata::PiiKeys;

use crate::support::{Env, PII_SECRET};

async fn migrations_are_idempotent_and_serialised(env: Env) {
    // Two replicas starting together on one database: the advisory lock on
    // PostgreSQL (SQLite's own writer lock) makes the second find nothing
    // to do instead of failing on "relation exists".
    let pii = PiiKeys::new(PII_SECRET);
    let (first, second) = tokio::join!(
        callvault_metadata::migrate(&env.db, &pii),
        callvault_metadata::migrate(&env.db, &pii)
    );
    first.expect("first migrator");
    second.expect("second migrator");
    let applied = env.count("metadata_migrations").await;
    assert_eq!(
        applied, 15,
        "tenancy, catalogue, outbox, inbox, retention, holds and deletion, audit, phone e164, \
         call lookup, signed certificates, catalogue keys, offboarding, disclosure, \
         attribute search, recording policies"
    );
    // The bus's tables came with them.
    assert_eq!(env.count("outbox").await, 0);
    assert_eq!(env.count("inbox").await, 0);

    if env.db.get_database_backend() == DbBackend::Sqlite {
        let mode = env
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA journal_mode",
            ))
            .await
            .expect("journal mode")
            .expect("a row")
            .try_get::<String>("", "journal_mode")
            .expect("journal_mode column");
        assert_eq!(mode, "wal");
    }
}

on_both_backends!(migrations_are_idempotent_and_serialised);
