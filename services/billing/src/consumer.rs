//! The bus consumer: every metered event, counted through the inbox.
//!
//! It takes the events waiting in its queue in batches (up to
//! [`MAX_BATCH`]) and counts each batch in one transaction: a commit per
//! event would cap the intake at a few hundred events a second on
//! PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use callvault_bus::{EventHandler, HandlerError, Message};
use callvault_contracts::metadata_api::ErrorCode;

use crate::service::BillingService;

/// Events counted in one transaction at most. Also sets the consumer's
/// prefetch on RabbitMQ (twice this).
pub(crate) const MAX_BATCH: usize = 500;

/// Counts the metered events the bus delivers
/// ([`crate::intake::CONSUMER`], [`crate::intake::TOPICS`]).
pub(crate) struct UsageConsumer {
    service: Arc<BillingService>,
}

impl UsageConsumer {
    pub(crate) fn new(service: Arc<BillingService>) -> Self {
        Self { service }
    }
}

#[async_trait]
impl EventHandler for UsageConsumer {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        // An unreadable payload is counted as such and acknowledged by
        // `record`; only the database failing makes a delivery fail.
        self.service
            .record(std::slice::from_ref(&message))
            .await
            .map(|_| ())
            .map_err(|e| HandlerError::retryable(e.message))
    }

    /// One transaction for the whole batch: either every message is
    /// counted (or recognised as a duplicate, or as unreadable) and
    /// acknowledged, or the transaction rolled back and nothing was
    /// counted. Then:
    ///
    /// - the database unavailable: every message fails (retryably), to be
    ///   redelivered;
    /// - any other failure may be one message's doing (a value the
    ///   database refuses): each message is counted again in a transaction
    ///   of its own, so only the one that fails alone is redelivered — and,
    ///   failing every time, dead-lettered — exactly as without batches,
    ///   instead of taking the whole batch with it.
    async fn handle_batch(&self, messages: Vec<Message>) -> Vec<Result<(), HandlerError>> {
        let failure = match self.service.record(&messages).await {
            Ok(_) => return messages.iter().map(|_| Ok(())).collect(),
            Err(e) => e,
        };
        if failure.code == ErrorCode::Unavailable || messages.len() == 1 {
            return messages
                .iter()
                .map(|_| Err(HandlerError::retryable(failure.message.clone())))
                .collect();
        }
        tracing::warn!(
            batch = messages.len(),
            error = %failure.message,
            "a batch of events failed: counting them one by one"
        );
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.handle(message).await);
        }
        results
    }

    fn max_batch(&self) -> usize {
        MAX_BATCH
    }
}
