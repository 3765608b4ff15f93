//! Hand-written rows (not generated) so the column types stay the ones the
//! migration creates on both SQLite and PostgreSQL.

pub(crate) mod assignment;
pub(crate) mod billed;
pub(crate) mod counter;
pub(crate) mod invoice;
pub(crate) mod plan;
pub(crate) mod profile;
pub(crate) mod usage;
