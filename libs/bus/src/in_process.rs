//! The embedded mode's bus: tokio tasks in one process.
//!
//! [`Bus::publish`] returns only once every subscribed consumer's handler
//! has processed the message (or the message was dead-lettered for that
//! consumer). The outbox relay marks a row sent only after `publish`
//! returned, so a row is marked sent only once its effects are committed in
//! every consumer: a crash in between means the row is published again on
//! restart, and the consumers' inboxes drop the duplicate. That is what
//! makes the embedded mode as crash-safe as RabbitMQ's durable queues,
//! without a broker.
//!
//! A consequence: a handler must not publish, and wait for, a message its
//! own consumer subscribes to (it would wait for itself). Handlers write the
//! events they emit to their outbox instead, as everywhere else.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tracing::{Instrument, error, info, warn};

use crate::{Bus, BusError, EventHandler, Message, RequestHandler};

/// Dead letters kept in memory, oldest dropped first: enough to inspect a
/// failing consumer without letting a broken one eat the process's memory.
const MAX_DEAD_LETTERS: usize = 10_000;

/// How deliveries to a failing handler are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deliveries of one message to one consumer before it is
    /// dead-lettered (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failure; doubles after each further one.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// About 11 s of retries before a message is dead-lettered: long enough
    /// to ride out a SQLite writer holding the lock (5 s busy timeout) or a
    /// dependency restarting. Dead letters here live in memory only, so
    /// giving up early would lose the event.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// An in-process [`Bus`]. Clones share the same subscriptions and queues.
///
/// - Topics are matched like a RabbitMQ topic exchange: words separated by
///   dots, `*` matches exactly one word, `#` zero or more.
/// - Consumers are independent: each subscribed consumer gets every
///   matching message, one at a time and in publication order.
/// - Subscribing a consumer name again replaces its topics and handler
///   (a service restarted in the same process); messages already being
///   delivered to the old handler finish first.
/// - Serving a queue more than once adds a handler: requests go round-robin
///   across them, like competing consumers of one RabbitMQ queue.
/// - A request that times out is not cancelled: its handler runs to the
///   end, as a remote server would.
#[derive(Clone, Default)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    retry: RetryPolicy,
    consumers: Mutex<Vec<Arc<Consumer>>>,
    queues: Mutex<HashMap<String, Queue>>,
    dead_letters: Mutex<VecDeque<(String, Message)>>,
}

struct Consumer {
    name: String,
    patterns: Vec<String>,
    handler: Arc<dyn EventHandler>,
    /// Held while one message is delivered (with its retries), so the
    /// consumer sees its messages one at a time. tokio's mutex is fair: the
    /// messages are delivered in the order their publishers queued up.
    turn: Arc<tokio::sync::Mutex<()>>,
}

struct Queue {
    handlers: Vec<Arc<dyn RequestHandler>>,
    next: usize,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_retry_policy(retry: RetryPolicy) -> Self {
        InProcessBus {
            inner: Arc::new(Inner {
                retry,
                ..Inner::default()
            }),
        }
    }

