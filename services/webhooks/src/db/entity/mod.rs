//! Hand-written entities, so the column types stay the ones the migration
//! creates on both SQLite and PostgreSQL.

pub(crate) mod delivery;
pub(crate) mod endpoint;
