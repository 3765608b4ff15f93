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
//!
//! A lost connection is replaced by [`reconnect`], which declares the whole
//! topology again and restarts every consumer and server on the new one.

mod consumer;
mod reconnect;
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
use reconnect::Subscription;
use topology::{Declared, short};

/// Persistent messages survive a broker restart (AMQP delivery mode 2).
const PERSISTENT: u8 = 2;

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
    /// Bounds [`RabbitMqBus::connect`] and each reconnection attempt: a
    /// broker that accepts TCP but never answers would otherwise hold them.
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
/// - A lost connection is reconnected in the background, without end, at
///   most [`reconnect::MAX_DELAY`] apart; meanwhile publishing and requests
///   fail `Unavailable` at once and [`RabbitMqBus::is_connected`] is false.
#[derive(Clone)]
pub struct RabbitMqBus {
    inner: Arc<Inner>,
}

struct Inner {
    /// Kept for reconnecting; it may carry a password, so never logged.
    url: String,
    options: RabbitMqOptions,
    /// The current connection; replaced as a whole when it is lost.
    live: std::sync::RwLock<Arc<Live>>,
    declared: Declared,
    /// What was subscribed and served, to start again on a new connection.
    /// Held across a whole reconnection, so a `subscribe` lands either
    /// before it (and is restarted) or after it (on the new connection).
    subscriptions: tokio::sync::Mutex<Vec<Subscription>>,
    /// Set by `drain`: a reconnection then restarts servers only.
    drained: std::sync::atomic::AtomicBool,
    /// Set by `close`: the connection loss that follows is not reconnected.
    closed: std::sync::atomic::AtomicBool,
    /// The consumers this process subscribed, for their backlog.
    consumers: std::sync::Mutex<Vec<String>>,
    /// Their running tasks on the current connection, for `drain`.
    running: std::sync::Mutex<Vec<consumer::Running>>,
}

/// One connection and the channels every caller shares on it.
struct Live {
    connection: Connection,
    /// In confirm mode; every publish waits for its own confirm.
    publisher: Channel,
    requester: rpc::Requester,
}

impl Live {
    /// Connects, declares the event and dead-letter exchanges and opens the
    /// shared channels. lapin's own recovery stays off: replaying channels
    /// and consumers on a restarted broker was seen to stall for good
    /// (the quorum queues not ready yet), while a new connection with
    /// everything declared again is retried until it works.
    async fn open(
        url: &str,
        options: &RabbitMqOptions,
        declared: &Declared,
    ) -> Result<Live, BusError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(options.connection_name.as_str().into());
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
        let opened = async {
            topology::declare_exchanges(&connection, options, declared).await?;
            let publisher = connection
                .create_channel()
                .await
                .map_err(unavailable("failed to open a channel"))?;
            publisher
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(unavailable("failed to enable publisher confirms"))?;
            let requester = rpc::Requester::start(&connection).await?;
            Ok((publisher, requester))
        }
        .await;
        match opened {
            Ok((publisher, requester)) => Ok(Live {
                connection,
                publisher,
                requester,
            }),
            Err(err) => {
                let _ = connection.close(200, "failed to set up".into()).await;
                Err(err)
            }
        }
    }
}

impl RabbitMqBus {
    /// Connects and declares the event and dead-letter exchanges. Fails
    /// `Unavailable` if the broker is not there: the caller decides whether
    /// to retry. Once connected, the bus reconnects by itself.
    pub async fn connect(url: &str, options: RabbitMqOptions) -> Result<Self, BusError> {
        let declared = Declared::default();
        let live = Live::open(url, &options, &declared).await?;
        info!(
            exchange = %options.exchange,
            prefix = %options.name_prefix,
            "connected to rabbitmq"
        );
        let inner = Arc::new(Inner {
            url: url.to_owned(),
            options,
            live: std::sync::RwLock::new(Arc::new(live)),
            declared,
            subscriptions: tokio::sync::Mutex::default(),
            drained: std::sync::atomic::AtomicBool::new(false),
            closed: std::sync::atomic::AtomicBool::new(false),
            consumers: std::sync::Mutex::default(),
            running: std::sync::Mutex::default(),
        });
        tokio::spawn(reconnect::supervise(Arc::downgrade(&inner)));
        Ok(RabbitMqBus { inner })
    }

    pub fn options(&self) -> &RabbitMqOptions {
        &self.inner.options
    }

    /// Whether the connection is up now (false while it is being
    /// replaced), for readiness probes.
    pub fn is_connected(&self) -> bool {
        self.inner.live().connection.status().connected()
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
        let live = self.inner.live();
        let mut backlog = Vec::new();
        for consumer in consumers {
            for queue in [
                self.consumer_queue(&consumer),
                self.dead_letter_queue(&consumer),
            ] {
                let depth = topology::queue_depth(&live.connection, &queue).await?;
                backlog.push((queue, depth));
            }
        }
        Ok(backlog)
    }

