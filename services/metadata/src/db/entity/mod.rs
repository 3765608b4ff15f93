//! The metadata database's rows, hand-written (not generated) so the column
//! types stay the ones the migration creates on both SQLite and PostgreSQL.
//!
//! Persistence shapes only: enums are text, unsigned numbers are signed
//! columns, phone numbers are ciphertext. Nothing outside `db` and the
//! service's conversions sees them.

pub mod api_key;
pub mod bpo;
pub mod recording;
pub mod recording_tag;
pub mod tenant;
pub mod user;
