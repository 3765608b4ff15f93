//! Event handlers that record what they get, and waiting helpers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::{EventHandler, HandlerError, Message};
use chrono::Utc;
use tokio::sync::watch;
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

/// The number a test message was made with ([`message`]).
pub fn number(message: &Message) -> u32 {
    message.payload["n"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(u32::MAX)
}

/// The numbers of `messages`, in order.
pub fn numbers(messages: &[Message]) -> Vec<u32> {
    messages.iter().map(number).collect()
}

/// Holds a handler's first call until the test opens it: the consumer is
/// busy while more messages queue up behind.
pub struct Gate(watch::Sender<bool>);

impl Gate {
    pub fn closed() -> Self {
        Gate(watch::Sender::new(false))
    }

    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn pass(&self) {
        let mut opened = self.0.subscribe();
        // The sender lives as long as the gate: this can't fail.
        let _ = opened.wait_for(|open| *open).await;
    }
}

/// A batching handler ([`EventHandler::max_batch`] above 1) that records
/// every call, waits at the [`Gate`] in its first, and fails (or panics on)
/// the messages the test scripts, by their number.
pub struct Batcher {
    max_batch: usize,
    pub gate: Gate,
    /// Fail retryably on their first delivery.
    failing_once: BTreeSet<u32>,
    /// Fail permanently, every time.
    poisoned: BTreeSet<u32>,
    /// The first call holding one of these panics.
    panicking_once: BTreeSet<u32>,
    panicked: Mutex<bool>,
    calls: Mutex<Vec<Vec<Message>>>,
    attempts: Mutex<BTreeMap<u32, u32>>,
    received: Recorder,
}

impl Batcher {
    pub fn new(max_batch: usize) -> Self {
        Batcher {
            max_batch,
            gate: Gate::closed(),
            failing_once: BTreeSet::new(),
            poisoned: BTreeSet::new(),
            panicking_once: BTreeSet::new(),
            panicked: Mutex::new(false),
            calls: Mutex::default(),
            attempts: Mutex::default(),
            received: Recorder::default(),
        }
    }

    pub fn failing_once(mut self, n: u32) -> Self {
        self.failing_once.insert(n);
        self
    }

    pub fn poisoned(mut self, n: u32) -> Self {
        self.poisoned.insert(n);
        self
    }

    pub fn panicking_once(mut self, n: u32) -> Self {
        self.panicking_once.insert(n);
        self
    }

    /// The numbers of the messages of each `handle_batch` call so far.
    pub fn calls(&self) -> Vec<Vec<u32>> {
        self.calls
            .lock()
            .expect("calls lock")
            .iter()
            .map(|call| numbers(call))
            .collect()
    }

    /// How often message `n` was handed over.
    pub fn attempts(&self, n: u32) -> u32 {
        self.attempts
            .lock()
            .expect("attempts lock")
            .get(&n)
            .copied()
            .unwrap_or(0)
    }

    /// The messages handled successfully, in order.
    pub fn received(&self) -> Vec<Message> {
        self.received.received()
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Message> {
        self.received.wait_for(count).await
    }

    /// Waits until the handler is inside its `calls`-th call (or later).
    pub async fn wait_for_call(&self, calls: usize) {
        eventually(&format!("handle_batch call {calls}"), || {
            self.calls.lock().expect("calls lock").len() >= calls
        })
        .await;
    }
}

#[async_trait]
impl EventHandler for Batcher {
    async fn handle(&self, _message: Message) -> Result<(), HandlerError> {
        panic!("a batching handler gets its messages through handle_batch");
    }

    async fn handle_batch(&self, messages: Vec<Message>) -> Vec<Result<(), HandlerError>> {
        let first = {
            let mut calls = self.calls.lock().expect("calls lock");
            calls.push(messages.clone());
            calls.len() == 1
        };
        if first {
            self.gate.pass().await;
        }
        let mut attempts = Vec::with_capacity(messages.len());
        for message in &messages {
            let n = number(message);
            let mut counts = self.attempts.lock().expect("attempts lock");
            let count = counts.entry(n).or_default();
            *count += 1;
            attempts.push(*count);
        }
        let panics = messages
            .iter()
            .any(|message| self.panicking_once.contains(&number(message)))
            && !std::mem::replace(&mut *self.panicked.lock().expect("panicked lock"), true);
        if panics {
            panic!("scripted panic in a batch");
        }
        let mut results = Vec::with_capacity(messages.len());
        for (message, attempt) in messages.into_iter().zip(attempts) {
            let n = number(&message);
            results.push(if self.poisoned.contains(&n) {
                Err(HandlerError::permanent(format!("{n} is poison")))
            } else if self.failing_once.contains(&n) && attempt == 1 {
                Err(HandlerError::retryable(format!("{n} fails once")))
            } else {
                self.received.handle(message).await
            });
        }
        results
    }

    fn max_batch(&self) -> usize {
        self.max_batch
    }
}

/// A handler that does not batch (`max_batch` left at 1) but would notice
/// `handle_batch` being called: it must get every message through
/// `handle`, one call each. Waits at the [`Gate`] in its first call.
pub struct Single {
    pub gate: Gate,
    calls: AtomicU32,
    batch_calls: AtomicU32,
    running: AtomicU32,
    overlapped: AtomicU32,
    received: Recorder,
}

impl Single {
    pub fn new() -> Self {
        Single {
            gate: Gate::closed(),
            calls: AtomicU32::new(0),
            batch_calls: AtomicU32::new(0),
            running: AtomicU32::new(0),
            overlapped: AtomicU32::new(0),
            received: Recorder::default(),
        }
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn batch_calls(&self) -> u32 {
        self.batch_calls.load(Ordering::SeqCst)
    }

    /// Calls that began while another was still running.
    pub fn overlapped(&self) -> u32 {
        self.overlapped.load(Ordering::SeqCst)
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Message> {
        self.received.wait_for(count).await
    }
}

#[async_trait]
impl EventHandler for Single {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        if self.running.fetch_add(1, Ordering::SeqCst) > 0 {
            self.overlapped.fetch_add(1, Ordering::SeqCst);
        }
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.gate.pass().await;
        }
        let handled = self.received.handle(message).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        handled
    }

    async fn handle_batch(&self, messages: Vec<Message>) -> Vec<Result<(), HandlerError>> {
        self.batch_calls.fetch_add(1, Ordering::SeqCst);
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.handle(message).await);
        }
        results
    }
}

/// Counts how `handle` is called, for a handler that asks for batches but
/// leaves `handle_batch` to its default; waits at the [`Gate`] in its first
/// call.
pub struct DefaultBatch {
    pub gate: Gate,
    calls: AtomicU32,
    received: Recorder,
}

impl DefaultBatch {
    pub fn new() -> Self {
        DefaultBatch {
            gate: Gate::closed(),
            calls: AtomicU32::new(0),
            received: Recorder::default(),
        }
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Message> {
        self.received.wait_for(count).await
    }
}

#[async_trait]
impl EventHandler for DefaultBatch {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            self.gate.pass().await;
        }
        self.received.handle(message).await
    }

    fn max_batch(&self) -> usize {
        10
    }
}
