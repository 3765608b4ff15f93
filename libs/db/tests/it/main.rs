//! `callvault_db::connect` on both backends, with a one-table migrator.

use callvault_testkit::with_pg_database;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::prelude::*;

/// Not the services' lock keys: this test's migrations are its own.
const LOCK_KEY: i64 = 0x6376_6462_7465_7374;

struct TestMigrator;

#[async_trait::async_trait]
impl MigratorTrait for TestMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(CreateWidgets)]
    }

    fn migration_table_name() -> DynIden {
        "db_test_migrations".into_iden()
    }
}

struct CreateWidgets;

impl MigrationName for CreateWidgets {
    fn name(&self) -> &str {
        "m0001_create_widgets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateWidgets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE TABLE widgets (id BIGINT PRIMARY KEY)")
            .await
            .map(|_| ())
    }
}

/// `PRAGMA name`, read from its one `column`, as text.
async fn pragma(db: &DatabaseConnection, name: &str, column: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .expect("read the pragma")
        .expect("one row");
    row.try_get::<String>("", column)
        .or_else(|_| row.try_get::<i64>("", column).map(|n| n.to_string()))
        .expect("pragma column")
}

async fn applied(db: &DatabaseConnection) -> usize {
    TestMigrator::get_applied_migrations(db)
        .await
        .expect("applied migrations")
        .len()
}

#[tokio::test]
async fn sqlite_is_created_in_wal_mode_and_migrated_once() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let path = dir.path().join("service.db");
    let url = format!("sqlite://{}", path.display());

    let db = callvault_db::connect::<TestMigrator>(&url, LOCK_KEY)
        .await
        .expect("connect and migrate");
    assert!(path.exists(), "connect creates the file");
    assert_eq!(pragma(&db, "journal_mode", "journal_mode").await, "wal");
    assert_eq!(pragma(&db, "busy_timeout", "timeout").await, "5000");
    assert_eq!(pragma(&db, "foreign_keys", "foreign_keys").await, "1");
    assert_eq!(applied(&db).await, 1);

    callvault_db::migrate::<TestMigrator>(&db, LOCK_KEY)
        .await
        .expect("migrate again");
    db.close().await.expect("close");
    let again = callvault_db::connect::<TestMigrator>(&url, LOCK_KEY)
        .await
        .expect("connect again");
    assert_eq!(applied(&again).await, 1);
    again.close().await.expect("close");
}

#[tokio::test]
async fn postgres_replicas_migrating_together_both_come_up() {
    with_pg_database(|url| async move {
        let (first, second) = tokio::join!(
            callvault_db::connect::<TestMigrator>(&url, LOCK_KEY),
            callvault_db::connect::<TestMigrator>(&url, LOCK_KEY)
        );
        for db in [first, second] {
            let db = db.expect("concurrent connect and migrate");
            assert_eq!(applied(&db).await, 1);
            db.close().await.expect("close");
        }
    })
    .await;
}
