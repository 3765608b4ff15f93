//! The bus consumer: each event becomes its deliveries through the inbox,
//! then the worker is woken so the first attempt doesn't wait for the
//! timer.

use std::sync::Arc;

use async_trait::async_trait;
use callvault_bus::{EventHandler, HandlerError, Message};

use crate::service::WebhooksService;

pub(crate) struct WebhookConsumer {
    service: Arc<WebhooksService>,
}

impl WebhookConsumer {
    pub(crate) fn new(service: Arc<WebhooksService>) -> Self {
        Self { service }
    }
}

#[async_trait]
impl EventHandler for WebhookConsumer {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let outcome = self
            .service
            .accept(&message)
            .await
            .map_err(|e| HandlerError::retryable(e.message))?;
        if outcome.deliveries > 0 {
            self.service.wake();
        }
        Ok(())
    }
}
