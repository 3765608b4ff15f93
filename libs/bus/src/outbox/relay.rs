//! The relay: a background task that publishes the outbox's unsent rows,
//! oldest first, and marks each one sent once the bus has taken it.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use super::entity::{Column, Entity, Model};
use crate::{Bus, BusError, Message};

const DEFAULT_BATCH_SIZE: u64 = 100;
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Publishes a service's outbox. One per service (per database); build it
/// with [`OutboxRelay::new`] and start it with [`OutboxRelay::spawn`].
///
/// Its first batch goes out at once, so whatever a crashed process left
/// unsent is published on start. With the in-process bus, subscribe every
/// consumer before spawning the relays: a message published to a topic
/// nobody listens to yet is gone, as on a topic exchange without bindings.
///
/// Two relays on one database (replicas, or services sharing a SQLite file)
/// may both publish a row before either marks it sent: delivery is
/// at-least-once, and the consumers' inboxes make the effects exactly-once.
pub struct OutboxRelay {
    db: DatabaseConnection,
    bus: Arc<dyn Bus>,
    batch_size: u64,
    poll_interval: Duration,
    max_backoff: Duration,
}

impl OutboxRelay {
    pub fn new(db: DatabaseConnection, bus: Arc<dyn Bus>) -> Self {
        OutboxRelay {
            db,
            bus,
            batch_size: DEFAULT_BATCH_SIZE,
            poll_interval: DEFAULT_POLL_INTERVAL,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }

    /// Rows read per batch (at least 1; default 100).
    pub fn with_batch_size(mut self, batch_size: u64) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// How often the relay looks for rows when nobody notifies it (default
    /// 250 ms): the bound on the delay of an event whose writer forgot to
    /// call [`RelayNotifier::notify`], or wrote from another process.
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// The longest wait between attempts while the bus or the database
    /// fails (default 10 s); the wait doubles from 100 ms up to it.
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Starts the relay on a tokio task. It runs until
    /// [`RelayHandle::shutdown`] or until the handle is dropped.
    pub fn spawn(self) -> RelayHandle {
        let notify = Arc::new(Notify::new());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(self.run(notify.clone(), shutdown_rx));
        RelayHandle {
            notifier: RelayNotifier(notify),
            shutdown: shutdown_tx,
            task,
        }
    }

    async fn run(self, notify: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
        info!(batch_size = self.batch_size, "outbox relay started");
        let mut backoff = INITIAL_BACKOFF;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let wait = match self.relay_batch().await {
                // A full batch: there may be more behind it, go on at once.
                Ok(processed) if processed >= self.batch_size => {
                    backoff = INITIAL_BACKOFF;
                    continue;
                }
                Ok(_) => {
                    backoff = INITIAL_BACKOFF;
                    None
                }
                Err(err) => {
                    warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "outbox relay failed, backing off");
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.max_backoff);
                    Some(wait)
                }
            };
            let stopped = match wait {
                // Idle: a notification or the poll interval, whichever first.
                // `Notify` keeps a permit, so a notification sent while the
                // batch ran is not lost.
                None => tokio::select! {
                    _ = notify.notified() => false,
                    _ = tokio::time::sleep(self.poll_interval) => false,
                    changed = shutdown.changed() => changed.is_err(),
                },
                // Failing: notifications don't shorten the backoff, or a busy
                // writer would hammer a bus that is down.
                Some(wait) => tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    changed = shutdown.changed() => changed.is_err(),
                },
            };
            // The sender is gone: the handle was dropped.
            if stopped {
                break;
            }
        }
        info!("outbox relay stopped");
    }

    /// Publishes one batch of unsent rows, oldest first; returns how many
    /// rows it went through. Stops at the first failure, leaving that row
    /// and the ones after it unsent, in order.
    async fn relay_batch(&self) -> Result<u64, RelayError> {
        let rows: Vec<Model> = Entity::find()
            .filter(Column::SentAt.is_null())
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .limit(self.batch_size)
            .all(&self.db)
            .await?;
        let mut processed = 0;
        for row in rows {
            let message: Message = match serde_json::from_str(&row.payload) {
                Ok(message) => message,
                Err(err) => {
                    // Only a hand-edited row gets here. It would block the
                    // outbox forever, so it is set aside as sent (and kept in
                    // the table for inspection). The serde error may quote
                    // the payload: log its position only.
                    error!(
                        message_id = %row.id,
                        topic = %row.topic,
                        line = err.line(),
                        column = err.column(),
                        "skipping malformed outbox row"
                    );
                    super::mark_sent(&self.db, row.id).await?;
                    processed += 1;
                    continue;
                }
            };
            self.bus.publish(&message).await?;
            super::mark_sent(&self.db, row.id).await?;
            debug!(message_id = %row.id, topic = %row.topic, "outbox message published");
            processed += 1;
        }
        Ok(processed)
    }
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("outbox database error: {0}")]
    Database(#[from] DbErr),
    #[error("publish failed: {0}")]
    Bus(#[from] BusError),
}

/// Wakes a relay so it publishes what was just committed, without waiting
/// for its poll interval. Cheap to clone; hand one to each writer.
#[derive(Clone, Debug)]
pub struct RelayNotifier(Arc<Notify>);

impl RelayNotifier {
    /// Call after committing a transaction that enqueued messages.
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// A running relay. Dropping it stops the relay (after its current batch)
/// without waiting; [`RelayHandle::shutdown`] also waits.
#[must_use = "dropping the handle stops the relay"]
pub struct RelayHandle {
    notifier: RelayNotifier,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RelayHandle {
    pub fn notify(&self) {
        self.notifier.notify();
    }

    pub fn notifier(&self) -> RelayNotifier {
        self.notifier.clone()
    }

    /// Stops the relay after its current batch, and waits for it.
    pub async fn shutdown(self) {
        // Err only if the task is gone already, which is what we want.
        let _ = self.shutdown.send(true);
        if let Err(err) = self.task.await {
            error!(error = %err, "outbox relay task failed");
        }
    }
}
