//! Replacing a lost connection: a new one, the topology declared again, and
//! every consumer and server started on it, retried until it all works.
//!
//! lapin's own recovery replays channels and consumers on a new socket; on
//! a RabbitMQ node killed and restarted it was seen to stall for good (a
//! replayed declaration failing while the node's quorum queues were not
//! ready), leaving a process connected but deaf. Here any failure on the
//! way throws the new connection away and starts over.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tracing::{info, warn};

use super::{Inner, Live};
use crate::{BusError, EventHandler, RequestHandler};

/// Backoff between attempts: quick first retries for a restart, then a
/// steady pace for a longer outage. There is no last attempt: a process
/// without its broker is useless, and its readiness probe says so.
const MIN_DELAY: Duration = Duration::from_millis(100);
pub(super) const MAX_DELAY: Duration = Duration::from_secs(5);

/// How often the connection's state is looked at. lapin marks it broken as
/// soon as the socket fails, or when heartbeats stop for a silent peer.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// What a process asked the bus to run, kept to start it again.
pub(super) enum Subscription {
    Events {
        consumer: String,
        topics: Vec<String>,
        handler: Arc<dyn EventHandler>,
    },
    Requests {
        queue: String,
        handler: Arc<dyn RequestHandler>,
    },
}

/// Watches the connection and replaces it when lost, until the bus is
/// closed or dropped (it holds the bus only weakly).
pub(super) async fn supervise(bus: Weak<Inner>) {
    let mut checks = tokio::time::interval(CHECK_EVERY);
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        checks.tick().await;
        {
            let Some(inner) = bus.upgrade() else { return };
            if inner.closed.load(Ordering::SeqCst) {
                return;
            }
            if inner.live().connection.status().connected() {
                continue;
            }
        }
        warn!("connection to rabbitmq lost, reconnecting");
        let mut delay = MIN_DELAY;
        let mut attempts = 0_u32;
        loop {
            let Some(inner) = bus.upgrade() else { return };
            if inner.closed.load(Ordering::SeqCst) {
                return;
            }
            attempts += 1;
            match inner.reconnect().await {
                Ok(()) => {
                    info!(attempts, "reconnected to rabbitmq");
                    break;
                }
                Err(err) => warn!(attempts, error = %err, "reconnecting to rabbitmq failed"),
            }
            drop(inner);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_DELAY);
        }
    }
}

impl Inner {
    /// One attempt: the new connection replaces the old one only once
    /// everything subscribed runs on it, so a publish that succeeds means
    /// the consumers and servers are back too.
    async fn reconnect(&self) -> Result<(), BusError> {
        let subscriptions = self.subscriptions.lock().await;
        let live = Live::open(&self.url, &self.options, &self.declared).await?;
        let drained = self.drained.load(Ordering::SeqCst);
        let mut running = Vec::new();
        for subscription in subscriptions.iter() {
            if drained && matches!(subscription, Subscription::Events { .. }) {
                continue;
            }
            match self.start(&live, subscription).await {
                Ok(Some(consumer)) => running.push(consumer),
                Ok(None) => {}
                Err(err) => {
                    // Its channels and the consumers already started go
                    // with it.
                    let _ = live.connection.close(200, "failed to set up".into()).await;
                    return Err(err);
                }
            }
        }
        // The old consumers ended with their connection.
        *self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = running;
        *self
            .live
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(live);
        Ok(())
    }
}
