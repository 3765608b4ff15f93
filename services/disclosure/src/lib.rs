//! The disclosure service: data-subject requests under GDPR and Japan's
//! APPI — access, erasure, restriction, portability — from intake to a
//! signed, redacted export bundle or a certified erasure. docs/disclosure.md
//! tells the lifecycle, the deadline rules and the bundle format.
//!
//! It keeps its own database (requests, settings, bundles), asks the
//! metadata service for everything about recordings (finding a subject's,
//! preserving, restricting and erasing them, the audit chain, signatures)
//! and reads audio through an [`AudioSource`] (the storage service).

pub mod bundle;
pub mod bundle_job;
mod db;
pub mod deadline;
mod deadlines;
mod doc;
pub mod http;
mod lifecycle;
mod metrics;
pub mod module;
pub mod redact;
mod sealing;
mod service;
pub mod vault;

pub use bundle_job::{AudioSource, BundleBuilder};
pub use db::{Migrator, connect};
pub use service::{Clock, DisclosureService, TimerReport};
