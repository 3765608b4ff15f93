//! Delivering a consumer queue's messages to its handler.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Consumer};
use tracing::{Instrument, info, warn};
use uuid::Uuid;

use super::{short, unavailable};
use crate::{BusError, EventHandler, Message};

/// A running consumer: what `drain` needs to stop it and wait for it.
pub(super) struct Running {
    channel: Channel,
    tag: String,
    queue: String,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops deliveries to this consumer, then waits (up to `timeout`) for
    /// the message (or batch) being handled to be finished and
    /// acknowledged. Messages
    /// prefetched but not started go back to the queue when the channel
    /// closes, for another instance (or the next start) to handle.
    pub(super) async fn drain(self, timeout: Duration) {
        let Running {
            channel,
            tag,
            queue,
            task,
        } = self;
        if let Ok(tag) = short(&tag, "consumer tag")
            && let Err(err) = channel
                .basic_cancel(tag, lapin::options::BasicCancelOptions::default())
                .await
        {
            warn!(queue = %queue, error = %err, "could not cancel a consumer");
        }
        if tokio::time::timeout(timeout, task).await.is_err() {
            warn!(queue = %queue, "consumer still handling a message at shutdown");
        }
        let _ = channel.close(200, "draining".into()).await;
    }
}

/// Starts consuming `queue` (manual acks) and handling its messages in the
/// background.
pub(super) async fn start(
    channel: Channel,
    queue: String,
    handler: Arc<dyn EventHandler>,
    redelivery_delay: Duration,
) -> Result<Running, BusError> {
    let tag = format!("callvault-{}", Uuid::new_v4().simple());
    let consumer = channel
        .basic_consume(
            short(&queue, "queue name")?,
            short(&tag, "consumer tag")?,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(unavailable("failed to start consuming"))?;
    let task = tokio::spawn(run(consumer, queue.clone(), handler, redelivery_delay));
    Ok(Running {
        channel,
        tag,
        queue,
        task,
    })
}

/// One message at a time, each acknowledged (or sent back) before the next
/// is handled: that is the consumer's ordering guarantee. The prefetch only
/// saves round trips.
///
/// A batching handler (`max_batch` above 1) gets, with each delivery, the
/// deliveries already waiting behind it (prefetched, taken without
/// waiting), up to its batch size, in one `handle_batch` call; all of them
/// are settled before the next delivery is taken. A batch is never held
/// back to wait for more: a quiet queue gives batches of one.
async fn run(
    mut consumer: Consumer,
    queue: String,
    handler: Arc<dyn EventHandler>,
    redelivery_delay: Duration,
) {
    let max_batch = handler.max_batch().max(1);
    while let Some(next) = consumer.next().await {
        let delivery = match next {
            Ok(delivery) => delivery,
            Err(err) => {
                interrupted(&queue, &err);
                return;
            }
        };
        if max_batch == 1 {
            handle(&queue, &handler, delivery, redelivery_delay).await;
            continue;
        }
        let mut batch = vec![delivery];
        let mut interruption = None;
        let mut cancelled = false;
        while batch.len() < max_batch {
            // Only what is already here: polled once, never waited for.
            match consumer.next().now_or_never() {
                None => break,
                Some(Some(Ok(delivery))) => batch.push(delivery),
                Some(Some(Err(err))) => {
                    interruption = Some(err);
                    break;
                }
                Some(None) => {
                    cancelled = true;
                    break;
                }
            }
        }
        // What came before an interruption or the cancellation is handled
        // first, as the one delivery in hand would be.
        handle_batch(&queue, &handler, batch, redelivery_delay).await;
        if let Some(err) = interruption {
            interrupted(&queue, &err);
            return;
        }
        if cancelled {
            break;
        }
    }
    info!(queue = %queue, "consumer cancelled");
}

/// The consumer stream failed: its channel or connection is gone. The task
/// ends; the bus starts the consumer again on its next connection, and the
/// deliveries not acknowledged come back there.
fn interrupted(queue: &str, err: &lapin::Error) {
    warn!(queue = %queue, error = %err, "consumer interrupted; it restarts with the connection");
}

async fn handle(
    queue: &str,
    handler: &Arc<dyn EventHandler>,
    delivery: Delivery,
    redelivery_delay: Duration,
) {
    let message: Message = match serde_json::from_slice(&delivery.data) {
        Ok(message) => message,
        Err(err) => {
            // Redelivering it would fail the same way: straight to the
            // dead letters. The error names a position, never the content.
            warn!(
                queue,
                message_id = ?delivery.properties.message_id(),
                error = %err,
                "malformed message dead-lettered"
            );
            settle(queue, &delivery, Settle::Reject).await;
            return;
        }
    };
    let topic = message.topic.clone();
    let message_id = message.id;
    let attempt = previous_deliveries(&delivery) + 1;
    let (error, permanent) = match run_handler(queue, handler, message).await {
        Ok(()) => {
            settle(queue, &delivery, Settle::Ack).await;
            return;
        }
        Err(failure) => failure,
    };
    warn!(
        queue,
        topic = %topic,
        message_id = %message_id,
        attempt,
        permanent,
        error = %error,
        "event handler failed"
    );
    if permanent {
        // No delivery would do better: to the dead letters at once.
        settle(queue, &delivery, Settle::Reject).await;
        return;
    }
    tokio::time::sleep(redelivery_delay).await;
    // The quorum queue counts the returns and dead-letters the message past
    // its delivery limit.
    settle(queue, &delivery, Settle::Requeue).await;
}

/// A delivery of a batch, decoded, and what its log lines name.
struct Decoded {
    delivery: Delivery,
    topic: String,
    message_id: Uuid,
    attempt: u64,
}

/// [`handle`] for several deliveries at once: the malformed ones are
/// dead-lettered as there, the others go to `handle_batch` together, and
/// each is then settled in order by its own result, as `handle` settles
/// one. The redelivery delay is waited once, before the first requeue.
///
/// Consecutive successes are acknowledged with one `multiple` ack of the
/// last of them: every earlier delivery of this channel is settled by then
/// (batches are settled in order, one after the other) and the later ones
/// have higher tags, so it acknowledges exactly that run. Besides saving
/// frames, it spares the broker a burst of single acks, some of which
/// RabbitMQ 3.10's quorum queues were seen to lose when the channel closed
/// right after (a drain): the messages came back, already handled.
async fn handle_batch(
    queue: &str,
    handler: &Arc<dyn EventHandler>,
    deliveries: Vec<Delivery>,
    redelivery_delay: Duration,
) {
    let mut decoded = Vec::with_capacity(deliveries.len());
    let mut messages = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        match serde_json::from_slice::<Message>(&delivery.data) {
            Ok(message) => {
                decoded.push(Decoded {
                    topic: message.topic.clone(),
                    message_id: message.id,
                    attempt: previous_deliveries(&delivery) + 1,
                    delivery,
                });
                messages.push(message);
            }
            Err(err) => {
                warn!(
                    queue,
                    message_id = ?delivery.properties.message_id(),
                    error = %err,
                    "malformed message dead-lettered"
                );
                settle(queue, &delivery, Settle::Reject).await;
            }
        }
    }
    if messages.is_empty() {
        return;
    }
    let count = messages.len();
    let handler = handler.clone();
    let span = crate::trace::consumer_batch_span(queue, &messages);
    // Its own task, so a panic fails every message of the batch
    // (retryably) instead of ending the consumer.
    let outcome =
        tokio::spawn(async move { handler.handle_batch(messages).await }.instrument(span)).await;
    let results = crate::batch_results(outcome, count);
    let mut delayed = false;
    // The last success of the current run, not acknowledged yet.
    let mut acked_through: Option<Delivery> = None;
    for (decoded, result) in decoded.into_iter().zip(results) {
        let (error, permanent) = match result {
            Ok(()) => {
                acked_through = Some(decoded.delivery);
                continue;
            }
            Err(failure) => failure,
        };
        if let Some(last) = acked_through.take() {
            settle(queue, &last, Settle::AckThrough).await;
        }
        warn!(
            queue,
            topic = %decoded.topic,
            message_id = %decoded.message_id,
            attempt = decoded.attempt,
            permanent,
            batch = count,
            error = %error,
            "event handler failed"
        );
        if permanent {
            settle(queue, &decoded.delivery, Settle::Reject).await;
            continue;
        }
        if !delayed {
            tokio::time::sleep(redelivery_delay).await;
            delayed = true;
        }
        settle(queue, &decoded.delivery, Settle::Requeue).await;
    }
    if let Some(last) = acked_through {
        settle(queue, &last, Settle::AckThrough).await;
    }
}

