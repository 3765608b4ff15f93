//! The distributed mode's bus: RabbitMQ through lapin.
//!
//! Topology, all names under [`RabbitMqOptions::name_prefix`]:
//! - events go to a durable topic exchange ([`RabbitMqOptions::exchange`]);
//! - each consumer owns a durable quorum queue `<prefix><consumer>` bound
//!   with its topic patterns, with an explicit `x-delivery-limit` (Debian's
//!   3.10 has no default) and a dead-letter exchange;
//! - what a consumer gives up on lands in its own quorum queue
//!   `<prefix><consumer>.dead`, bound on the dead-letter exchange (direct)
//!   with the consumer queue's name as routing key, so consumers never see
//!   each other's dead letters;
//! - requests go through the default exchange to `<prefix>rpc.<queue>`, and
//!   replies come back on RabbitMQ's direct reply-to.
//!
//! Queue arguments never change between declarations: RabbitMQ closes the
//! channel of a redeclaration with other arguments. Changing the delivery
//! limit of an existing deployment therefore takes a policy or a new queue.

mod consumer;
mod rpc;
mod topology;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tracing::{info, warn};

use crate::{Bus, BusError, EventHandler, Message, RequestHandler};
use topology::{Declared, short};

/// Persistent messages survive a broker restart (AMQP delivery mode 2).
const PERSISTENT: u8 = 2;

/// Reconnection backoff: about ten minutes of attempts, at most 5 s apart.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(100);
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(5);
const RECONNECT_ATTEMPTS: usize = 120;

#[derive(Clone, Debug)]
pub struct RabbitMqOptions {
    /// The topic exchange events are published to.
    pub exchange: String,
    /// Where consumers' failed messages go, routed to `<consumer>.dead`.
    pub dead_letter_exchange: String,
    /// Unacknowledged deliveries the broker sends ahead, per consumer and
    /// per served queue (which also bounds concurrent requests served). A
    /// consumer whose handler batches gets at least twice its
    /// `max_batch`, so a whole batch can be waiting while the previous one
    /// is handled.
    pub prefetch: u16,
    /// `x-delivery-limit` of consumer queues: failed deliveries of a message
    /// before it is dead-lettered. A message is delivered at most
    /// `delivery_limit + 1` times.
    pub delivery_limit: u32,
    /// Prepended to every queue name, so several deployments (or tests)
    /// share one vhost without meeting.
    pub name_prefix: String,
    /// Wait after a handler failed before the message goes back to the
    /// queue: without it the attempts burn out within milliseconds and a
    /// short outage of a dependency dead-letters everything.
    pub redelivery_delay: Duration,
    /// Shown in the management UI and by `rabbitmqctl list_connections`.
    pub connection_name: String,
    /// Bounds [`RabbitMqBus::connect`]: lapin retries a refused connection
    /// with the same backoff it uses to recover one, which would otherwise
    /// keep a process starting against a missing broker waiting for minutes.
    pub connect_timeout: Duration,
    /// Bounds the wait for a publisher confirm. A message published just as
    /// the connection drops is confirmed by nobody; past this the publish
    /// fails `Unavailable` and the outbox relay sends it again.
    pub confirm_timeout: Duration,
}

impl Default for RabbitMqOptions {
    fn default() -> Self {
        RabbitMqOptions {
            exchange: "callvault.events".to_owned(),
            dead_letter_exchange: "callvault.dlx".to_owned(),
            prefetch: 32,
            delivery_limit: 5,
            name_prefix: String::new(),
            redelivery_delay: Duration::from_millis(500),
            connection_name: "callvault".to_owned(),
            connect_timeout: Duration::from_secs(10),
            confirm_timeout: Duration::from_secs(10),
        }
    }
}

/// A [`Bus`] on RabbitMQ. Clones share one connection.
///
/// - `publish` returns once the broker confirmed the message, before any
///   consumer ran.
/// - Each `subscribe` call starts one consumer on the consumer's queue
///   that handles its messages one at a time, in queue order (a batching
///   handler: the deliveries already waiting, up to its `max_batch`, in
///   one call, each batch settled before the next). Subscribing
///   the same consumer name again (here or in another process) adds a
///   competing consumer, as another replica would.
/// - A request is handled at most once: a request redelivered because its
///   server died mid-way is dropped (its caller has timed out, or will),
///   since commands are not all idempotent.
#[derive(Clone)]
pub struct RabbitMqBus {
    inner: Arc<Inner>,
}

