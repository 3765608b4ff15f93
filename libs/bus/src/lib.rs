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
///
/// A handler that gains from taking several messages at once (one database
/// transaction for many events) overrides [`EventHandler::max_batch`] and
/// [`EventHandler::handle_batch`]; every other handler gets one message at
/// a time through [`EventHandler::handle`], exactly as if batching did not
/// exist.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, message: Message) -> Result<(), HandlerError>;

    /// Handles messages of this consumer that were waiting together, in
    /// queue order, and says for each (same order, same length) what
    /// became of it: its result is honoured exactly as `handle`'s would be
    /// (acknowledged, redelivered, or dead-lettered), message by message.
    /// A result list of another length, or a panic, fails every message of
    /// the batch (retryably).
    ///
    /// The bus calls it only when [`EventHandler::max_batch`] is above 1,
    /// with at most that many messages, and takes no further message of the
    /// consumer until the batch's results are settled: batches follow each
    /// other in queue order. Within a batch, a message that fails while a
    /// later one succeeds is redelivered after that later one was handled
    /// (as with one-at-a-time delivery on RabbitMQ); a handler for which
    /// that matters fails the rest of the batch too, as a handler that
    /// processes the whole batch in one transaction does.
    ///
    /// The default hands the messages to `handle` one after the other.
    async fn handle_batch(&self, messages: Vec<Message>) -> Vec<Result<(), HandlerError>> {
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.handle(message).await);
        }
        results
    }

    /// The most messages one [`EventHandler::handle_batch`] call takes.
    /// 1 (the default) means no batching: the bus calls `handle` for each
    /// message. Read once, when the handler is subscribed.
    fn max_batch(&self) -> usize {
        1
    }
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

/// Each message's outcome of a `handle_batch` call: its error and whether
/// it is permanent. A panic, or a result list of the wrong length (which
/// can't be matched to the messages), fails all of them retryably.
pub(crate) fn batch_results(
    outcome: Result<Vec<Result<(), HandlerError>>, tokio::task::JoinError>,
    count: usize,
) -> Vec<Result<(), (String, bool)>> {
    let failure = match outcome {
        Ok(results) if results.len() == count => {
            return results
                .into_iter()
                .map(|result| result.map_err(|err| (err.message, err.permanent)))
                .collect();
        }
        Ok(results) => format!(
            "handler returned {} results for a batch of {count}",
            results.len()
        ),
        Err(err) => format!("handler task failed: {err}"),
    };
    vec![Err((failure, false)); count]
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
