//! The webhooks service's one integration-test binary. Every scenario runs
//! twice, on SQLite and on PostgreSQL (webhooks' and metadata's databases),
//! with the REAL metadata service over an in-process bus and real HTTP to a
//! receiver that verifies with the reference Python library.

/// Declares `sqlite::<name>` and `postgres::<name>` tests for each scenario
/// `async fn <name>(lab: &Lab)` of the calling module.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let lab = crate::lab::Lab::on_sqlite().await;
                    super::$name(&lab).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let lab = crate::lab::Lab::on_postgres().await;
                    super::$name(&lab).await;
                    lab.drop_databases().await;
                }
            )*
        }
    };
}

mod access;
mod delivery;
mod endpoints;
mod lab;
mod receiver;
