//! The metadata service: BPOs and tenants, users, recorder API keys and the
//! recordings catalogue.
//!
//! - [`MetadataService`] answers the [`callvault_contracts::metadata_api::MetadataApi`]
//!   (the gateway's queries), checking permissions in every method
//!   ([`authz`] has the table).
//! - [`IngestedConsumer`] catalogues `recording.ingested` events from the
//!   bus, deduplicated through the inbox.
//! - Phone numbers are stored encrypted with a per-tenant blind index
//!   ([`PiiKeys`]).
//! - [`connect`] opens SQLite or PostgreSQL and migrates it (the service's
//!   tables plus the bus's outbox and inbox).

pub mod audit;
pub mod authz;
mod cursor;
mod db;
pub mod ingest;
mod input;
pub mod manifest;
mod phone;
mod pii;
mod service;
mod store;

pub use db::{Migrator, connect, migrate};
pub use ingest::IngestedConsumer;
pub use manifest::ManifestKeys;
pub use pii::PiiKeys;
pub use service::{Clock, MetadataService};