struct Inner {
    connection: Connection,
    options: RabbitMqOptions,
    /// In confirm mode; every publish waits for its own confirm.
    publisher: Channel,
    requester: rpc::Requester,
    declared: Declared,
    /// The consumers this process subscribed, for their backlog.
    consumers: std::sync::Mutex<Vec<String>>,
    /// Their running tasks, for `drain`.
    running: std::sync::Mutex<Vec<consumer::Running>>,
}

impl RabbitMqBus {
    /// Connects with lapin's automatic recovery on, and declares the event
    /// and dead-letter exchanges. Fails `Unavailable` if the broker is not
    /// there: the caller decides whether to retry.
    pub async fn connect(url: &str, options: RabbitMqOptions) -> Result<Self, BusError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(options.connection_name.as_str().into())
            .enable_auto_recover()
            // lapin's default gives up after 16 attempts growing to a
            // minute apart; a broker restart wants quick first retries and
            // a process that keeps trying for minutes.
            .configure_backoff(|backoff| {
                backoff
                    .with_min_delay(RECONNECT_MIN_DELAY)
                    .with_max_delay(RECONNECT_MAX_DELAY)
                    .with_max_times(RECONNECT_ATTEMPTS)
            });
        // lapin's errors do not echo the url, which may carry a password.
        let connection = match tokio::time::timeout(
            options.connect_timeout,
            Connection::connect(url, properties),
        )
        .await
        {
            Ok(connected) => connected.map_err(unavailable("failed to connect to rabbitmq"))?,
            Err(_) => {
                return Err(BusError::Unavailable(format!(
                    "no connection to rabbitmq within {:?}",
                    options.connect_timeout
                )));
            }
        };
        let declared = Declared::default();
        topology::declare_exchanges(&connection, &options, &declared).await?;

        let publisher = connection
            .create_channel()
            .await
            .map_err(unavailable("failed to open a channel"))?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(unavailable("failed to enable publisher confirms"))?;
        let requester = rpc::Requester::start(&connection).await?;
        info!(
            exchange = %options.exchange,
            prefix = %options.name_prefix,
            "connected to rabbitmq"
        );
        Ok(RabbitMqBus {
            inner: Arc::new(Inner {
                connection,
                options,
                publisher,
                requester,
                declared,
                consumers: std::sync::Mutex::default(),
                running: std::sync::Mutex::default(),
            }),
        })
    }

    pub fn options(&self) -> &RabbitMqOptions {
        &self.inner.options
    }

    /// Whether the connection is up now (false while lapin recovers it),
    /// for readiness probes.
    pub fn is_connected(&self) -> bool {
        self.inner.connection.status().connected()
    }

    /// Messages waiting (ready, not yet delivered) in the queue and the
    /// dead-letter queue of every consumer this process subscribed: the
    /// consumer lag `/metrics` reports. A growing queue means the consumer
    /// can't keep up or is down; a non-empty dead-letter queue needs a
    /// person.
    pub async fn consumer_backlog(&self) -> Result<Vec<(String, u32)>, BusError> {
        let consumers = self
            .inner
            .consumers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let mut backlog = Vec::new();
        for consumer in consumers {
            for queue in [
                self.consumer_queue(&consumer),
                self.dead_letter_queue(&consumer),
            ] {
                let depth = topology::queue_depth(&self.inner.connection, &queue).await?;
                backlog.push((queue, depth));
            }
        }
        Ok(backlog)
    }

    /// The queue a consumer's events land in.
    pub fn consumer_queue(&self, consumer: &str) -> String {
        format!("{}{consumer}", self.inner.options.name_prefix)
    }

    /// The queue a consumer's dead letters land in.
    pub fn dead_letter_queue(&self, consumer: &str) -> String {
        format!("{}.dead", self.consumer_queue(consumer))
    }

    /// The queue requests to `queue` are sent to.
    pub fn request_queue(&self, queue: &str) -> String {
        format!("{}rpc.{queue}", self.inner.options.name_prefix)
    }

    /// Deletes every queue and exchange this bus declared, messages
    /// included. For tests and for decommissioning a prefix; never while
    /// other processes still use them.
    pub async fn delete_declared_topology(&self) -> Result<(), BusError> {
        topology::delete(&self.inner.connection, &self.inner.declared).await
    }

    /// Graceful shutdown's consumer half: every consumer of this bus stops
    /// taking deliveries, and the messages being handled are finished and
    /// acknowledged (each within `timeout`) before this returns. Publishing
    /// and requests keep working until [`RabbitMqBus::close`].
    pub async fn drain(&self, timeout: Duration) {
        let running: Vec<consumer::Running> = std::mem::take(
            &mut *self
                .inner
                .running
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for consumer in running {
            consumer.drain(timeout).await;
        }
    }

    /// Closes the connection; consumers and servers stop.
    pub async fn close(&self) -> Result<(), BusError> {
        self.inner
            .connection
            .close(200, "closing".into())
            .await
            .map_err(unavailable("failed to close the connection"))
    }
}

