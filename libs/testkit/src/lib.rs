//! Test support shared by the crates' integration tests: real peers on
//! 127.0.0.1 (a moto server started for the duration of a test binary, a
//! fresh database on the local PostgreSQL per test).

mod moto;
mod postgres;

pub use moto::MotoServer;
pub use postgres::{PG_ADMIN_URL, PgTestDatabase, with_pg_database};
