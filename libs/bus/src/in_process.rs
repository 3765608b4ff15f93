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
//!
//! A batching handler ([`EventHandler::max_batch`] above 1) gets the
//! messages that queued up for its consumer while it was busy (several
//! publishers at once) in one [`EventHandler::handle_batch`] call, up to
//! its batch size; a message published to an idle consumer is a batch of
//! one. Each publisher still waits for its own message only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
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
///   matching message, one at a time and in publication order (a batching
///   handler: one batch at a time, in publication order).
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
    /// The handler's `max_batch` when it was subscribed, at least 1.
    max_batch: usize,
    /// Held while one message (a batching handler: one batch) is delivered
    /// with its retries, so the consumer sees its messages one at a time.
    /// tokio's mutex is fair: the messages are delivered in the order their
    /// publishers queued up.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// A batching handler's messages waiting for the turn, in the order
    /// they queued up. Whoever gets the turn takes the first `max_batch` of
    /// them. Every delivery adds one message and takes one turn, and a turn
    /// takes at least one waiting message while any is left, so none is
    /// left behind.
    waiting: Mutex<VecDeque<Waiting>>,
}

/// A message waiting for a batching handler, and its publisher.
struct Waiting {
    message: Message,
    /// Told once the message was handled or dead-lettered.
    done: oneshot::Sender<()>,
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
        let max_batch = handler.max_batch().max(1);
        consumers.push(Arc::new(Consumer {
            name: consumer.to_owned(),
            patterns: topics.iter().map(|topic| (*topic).to_owned()).collect(),
            handler,
            max_batch,
            turn,
            waiting: Mutex::default(),
        }));
        info!(consumer, topics = ?topics, max_batch, replaced = previous.is_some(), "consumer subscribed");
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
    /// dead-letters it once the attempts are used up. Returns once that is
    /// done.
    async fn deliver(self: Arc<Self>, consumer: Arc<Consumer>, message: Message) {
        if consumer.max_batch > 1 {
            self.deliver_in_batch(consumer, message).await;
            return;
        }
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
        self.dead_letter(&consumer.name, message);
    }

    /// [`Inner::deliver`] for a batching handler: queues `message`, and once
    /// this delivery has the turn hands the consumer's first waiting
    /// messages (this one, or earlier ones, and the ones queued behind) to
    /// the handler together. Returns once `message` was handled or
    /// dead-lettered, by this turn or another.
    async fn deliver_in_batch(self: Arc<Self>, consumer: Arc<Consumer>, message: Message) {
        let (done, handled) = oneshot::channel();
        lock(&consumer.waiting).push_back(Waiting { message, done });
        {
            let _turn = consumer.turn.lock().await;
            let batch: Vec<Waiting> = {
                let mut waiting = lock(&consumer.waiting);
                let taken = waiting.len().min(consumer.max_batch);
                waiting.drain(..taken).collect()
            };
            if !batch.is_empty() {
                self.deliver_batch(&consumer, batch).await;
            }
        }
        // Sent before the turn that took it ended: this returns at once
        // unless a later turn has it. Dropped unsent only if that turn's
        // task died, which must not hang the publisher either.
        let _ = handled.await;
    }

    /// Hands `batch` to the handler, and the messages that failed retryably
    /// again (in their order, with backoff) until each succeeded, failed
    /// permanently or used up its attempts; the last two are dead-lettered.
    /// Holding the turn throughout, as a single message's retries do.
    async fn deliver_batch(&self, consumer: &Consumer, mut batch: Vec<Waiting>) {
        let max_attempts = self.retry.max_attempts.max(1);
        let mut backoff = self.retry.initial_backoff;
        for attempt in 1..=max_attempts {
            let messages: Vec<Message> = batch.iter().map(|w| w.message.clone()).collect();
            let count = messages.len();
            let span = crate::trace::consumer_batch_span(&consumer.name, &messages);
            let handler = consumer.handler.clone();
            // Its own task, so a panicking handler fails the attempt of
            // every message in the batch.
            let outcome =
                tokio::spawn(async move { handler.handle_batch(messages).await }.instrument(span))
                    .await;
            let results = crate::batch_results(outcome, count);
            let mut failed = Vec::new();
            for (waiting, result) in batch.into_iter().zip(results) {
                let (error, permanent) = match result {
                    Ok(()) => {
                        let _ = waiting.done.send(());
                        continue;
                    }
                    Err(failure) => failure,
                };
                warn!(
                    consumer = %consumer.name,
                    topic = %waiting.message.topic,
                    message_id = %waiting.message.id,
                    attempt,
                    max_attempts,
                    permanent,
                    batch = count,
                    error = %error,
                    "event handler failed"
                );
                if permanent || attempt == max_attempts {
                    self.dead_letter(&consumer.name, waiting.message);
                    let _ = waiting.done.send(());
                } else {
                    failed.push(waiting);
                }
            }
            if failed.is_empty() {
                return;
            }
            batch = failed;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.retry.max_backoff);
        }
    }

    fn dead_letter(&self, consumer: &str, message: Message) {
        error!(
            consumer = %consumer,
            topic = %message.topic,
            message_id = %message.id,
            "message dead-lettered"
        );
        let mut dead_letters = lock(&self.dead_letters);
        if dead_letters.len() >= MAX_DEAD_LETTERS {
            dead_letters.pop_front();
        }
        dead_letters.push_back((consumer.to_owned(), message));
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
