//! The in-process bus every test gateway talks over, with a record of what
//! the gateway sent on it: each request (queue, operation, body) and each
//! event published. Nothing is faked: requests go on to whatever serves
//! the queue (a double, or the real billing service), events to whoever
//! subscribed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{Bus, BusError, EventHandler, Message, RequestHandler};
use callvault_contracts::Actor;
use serde_json::Value;

/// One request sent on the bus.
#[derive(Clone, Debug)]
pub struct Sent {
    pub queue: String,
    pub op: String,
    pub body: Value,
}

impl Sent {
    pub fn actor(&self) -> Option<Actor> {
        serde_json::from_value(self.body["actor"].clone()).ok()
    }
}

#[derive(Default)]
pub struct RecordingBus {
    inner: InProcessBus,
    sent: Mutex<Vec<Sent>>,
    published: Mutex<Vec<Message>>,
    /// Refuse every publish, as a bus that is down does.
    publish_fails: AtomicBool,
}

impl RecordingBus {
    /// The requests sent to `queue`, oldest first.
    pub fn sent_to(&self, queue: &str) -> Vec<Sent> {
        let sent = self.sent.lock().expect("lock");
        sent.iter().filter(|s| s.queue == queue).cloned().collect()
    }

    /// The operations sent to `queue`.
    pub fn ops_to(&self, queue: &str) -> Vec<String> {
        self.sent_to(queue).into_iter().map(|s| s.op).collect()
    }

    pub fn clear(&self) {
        self.sent.lock().expect("lock").clear();
    }

    /// The events published on `topic` (refused ones included), oldest
    /// first.
    pub fn published(&self, topic: &str) -> Vec<Message> {
        let published = self.published.lock().expect("lock");
        published
            .iter()
            .filter(|m| m.topic == topic)
            .cloned()
            .collect()
    }

    /// Waits up to two seconds for `count` events on `topic` (the gateway
    /// publishes off the request path), then answers them.
    pub async fn wait_for(&self, topic: &str, count: usize) -> Vec<Message> {
        for _ in 0..200 {
            let published = self.published(topic);
            if published.len() >= count {
                return published;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.published(topic)
    }

    pub fn fail_publishing(&self, fail: bool) {
        self.publish_fails.store(fail, Ordering::SeqCst);
    }
}

#[async_trait]
impl Bus for RecordingBus {
    async fn publish(&self, message: &Message) -> Result<(), BusError> {
        self.published.lock().expect("lock").push(message.clone());
        if self.publish_fails.load(Ordering::SeqCst) {
            return Err(BusError::Unavailable("the test bus refuses".into()));
        }
        self.inner.publish(message).await
    }

    async fn subscribe(
        &self,
        consumer: &str,
        topics: &[&str],
        handler: Arc<dyn EventHandler>,
    ) -> Result<(), BusError> {
        self.inner.subscribe(consumer, topics, handler).await
    }

    async fn request(
        &self,
        queue: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, BusError> {
        let envelope: Value = serde_json::from_slice(&body).unwrap_or_default();
        self.sent.lock().expect("lock").push(Sent {
            queue: queue.to_owned(),
            op: envelope["op"].as_str().unwrap_or_default().to_owned(),
            body: envelope["body"].clone(),
        });
        self.inner.request(queue, body, timeout).await
    }

    async fn serve(&self, queue: &str, handler: Arc<dyn RequestHandler>) -> Result<(), BusError> {
        self.inner.serve(queue, handler).await
    }
}
