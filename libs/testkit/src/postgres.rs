//! A fresh PostgreSQL database per test on the local server (trust auth,
//! user postgres): `callvault_test_<uuid>`, dropped afterwards.
//!
//! An unreachable server is a failure, never a skip: a suite that silently
//! stops testing PostgreSQL looks exactly like one that passes.

use std::future::Future;
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use uuid::Uuid;

/// The maintenance database the test databases are created from.
pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh, empty PostgreSQL database, dropped by [`Self::drop_database`].
///
/// Prefer [`with_pg_database`], which drops it even when the test panics.
pub struct PgTestDatabase {
    /// `postgres://postgres@127.0.0.1:5432/<name>`.
    pub url: String,
    /// `callvault_test_<uuid without dashes>`.
    pub name: String,
    admin: DatabaseConnection,
}

impl PgTestDatabase {
    /// Creates the database.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is unreachable at [`PG_ADMIN_URL`] or refuses to
    /// create a database.
    pub async fn create() -> Self {
        let mut options = ConnectOptions::new(PG_ADMIN_URL);
        options
            .sqlx_logging(false)
            .max_connections(1)
            .connect_timeout(Duration::from_secs(10));
        let admin = match Database::connect(options).await {
            Ok(admin) => admin,
            Err(err) => panic!(
                "postgresql is unreachable at {PG_ADMIN_URL} ({err}); this test needs it \
                 (trust auth, user postgres)"
            ),
        };
        let name = format!("callvault_test_{}", Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        PgTestDatabase { url, name, admin }
    }

    /// Drops the database, with FORCE: a failed test, or a server it
    /// started, may still hold connections to it.
    ///
    /// # Panics
    ///
    /// When the drop fails.
    pub async fn drop_database(self) {
        self.admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .expect("drop the test database");
        self.admin
            .close()
            .await
            .expect("close the admin connection");
    }
}

/// Runs `test` with the URL of a fresh PostgreSQL database, then drops the
/// database, whether the test passed or panicked; a panic is then resumed,
/// so the test still fails with its own message.
///
/// The test runs on its own task: that is what lets its panic be caught.
pub async fn with_pg_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let database = PgTestDatabase::create().await;
    let url = database.url.clone();
    let outcome = tokio::spawn(async move { test(url).await }).await;
    database.drop_database().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}