/// Runs the handler in its own task, so a panic counts as a (retryable)
/// failure instead of ending the consumer. The error, and whether it is
/// permanent.
async fn run_handler(
    queue: &str,
    handler: &Arc<dyn EventHandler>,
    message: Message,
) -> Result<(), (String, bool)> {
    let handler = handler.clone();
    let span = crate::trace::consumer_span(queue, &message);
    match tokio::spawn(async move { handler.handle(message).await }.instrument(span)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err((err.message, err.permanent)),
        Err(err) => Err((format!("handler task failed: {err}"), false)),
    }
}

/// Quorum queues count earlier deliveries in `x-delivery-count`.
fn previous_deliveries(delivery: &Delivery) -> u64 {
    let Some(headers) = delivery.properties.headers() else {
        return 0;
    };
    match headers.inner().get("x-delivery-count") {
        Some(AMQPValue::LongLongInt(count)) => u64::try_from(*count).unwrap_or_default(),
        Some(AMQPValue::LongInt(count)) => u64::try_from(*count).unwrap_or_default(),
        Some(AMQPValue::LongUInt(count)) => u64::from(*count),
        _ => 0,
    }
}

enum Settle {
    Ack,
    /// This delivery and every earlier unsettled one of the channel.
    AckThrough,
    Requeue,
    Reject,
}

/// A failed ack or nack means the channel went away: the broker hands the
/// message out again on the next connection, and the consumer's inbox drops it if it
/// was handled.
async fn settle(queue: &str, delivery: &Delivery, outcome: Settle) {
    let result = match outcome {
        Settle::Ack => delivery.ack(BasicAckOptions::default()).await,
        Settle::AckThrough => delivery.ack(BasicAckOptions { multiple: true }).await,
        Settle::Requeue => {
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
        }
        Settle::Reject => {
            delivery
                .nack(BasicNackOptions {
                    requeue: false,
                    ..BasicNackOptions::default()
                })
                .await
        }
    };
    if let Err(err) = result {
        warn!(queue, error = %err, "failed to settle delivery");
    }
}
