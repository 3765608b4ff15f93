//! The metadata database's rows, hand-written (not generated) so the column
//! types stay the ones the migration creates on both SQLite and PostgreSQL.
//!
//! Persistence shapes only: enums are text, unsigned numbers are signed
//! columns, phone numbers are ciphertext. Nothing outside `db` and the
//! service's conversions sees them.

pub mod api_key;
pub mod audit_entry;
pub mod audit_head;
pub mod bpo;
pub mod catalogue_key;
pub mod daily_manifest;
pub mod deletion_certificate;
pub mod do_not_record_number;
pub mod legal_hold;
pub mod legal_hold_recording;
pub mod not_recorded_call;
pub mod recording;
pub mod recording_attribute;
pub mod recording_policy;
pub mod recording_restriction;
pub mod recording_tag;
pub mod recording_tombstone;
pub mod request_preservation;
pub mod retention_rule;
pub mod tenant;
pub mod tenant_export;
pub mod tenant_offboarding;
pub mod user;
