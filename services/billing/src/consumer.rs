//! The bus consumer: every metered event, counted through the inbox.

use std::sync::Arc;

use async_trait::async_trait;
use callvault_bus::{EventHandler, HandlerError, Message};

use crate::service::BillingService;

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
}