    /// The queue a consumer's events land in.
    pub fn consumer_queue(&self, consumer: &str) -> String {
        self.inner.consumer_queue(consumer)
    }

    /// The queue a consumer's dead letters land in.
    pub fn dead_letter_queue(&self, consumer: &str) -> String {
        self.inner.dead_letter_queue(consumer)
    }

    /// The queue requests to `queue` are sent to.
    pub fn request_queue(&self, queue: &str) -> String {
        self.inner.request_queue(queue)
    }

    /// Deletes every queue and exchange this bus declared, messages
    /// included. For tests and for decommissioning a prefix; never while
    /// other processes still use them.
    pub async fn delete_declared_topology(&self) -> Result<(), BusError> {
        topology::delete(&self.inner.live().connection, &self.inner.declared).await
    }

    /// Graceful shutdown's consumer half: every consumer of this bus stops
    /// taking deliveries, and the messages being handled are finished and
    /// acknowledged (each within `timeout`) before this returns. Publishing
    /// and requests keep working until [`RabbitMqBus::close`].
    pub async fn drain(&self, timeout: Duration) {
        // Under the subscriptions lock, so no reconnection starts them anew.
        let _subscriptions = self.inner.subscriptions.lock().await;
        self.inner
            .drained
            .store(true, std::sync::atomic::Ordering::SeqCst);
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
            .closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner
            .live()
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
        let live = self.inner.live();
        let publishing = async {
            live.publisher
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
        let subscription = Subscription::Events {
            consumer: consumer.to_owned(),
            topics: topics.iter().map(|&topic| topic.to_owned()).collect(),
            handler,
        };
        let mut subscriptions = self.inner.subscriptions.lock().await;
        let live = self.inner.live();
        if let Some(running) = self.inner.start(&live, &subscription).await? {
            self.inner
                .running
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(running);
        }
        self.inner
            .consumers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(consumer.to_owned());
        subscriptions.push(subscription);
        Ok(())
    }

    async fn request(
        &self,
        queue: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, BusError> {
        let routing_key = self.request_queue(queue);
        let live = self.inner.live();
        live.requester
            .request(queue, &routing_key, body, timeout)
            .await
    }

    async fn serve(&self, queue: &str, handler: Arc<dyn RequestHandler>) -> Result<(), BusError> {
        let subscription = Subscription::Requests {
            queue: queue.to_owned(),
            handler,
        };
        let mut subscriptions = self.inner.subscriptions.lock().await;
        let live = self.inner.live();
        self.inner.start(&live, &subscription).await?;
        subscriptions.push(subscription);
        Ok(())
    }
}

impl Inner {
    fn live(&self) -> Arc<Live> {
        self.live
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn consumer_queue(&self, consumer: &str) -> String {
        format!("{}{consumer}", self.options.name_prefix)
    }

    fn dead_letter_queue(&self, consumer: &str) -> String {
        format!("{}.dead", self.consumer_queue(consumer))
    }

    fn request_queue(&self, queue: &str) -> String {
        format!("{}rpc.{queue}", self.options.name_prefix)
    }

    /// Declares what `subscription` needs on `live` and starts it; the
    /// running consumer, for `drain` (none for a server).
    async fn start(
        &self,
        live: &Live,
        subscription: &Subscription,
    ) -> Result<Option<consumer::Running>, BusError> {
        match subscription {
            Subscription::Events {
                consumer,
                topics,
                handler,
            } => {
                let queue = self.consumer_queue(consumer);
                let dead_letters = self.dead_letter_queue(consumer);
                let max_batch = handler.max_batch().max(1);
                let prefetch = topology::consumer_prefetch(self.options.prefetch, max_batch);
                let channel = topology::open_consumer_channel(&live.connection, prefetch).await?;
                let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                topology::declare_consumer(
                    &channel,
                    &self.options,
                    &queue,
                    &dead_letters,
                    &topics,
                    &self.declared,
                )
                .await?;
                let running = consumer::start(
                    channel,
                    queue,
                    handler.clone(),
                    self.options.redelivery_delay,
                )
                .await?;
                info!(consumer, topics = ?topics, max_batch, prefetch, "consumer subscribed");
                Ok(Some(running))
            }
            Subscription::Requests { queue, handler } => {
                let name = self.request_queue(queue);
                let channel =
                    topology::open_consumer_channel(&live.connection, self.options.prefetch)
                        .await?;
                topology::declare_request_queue(&channel, &name, &self.declared).await?;
                rpc::serve(channel, name, handler.clone()).await?;
                info!(queue, "serving queue");
                Ok(None)
            }
        }
    }
}

/// Maps a lapin error to `Unavailable`: a broker gone, a channel closed, a
/// connection being replaced all mean "try again later" to the caller.
fn unavailable(context: &'static str) -> impl Fn(lapin::Error) -> BusError {
    move |err| BusError::Unavailable(format!("{context}: {err}"))
}
