//! Request/reply: requests to `<prefix>rpc.<queue>` through the default
//! exchange, replies on RabbitMQ's direct reply-to, matched by correlation
//! id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, Consumer};
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};
use uuid::Uuid;

use super::{short, unavailable};
use crate::{BusError, RequestHandler};

/// RabbitMQ's pseudo-queue for direct replies: no queue to declare or
/// clean up, the reply goes straight to the requesting channel.
const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Vec<u8>>>>>;

/// The requesting side: one channel that publishes every request and
/// consumes every reply, as direct reply-to requires.
pub(super) struct Requester {
    channel: Channel,
    pending: Pending,
}

impl Requester {
    pub(super) async fn start(connection: &Connection) -> Result<Self, BusError> {
        let channel = connection
            .create_channel()
            .await
            .map_err(unavailable("failed to open a channel"))?;
        // Confirms carry the basic.return of a request nobody can receive,
        // before the confirm itself: that is how NoSuchQueue is told apart.
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(unavailable("failed to enable publisher confirms"))?;
        // Direct reply-to wants its consumer, without acks, in place before
        // the first request goes out on the channel.
        let tag = format!("callvault-replies-{}", Uuid::new_v4().simple());
        let replies = channel
            .basic_consume(
                DIRECT_REPLY_TO.into(),
                short(&tag, "consumer tag")?,
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(unavailable("failed to consume replies"))?;
        let pending = Pending::default();
        tokio::spawn(dispatch_replies(replies, pending.clone()));
        Ok(Requester { channel, pending })
    }

    /// Sends `body` to `routing_key` (the prefixed name of `queue`) and waits
    /// for the reply, `timeout` in all.
    pub(super) async fn request(
        &self,
        queue: &str,
        routing_key: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, BusError> {
        let correlation_id = Uuid::new_v4().to_string();
        let (reply_sender, reply) = oneshot::channel();
        lock(&self.pending).insert(correlation_id.clone(), reply_sender);
        let _forget = ForgetOnDrop {
            pending: &self.pending,
            correlation_id: &correlation_id,
        };
        // The broker drops a request still queued when its caller gave up.
        let properties = BasicProperties::default()
            .with_correlation_id(correlation_id.as_str().into())
            .with_reply_to(DIRECT_REPLY_TO.into())
            .with_expiration(timeout.as_millis().to_string().into());
        let exchange = async {
            let confirm = self
                .channel
                .basic_publish(
                    "".into(),
                    short(routing_key, "queue name")?,
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &body,
                    properties,
                )
                .await
                .map_err(unavailable("failed to send request"))?
                .await
                .map_err(unavailable("no publisher confirm"))?;
            if confirm.is_nack() {
                return Err(BusError::Unavailable(
                    "the broker refused the request".to_owned(),
                ));
            }
            // Mandatory and returned: no queue by that name.
            if confirm.take_message().is_some() {
                return Err(BusError::NoSuchQueue(queue.to_owned()));
            }
            reply
                .await
                .map_err(|_| BusError::Unavailable("the reply consumer stopped".to_owned()))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(BusError::Timeout {
                queue: queue.to_owned(),
                timeout,
            }),
        }
    }
}

/// Removes a request's slot however the request ends, timeouts included.
struct ForgetOnDrop<'a> {
    pending: &'a Pending,
    correlation_id: &'a str,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        lock(self.pending).remove(self.correlation_id);
    }
}

async fn dispatch_replies(mut replies: Consumer, pending: Pending) {
    while let Some(next) = replies.next().await {
        let reply = match next {
            Ok(reply) => reply,
            Err(err) => {
                // Requests in flight are lost with the old channel: they
                // time out, as they would with a crashed server. The bus
                // starts a new requester on its next connection.
                warn!(error = %err, "reply consumer interrupted");
                return;
            }
        };
        let Some(correlation_id) = reply.properties.correlation_id() else {
            warn!("reply without correlation id dropped");
            continue;
        };
        let Some(waiting) = lock(&pending).remove(correlation_id.as_str()) else {
            debug!(correlation_id = %correlation_id, "late reply dropped");
            continue;
        };
        // The requester may have just timed out; nothing to do then.
        let _ = waiting.send(reply.data);
    }
    info!("reply consumer cancelled");
}

/// Consumes `queue` and answers each request from its own task, up to the
/// channel's prefetch at once.
pub(super) async fn serve(
    channel: Channel,
    queue: String,
    handler: Arc<dyn RequestHandler>,
) -> Result<(), BusError> {
    let tag = format!("callvault-server-{}", Uuid::new_v4().simple());
    let requests = channel
        .basic_consume(
            short(&queue, "queue name")?,
            short(&tag, "consumer tag")?,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(unavailable("failed to consume requests"))?;
    tokio::spawn(run_server(channel, requests, queue, handler));
    Ok(())
}

async fn run_server(
    channel: Channel,
    mut requests: Consumer,
    queue: String,
    handler: Arc<dyn RequestHandler>,
) {
    while let Some(next) = requests.next().await {
        let request = match next {
            Ok(request) => request,
            Err(err) => {
                // The bus serves the queue again on its next connection.
                warn!(queue = %queue, error = %err, "server interrupted");
                return;
            }
        };
        tokio::spawn(answer(
            channel.clone(),
            queue.clone(),
            handler.clone(),
            request,
        ));
    }
    info!(queue = %queue, "server cancelled");
}

async fn answer(
    channel: Channel,
    queue: String,
    handler: Arc<dyn RequestHandler>,
    request: Delivery,
) {
    // Acked on every path below, answered or not: a request is handled at
    // most once.
    let reply_to = request.properties.reply_to().clone();
    let correlation_id = request.properties.correlation_id().clone();
    let (Some(reply_to), Some(correlation_id)) = (reply_to, correlation_id) else {
        warn!(queue = %queue, "request without reply-to or correlation id dropped");
        ack(&queue, &request).await;
        return;
    };
    if request.redelivered {
        warn!(
            queue = %queue,
            correlation_id = %correlation_id,
            "redelivered request dropped: it may have been handled already"
        );
        ack(&queue, &request).await;
        return;
    }
    let body = request.data.clone();
    let task_handler = handler.clone();
    let reply = match tokio::spawn(async move { task_handler.handle(body).await }).await {
        Ok(reply) => reply,
        Err(err) => {
            // No reply: the caller times out, as with a crashed server.
            error!(queue = %queue, correlation_id = %correlation_id, error = %err, "request handler failed");
            ack(&queue, &request).await;
            return;
        }
    };
    let published = channel
        .basic_publish(
            "".into(),
            reply_to,
            BasicPublishOptions::default(),
            &reply,
            BasicProperties::default().with_correlation_id(correlation_id.clone()),
        )
        .await;
    if let Err(err) = published {
        warn!(queue = %queue, correlation_id = %correlation_id, error = %err, "failed to send reply");
    }
    ack(&queue, &request).await;
}

async fn ack(queue: &str, request: &Delivery) {
    if let Err(err) = request.ack(BasicAckOptions::default()).await {
        warn!(queue, error = %err, "failed to ack request");
    }
}

/// A poisoned lock only means another task panicked mid-insert.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
