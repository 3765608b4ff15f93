//! The bus: events on a topic exchange, request/reply to a queue per
//! service. One trait, an in-process implementation for the embedded mode,
//! a RabbitMQ one for the distributed mode, the transactional outbox and
//! inbox every service uses, and request/reply for every operation
//! ([`rpc`]) with its trace context ([`trace`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
pub use callvault_contracts::events::Message;

pub mod in_process;
pub mod inbox;
pub mod outbox;
pub mod rabbitmq;
pub mod rpc;
pub mod trace;

pub use rpc::{Router, RpcClient};

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("no reply from {queue} within {timeout:?}")]
    Timeout { queue: String, timeout: Duration },
    #[error("nobody serves queue {0}")]
    NoSuchQueue(String),
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Handles one delivered event. An error means "not processed": a
/// retryable one is redelivered (a bounded number of times, then
/// dead-lettered), a permanent one dead-lettered at once. Handlers must be
/// idempotent — use the inbox.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, message: Message) -> Result<(), HandlerError>;
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    pub message: String,
    /// Another delivery would fail the same way (an undecodable payload, an
    /// unknown tenant): dead-letter it now instead of burning every
    /// redelivery.
    pub permanent: bool,
}

impl HandlerError {
    /// A failure that may pass on a later delivery (a database or a
    /// dependency down).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// A poison message: no delivery will ever succeed.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

/// Answers one request; the reply is whatever bytes the protocol defines.
#[async_trait]
pub trait RequestHandler: Send + Sync + 'static {
    async fn handle(&self, body: Vec<u8>) -> Vec<u8>;
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes an event to every consumer subscribed to its topic. Returns
    /// once the bus has accepted it (publisher confirm on RabbitMQ).
    async fn publish(&self, message: &Message) -> Result<(), BusError>;

    /// Registers `consumer` (a durable queue name, e.g. `metadata`) for
    /// `topics`. Deliveries start at once and continue in the background.
    async fn subscribe(
        &self,
        consumer: &str,
        topics: &[&str],
        handler: Arc<dyn EventHandler>,
    ) -> Result<(), BusError>;

    /// Sends a request to `queue` and waits for its reply.
    async fn request(
        &self,
        queue: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, BusError>;

    /// Serves requests sent to `queue`.
    async fn serve(&self, queue: &str, handler: Arc<dyn RequestHandler>) -> Result<(), BusError>;
}
