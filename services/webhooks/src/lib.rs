//! The webhooks service: tenants subscribe endpoints to event types, and
//! every event of those types reaches them as a signed HTTP POST
//! (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature`, `whsec_` secrets), at least once, retried with
//! backoff and jitter for about three days, never to a non-public address
//! the operator did not allow. docs/webhooks.md tells the rules.

pub mod address;
pub mod catalogue;
mod consumer;
mod db;
pub mod module;
pub mod secret;
mod sender;
mod service;

pub use db::{Migrator, connect};
pub use service::{DEFAULT_SCHEDULE, DeliveryOptions, PassReport, WebhooksService};

/// The bus consumer that turns events into deliveries, for a process (or
/// a test) that wires the service itself; [`module::start`] subscribes it.
pub fn consumer(
    service: std::sync::Arc<WebhooksService>,
) -> std::sync::Arc<dyn callvault_bus::EventHandler> {
    std::sync::Arc::new(consumer::WebhookConsumer::new(service))
}

/// The consumer's queue and inbox name, and the topics it takes.
pub use catalogue::TOPICS;
pub const CONSUMER: &str = "webhooks";
