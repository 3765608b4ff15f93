//! The billing service: usage metered from the other services' events,
//! exactly once; plans with per-unit, graduated, volume and package charges;
//! monthly periods in each account's time zone; invoices (drafts while the
//! period and its grace run, then numbered and frozen, with adjustments for
//! late events) as GraphQL, CSV and PDF; and a BPO's two levels side by
//! side — what its clients owe it, what it owes the platform.
//! docs/billing.md tells the rules.

mod consumer;
mod db;
pub mod intake;
mod invoicing;
mod meters;
mod metrics;
pub mod module;
pub mod period;
pub mod pricing;
pub mod render;
mod service;

pub use db::{Migrator, connect};

/// The bus consumer of the metered events, for a process (or a test) that
/// wires the service itself; [`module::start`] subscribes it.
pub fn consumer(
    service: std::sync::Arc<BillingService>,
) -> std::sync::Arc<dyn callvault_bus::EventHandler> {
    std::sync::Arc::new(consumer::UsageConsumer::new(service))
}
pub use intake::IntakeReport;
pub use service::{BillingService, Clock, TimerReport};