#[async_trait]
impl Bus for RabbitMqBus {
    async fn publish(&self, message: &Message) -> Result<(), BusError> {
        let body = serde_json::to_vec(message)
            .map_err(|err| BusError::Malformed(format!("failed to encode message: {err}")))?;
        let mut headers = FieldTable::default();
        headers.insert("version".into(), AMQPValue::LongUInt(message.version));
        if let Some(traceparent) = &message.traceparent {
            headers.insert(
                "traceparent".into(),
                AMQPValue::LongString(traceparent.as_str().into()),
            );
        }
        let properties = BasicProperties::default()
            .with_message_id(message.id.to_string().into())
            .with_type(short(&message.topic, "topic")?)
            .with_content_type("application/json".into())
            .with_delivery_mode(PERSISTENT)
            .with_timestamp(u64::try_from(message.occurred_at.timestamp()).unwrap_or_default())
            .with_headers(headers);
        let publishing = async {
            self.inner
                .publisher
                .basic_publish(
                    short(&self.inner.options.exchange, "exchange")?,
                    short(&message.topic, "topic")?,
                    BasicPublishOptions::default(),
                    &body,
                    properties,
                )
                .await
                .map_err(unavailable("failed to publish"))?
                .await
                .map_err(unavailable("no publisher confirm"))
        };
        let confirm_timeout = self.inner.options.confirm_timeout;
        let Ok(confirm) = tokio::time::timeout(confirm_timeout, publishing).await else {
            warn!(topic = %message.topic, message_id = %message.id, "no publisher confirm in time");
            return Err(BusError::Unavailable(format!(
                "no publisher confirm within {confirm_timeout:?}"
            )));
        };
        let confirm = confirm?;
        if confirm.is_nack() {
            warn!(topic = %message.topic, message_id = %message.id, "broker refused the message");
            return Err(BusError::Unavailable(
                "the broker refused the message".to_owned(),
            ));
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        consumer: &str,
        topics: &[&str],
        handler: Arc<dyn EventHandler>,
    ) -> Result<(), BusError> {
        let inner = &self.inner;
        let queue = self.consumer_queue(consumer);
        let dead_letters = self.dead_letter_queue(consumer);
        let max_batch = handler.max_batch().max(1);
        let prefetch = topology::consumer_prefetch(inner.options.prefetch, max_batch);
        let channel = topology::open_consumer_channel(&inner.connection, prefetch).await?;
        topology::declare_consumer(
            &channel,
            &inner.options,
            &queue,
            &dead_letters,
            topics,
            &inner.declared,
        )
        .await?;
        let running =
            consumer::start(channel, queue, handler, inner.options.redelivery_delay).await?;
        inner
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(running);
        inner
            .consumers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(consumer.to_owned());
        info!(consumer, topics = ?topics, max_batch, prefetch, "consumer subscribed");
        Ok(())
    }

    async fn request(
        &self,
        queue: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, BusError> {
        let routing_key = self.request_queue(queue);
        self.inner
            .requester
            .request(queue, &routing_key, body, timeout)
            .await
    }

    async fn serve(&self, queue: &str, handler: Arc<dyn RequestHandler>) -> Result<(), BusError> {
        let inner = &self.inner;
        let name = self.request_queue(queue);
        let channel =
            topology::open_consumer_channel(&inner.connection, inner.options.prefetch).await?;
        topology::declare_request_queue(&channel, &name, &inner.declared).await?;
        rpc::serve(channel, name, handler).await?;
        info!(queue, "serving queue");
        Ok(())
    }
}

/// Maps a lapin error to `Unavailable`: a broker gone, a channel closed, a
/// connection being recovered all mean "try again later" to the caller.
fn unavailable(context: &'static str) -> impl Fn(lapin::Error) -> BusError {
    move |err| BusError::Unavailable(format!("{context}: {err}"))
}