    /// The messages each consumer gave up on, as `(consumer, message)`,
    /// oldest first.
    pub fn dead_letters(&self) -> Vec<(String, Message)> {
        lock(&self.inner.dead_letters).iter().cloned().collect()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, message: &Message) -> Result<(), BusError> {
        let targets: Vec<Arc<Consumer>> = lock(&self.inner.consumers)
            .iter()
            .filter(|consumer| {
                consumer
                    .patterns
                    .iter()
                    .any(|pattern| topic_matches(pattern, &message.topic))
            })
            .cloned()
            .collect();
        // One task per consumer: they make progress side by side, and a
        // publisher that gives up waiting (the relay shutting down) does not
        // cut a delivery short.
        let deliveries: Vec<_> = targets
            .into_iter()
            .map(|consumer| tokio::spawn(self.inner.clone().deliver(consumer, message.clone())))
            .collect();
        for delivery in deliveries {
            if let Err(err) = delivery.await {
                return Err(BusError::Unavailable(format!(
                    "delivery task failed: {err}"
                )));
            }
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        consumer: &str,
        topics: &[&str],
        handler: Arc<dyn EventHandler>,
    ) -> Result<(), BusError> {
        let mut consumers = lock(&self.inner.consumers);
        let previous = consumers
            .iter()
            .position(|existing| existing.name == consumer);
        let turn = match previous {
            Some(index) => consumers.remove(index).turn.clone(),
            None => Arc::new(tokio::sync::Mutex::new(())),
        };
        consumers.push(Arc::new(Consumer {
            name: consumer.to_owned(),
            patterns: topics.iter().map(|topic| (*topic).to_owned()).collect(),
            handler,
            turn,
        }));
        info!(consumer, topics = ?topics, replaced = previous.is_some(), "consumer subscribed");
        Ok(())
    }

    async fn request(
        &self,
        queue: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, BusError> {
        let handler = {
            let mut queues = lock(&self.inner.queues);
            let Some(served) = queues.get_mut(queue) else {
                return Err(BusError::NoSuchQueue(queue.to_owned()));
            };
            let index = served.next % served.handlers.len();
            served.next = served.next.wrapping_add(1);
            served.handlers[index].clone()
        };
        // Its own task, so a panicking handler fails this request only.
        let reply = tokio::spawn(async move { handler.handle(body).await });
        match tokio::time::timeout(timeout, reply).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(err)) => Err(BusError::Unavailable(format!(
                "handler of queue {queue} failed: {err}"
            ))),
            Err(_) => Err(BusError::Timeout {
                queue: queue.to_owned(),
                timeout,
            }),
        }
    }

    async fn serve(&self, queue: &str, handler: Arc<dyn RequestHandler>) -> Result<(), BusError> {
        let mut queues = lock(&self.inner.queues);
        let served = queues.entry(queue.to_owned()).or_insert_with(|| Queue {
            handlers: Vec::new(),
            next: 0,
        });
        served.handlers.push(handler);
        info!(queue, handlers = served.handlers.len(), "serving queue");
        Ok(())
    }
}

impl Inner {
    /// Delivers `message` to `consumer`, retrying with backoff, and
    /// dead-letters it once the attempts are used up.
    async fn deliver(self: Arc<Self>, consumer: Arc<Consumer>, message: Message) {
        let _turn = consumer.turn.lock().await;
        let max_attempts = self.retry.max_attempts.max(1);
        let mut backoff = self.retry.initial_backoff;
        for attempt in 1..=max_attempts {
            let handler = consumer.handler.clone();
            let delivery = message.clone();
            let span = crate::trace::consumer_span(&consumer.name, &message);
            // Its own task, so a panicking handler counts as a failed attempt.
            let outcome =
                tokio::spawn(async move { handler.handle(delivery).await }.instrument(span)).await;
            let (error, permanent) = match outcome {
                Ok(Ok(())) => return,
                Ok(Err(err)) => (err.message, err.permanent),
                Err(err) => (format!("handler task failed: {err}"), false),
            };
            warn!(
                consumer = %consumer.name,
                topic = %message.topic,
                message_id = %message.id,
                attempt,
                max_attempts,
                permanent,
                error = %error,
                "event handler failed"
            );
            if permanent {
                break;
            }
            if attempt < max_attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.retry.max_backoff);
            }
        }
        error!(
            consumer = %consumer.name,
            topic = %message.topic,
            message_id = %message.id,
            "message dead-lettered"
        );
        let mut dead_letters = lock(&self.dead_letters);
        if dead_letters.len() >= MAX_DEAD_LETTERS {
            dead_letters.pop_front();
        }
        dead_letters.push_back((consumer.name.clone(), message));
    }
}

/// Whether `topic` matches the binding `pattern`, as on a RabbitMQ topic
/// exchange: `*` is exactly one word, `#` zero or more.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let topic: Vec<&str> = topic.split('.').collect();
    words_match(&pattern, &topic)
}

fn words_match(pattern: &[&str], topic: &[&str]) -> bool {
    let Some((first, rest)) = pattern.split_first() else {
        return topic.is_empty();
    };
    match *first {
        "#" => (0..=topic.len()).any(|skipped| words_match(rest, &topic[skipped..])),
        "*" => !topic.is_empty() && words_match(rest, &topic[1..]),
        word => topic.first() == Some(&word) && words_match(rest, &topic[1..]),
    }
}

/// A poisoned lock only means another task panicked mid-update of a plain
/// list; the list itself is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
