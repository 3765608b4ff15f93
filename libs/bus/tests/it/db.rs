//! A fresh, migrated database per test: a SQLite file in a temporary
//! directory, or a `callvault_test_<uuid>` database on the local
//! PostgreSQL, dropped afterwards even when the test fails.

use std::future::Future;
use std::time::Duration;

use callvault_testkit::with_pg_database;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use sea_orm_migration::prelude::*;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A service's migrator: the bus tables among its own.
pub struct ServiceMigrator;

#[async_trait::async_trait]
impl MigratorTrait for ServiceMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            callvault_bus::outbox::migration(),
            callvault_bus::inbox::migration(),
        ]
    }

    fn migration_table_name() -> DynIden {
        "service_migrations".into_iden()
    }
}

/// Runs `test` on a fresh database of `backend`, migrated with
/// [`ServiceMigrator`], then throws the database away.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(DatabaseConnection) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("create a temporary directory");
            let url = format!("sqlite://{}", dir.path().join("service.db").display());
            run_on(&url, test).await;
        }
        Backend::Postgres => {
            with_pg_database(|url| async move { run_on(&url, test).await }).await;
        }
    }
}

async fn run_on<F, Fut>(url: &str, test: F)
where
    F: FnOnce(DatabaseConnection) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = connect(url).await;
    ServiceMigrator::up(&db, None)
        .await
        .expect("run the migrations");
    // A table of the service's own state, and one of a consumer's effects
    // with no key, so that a duplicate effect would show as a second row.
    db.execute_unprepared("CREATE TABLE service_state (id TEXT PRIMARY KEY, value TEXT NOT NULL)")
        .await
        .expect("create service_state");
    db.execute_unprepared("CREATE TABLE consumer_effects (message_id TEXT NOT NULL)")
        .await
        .expect("create consumer_effects");
    test(db.clone()).await;
    db.close().await.expect("close the database");
}

/// Connects the way the services do: SQLite in WAL mode with a busy
/// timeout and a few connections, so a relay and a consumer can overlap.
pub async fn connect(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .max_connections(4)
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
        });
    Database::connect(options)
        .await
        .expect("connect to the test database")
}
