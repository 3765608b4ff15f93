//! Event handlers that record what they get, and waiting helpers.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::{EventHandler, HandlerError, Message};
use chrono::Utc;
use uuid::Uuid;

/// How long a test waits for something asynchronous before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Records every delivery; fails the first `failures` of them (all of them
/// with `u32::MAX`).
#[derive(Default)]
pub struct Recorder {
    failures: u32,
    /// Its failures say no delivery will ever succeed.
    permanent: bool,
    attempts: AtomicU32,
    received: Mutex<Vec<Message>>,
}

impl Recorder {
    pub fn failing(failures: u32) -> Self {
        Recorder {
            failures,
            ..Recorder::default()
        }
    }

    /// Fails every delivery, saying it always will: a poison message.
    pub fn poisoned() -> Self {
        Recorder {
            failures: u32::MAX,
            permanent: true,
            ..Recorder::default()
        }
    }

    /// Every delivery so far, failed ones included.
    pub fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::SeqCst)
    }

    /// The messages handled successfully, in order.
    pub fn received(&self) -> Vec<Message> {
        self.received.lock().expect("recorder lock").clone()
    }

    /// Waits until `count` messages were handled; panics after [`PATIENCE`].
    pub async fn wait_for(&self, count: usize) -> Vec<Message> {
        eventually(&format!("{count} messages handled"), || {
            self.received().len() >= count
        })
        .await;
        self.received()
    }

    /// Waits until each of `messages` was handled (at least once: after a
    /// lost connection a message may come again, since its ack may have
    /// been lost with it); panics after [`PATIENCE`].
    pub async fn wait_for_each(&self, messages: &[&Message]) -> Vec<Message> {
        eventually(
            &format!("{} given messages handled", messages.len()),
            || {
                let received = self.received();
                messages.iter().all(|message| received.contains(message))
            },
        )
        .await;
        self.received()
    }
}

#[async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if attempt <= self.failures {
            let failure = format!("scripted failure {attempt}");
            if self.permanent {
                return Err(HandlerError::permanent(failure));
            }
            return Err(HandlerError::retryable(failure));
        }
        self.received.lock().expect("recorder lock").push(message);
        Ok(())
    }
}

/// Polls `condition` until it holds; panics naming `what` after [`PATIENCE`].
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A message on `topic` whose payload names `n`, so tests can tell
/// messages apart and check payloads arrive intact.
pub fn message(topic: &str, n: u32) -> Message {
    Message {
        id: Uuid::new_v4(),
        topic: topic.to_owned(),
        version: 1,
        occurred_at: Utc::now(),
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
        tracestate: Some("vendor=opaque".to_owned()),
        payload: serde_json::json!({ "n": n, "nested": { "list": [1, 2, 3], "text": "héllo" } }),
    }
}

/// A topic no other test uses, so suites can share one bus.
pub fn unique_topic(case: &str) -> String {
    format!("test.{}.{case}", Uuid::new_v4().simple())
}
