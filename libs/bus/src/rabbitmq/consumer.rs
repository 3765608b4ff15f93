//! Delivering a consumer queue's messages to its handler.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Consumer};
use tracing::{Instrument, error, info, warn};
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
    /// the message being handled to be finished and acknowledged. Messages
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
    let task = tokio::spawn(run(
        channel.clone(),
        consumer,
        queue.clone(),
        handler,
        redelivery_delay,
    ));
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
async fn run(
    channel: Channel,
    mut consumer: Consumer,
    queue: String,
    handler: Arc<dyn EventHandler>,
    redelivery_delay: Duration,
) {
    while let Some(next) = consumer.next().await {
        let delivery = match next {
            Ok(delivery) => delivery,
            Err(err) => {
                warn!(queue = %queue, error = %err, "consumer interrupted, waiting for recovery");
                // lapin replays the channel, its prefetch and this consumer
                // on a new connection, and the stream carries on.
                if let Err(err) = channel.wait_for_recovery(err).await {
                    error!(queue = %queue, error = %err, "consumer stopped: recovery failed");
                    return;
                }
                info!(queue = %queue, "consumer recovered");
                continue;
            }
        };
        handle(&queue, &handler, delivery, redelivery_delay).await;
    }
    info!(queue = %queue, "consumer cancelled");
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
    Requeue,
    Reject,
}

/// A failed ack or nack means the channel went away: the broker hands the
/// message out again after recovery, and the consumer's inbox drops it if it
/// was handled.
async fn settle(queue: &str, delivery: &Delivery, outcome: Settle) {
    let result = match outcome {
        Settle::Ack => delivery.ack(BasicAckOptions::default()).await,
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
