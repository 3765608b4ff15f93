//! The metadata service: BPOs and tenants, users, recorder API keys and the
//! recordings catalogue.
//!
//! - [`MetadataService`] serves the metadata operations
//!   ([`callvault_contracts::ops`]: the gateway's queries and commands),
//!   checking permissions in every method ([`authz`]).
//! - [`module::start`] starts it: database, operations, consumer, timers.
//! - [`IngestedConsumer`] catalogues `recording.ingested` events from the
//!   bus, deduplicated through the inbox.
//! - Phone numbers are stored encrypted with a per-tenant blind index,
//!   under each tenant's catalogue data key, wrapped by its master key
//!   ([`CatalogueKeys`]); [`pii_rekey`] moves rows sealed under the old
//!   platform secret ([`PiiKeys`]).
//! - [`connect`] opens SQLite or PostgreSQL and migrates it (the service's
//!   tables plus the bus's outbox and inbox).

pub mod audit;
pub mod authz;
pub mod catalogue_keys;
mod certificate;
mod cursor;
mod db;
pub mod evidence;
pub mod ingest;
mod input;
pub mod integrity;
pub mod manifest;
pub mod module;
mod phone;
mod pii;
pub mod pii_rekey;
mod service;
mod store;

pub use catalogue_keys::CatalogueKeys;
pub use db::{Migrator, connect, migrate};
pub use ingest::IngestedConsumer;
pub use manifest::ManifestKeys;
pub use pii::PiiKeys;
pub use service::{Clock, MetadataService};
