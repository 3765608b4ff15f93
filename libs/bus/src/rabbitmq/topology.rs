//! Declaring (and, for tests, deleting) exchanges and queues.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lapin::options::{
    BasicQosOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ExchangeKind};
use tracing::warn;

use super::{RabbitMqOptions, unavailable};
use crate::BusError;

/// What this bus declared, so tests can remove it again. AMQP has no way to
/// list queues.
#[derive(Default)]
pub(super) struct Declared {
    exchanges: Mutex<BTreeSet<String>>,
    queues: Mutex<BTreeSet<String>>,
}

impl Declared {
    fn exchange(&self, name: &str) {
        lock(&self.exchanges).insert(name.to_owned());
    }

    fn queue(&self, name: &str) {
        lock(&self.queues).insert(name.to_owned());
    }
}

/// AMQP names and routing keys are short strings; lapin panics on longer
/// ones, so they are checked here.
pub(super) fn short(value: &str, what: &str) -> Result<ShortString, BusError> {
    ShortString::try_new(value)
        .map_err(|_| BusError::Malformed(format!("{what} longer than 255 bytes")))
}

pub(super) async fn declare_exchanges(
    connection: &Connection,
    options: &RabbitMqOptions,
    declared: &Declared,
) -> Result<(), BusError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(unavailable("failed to open a channel"))?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for (name, kind) in [
        (&options.exchange, ExchangeKind::Topic),
        (&options.dead_letter_exchange, ExchangeKind::Direct),
    ] {
        channel
            .exchange_declare(
                short(name, "exchange")?,
                kind,
                durable,
                FieldTable::default(),
            )
            .await
            .map_err(unavailable("failed to declare an exchange"))?;
        declared.exchange(name);
    }
    close_quietly(&channel).await;
    Ok(())
}

/// A channel of its own per consumer and served queue: the prefetch is per
/// channel, and a channel error (say, a queue deleted under it) stays local.
pub(super) async fn open_consumer_channel(
    connection: &Connection,
    prefetch: u16,
) -> Result<Channel, BusError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(unavailable("failed to open a channel"))?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(unavailable("failed to set the prefetch"))?;
    Ok(channel)
}

/// The prefetch of a consumer whose handler takes up to `max_batch`
/// messages at once: the configured one, but at least two batches, so a
/// whole batch can be waiting in the channel while the previous one is
/// handled (a batch only takes deliveries that are already there, and the
/// broker sends the next ones only as the last ones are acknowledged).
/// A batch is bounded by the prefetch: at most that many deliveries are
/// unacknowledged at once.
pub(super) fn consumer_prefetch(configured: u16, max_batch: usize) -> u16 {
    if max_batch <= 1 {
        return configured;
    }
    let batches = u16::try_from(max_batch.saturating_mul(2)).unwrap_or(u16::MAX);
    configured.max(batches)
}

/// Declares a consumer's quorum queue, its dead-letter queue, and binds the
/// first with every topic pattern.
pub(super) async fn declare_consumer(
    channel: &Channel,
    options: &RabbitMqOptions,
    queue: &str,
    dead_letters: &str,
    topics: &[&str],
    declared: &Declared,
) -> Result<(), BusError> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(short(dead_letters, "queue name")?, durable, quorum())
        .await
        .map_err(unavailable("failed to declare a dead-letter queue"))?;
    declared.queue(dead_letters);
    channel
        .queue_bind(
            short(dead_letters, "queue name")?,
            short(&options.dead_letter_exchange, "exchange")?,
            short(queue, "queue name")?,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(unavailable("failed to bind a dead-letter queue"))?;

    channel
        .queue_declare(
            short(queue, "queue name")?,
            durable,
            consumer_queue_arguments(options, queue),
        )
        .await
        .map_err(unavailable("failed to declare a consumer queue"))?;
    declared.queue(queue);
    for topic in topics {
        channel
            .queue_bind(
                short(queue, "queue name")?,
                short(&options.exchange, "exchange")?,
                short(topic, "topic")?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(unavailable("failed to bind a consumer queue"))?;
    }
    Ok(())
}

/// The arguments of a consumer queue. They must be the same on every
/// declaration: RabbitMQ refuses a redeclaration with other ones.
fn consumer_queue_arguments(options: &RabbitMqOptions, queue: &str) -> FieldTable {
    let mut arguments = quorum();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(options.dead_letter_exchange.as_str().into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(queue.into()),
    );
    arguments.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(i32::try_from(options.delivery_limit).unwrap_or(i32::MAX)),
    );
    arguments
}

fn quorum() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments
}

/// Request queues are classic, non-durable and auto-deleted: a request
/// outlives neither its caller's timeout nor the last server, and with no
/// server left the queue goes away, so callers get `NoSuchQueue` at once
/// instead of a timeout. The bus declares it again on a new connection.
pub(super) async fn declare_request_queue(
    channel: &Channel,
    queue: &str,
    declared: &Declared,
) -> Result<(), BusError> {
    let options = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(short(queue, "queue name")?, options, FieldTable::default())
        .await
        .map_err(unavailable("failed to declare a request queue"))?;
    declared.queue(queue);
    Ok(())
}

/// Deletes what was declared, carrying on past failures so one stuck queue
/// does not leave the rest behind; reports the first failure.
pub(super) async fn delete(connection: &Connection, declared: &Declared) -> Result<(), BusError> {
    let queues: Vec<String> = lock(&declared.queues).iter().cloned().collect();
    let exchanges: Vec<String> = lock(&declared.exchanges).iter().cloned().collect();
    let mut first_error = None;
    for queue in &queues {
        // A channel each: a failed delete closes its channel.
        let outcome = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(unavailable("failed to open a channel"))?;
            channel
                .queue_delete(short(queue, "queue name")?, QueueDeleteOptions::default())
                .await
                .map_err(unavailable("failed to delete a queue"))?;
            close_quietly(&channel).await;
            Ok::<_, BusError>(())
        }
        .await;
        match outcome {
            Ok(()) => {
                lock(&declared.queues).remove(queue);
            }
            Err(err) => {
                warn!(queue = %queue, error = %err, "failed to delete queue");
                first_error.get_or_insert(err);
            }
        }
    }
    for exchange in &exchanges {
        let outcome = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(unavailable("failed to open a channel"))?;
            channel
                .exchange_delete(
                    short(exchange, "exchange")?,
                    ExchangeDeleteOptions::default(),
                )
                .await
                .map_err(unavailable("failed to delete an exchange"))?;
            close_quietly(&channel).await;
            Ok::<_, BusError>(())
        }
        .await;
        match outcome {
            Ok(()) => {
                lock(&declared.exchanges).remove(exchange);
            }
            Err(err) => {
                warn!(exchange = %exchange, error = %err, "failed to delete exchange");
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// Ready messages in `queue`, by a passive declare on a channel of its own
/// (a passive declare of a missing queue closes its channel).
pub(super) async fn queue_depth(connection: &Connection, queue: &str) -> Result<u32, BusError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(unavailable("failed to open a channel"))?;
    let declared = channel
        .queue_declare(
            short(queue, "queue name")?,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(unavailable("failed to inspect a queue"))?;
    close_quietly(&channel).await;
    Ok(declared.message_count())
}

/// Closing a short-lived channel can only fail if it is already gone.
async fn close_quietly(channel: &Channel) {
    if let Err(err) = channel.close(200, "done".into()).await {
        warn!(error = %err, "failed to close channel");
    }
}

/// A poisoned lock only means another task panicked mid-insert of a name.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
