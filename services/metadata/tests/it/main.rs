//! The metadata service's one integration-test binary. Every scenario runs
//! twice, on SQLite (a temporary file) and on PostgreSQL (a fresh database),
//! through the same public API.

/// Declares `sqlite::<name>` and `postgres::<name>` tests for each scenario
/// `async fn <name>(env: Env)` of the calling module.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::support::on_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    crate::support::on_postgres(super::$name).await;
                }
            )*
        }
    };
}

mod api_keys;
mod audit;
mod call_fields;
mod catalogue;
mod catalogue_keys;
mod catalogue_keys_kms;
mod catalogue_rekey;
mod deletion;
mod evidence;
mod holds;
mod ingest;
mod key_change;
mod lifecycle_permissions;
mod manifest;
mod offboarding;
mod pagination;
mod permissions;
mod phone_migration;
mod phone_region;
mod pii_at_rest;
mod retention;
mod schema;
mod search_input;
mod subject;
mod support;
mod tenancy;
mod tenancy_isolation;
