//! Graceful shutdown's consumer half: `drain` stops deliveries and lets the
//! message being handled finish and be acknowledged; what arrives after
//! stays in the queue for the next instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::{Bus, EventHandler, HandlerError, Message};

use super::broker::{Broker, with_broker};
use crate::support::{Recorder, message, unique_topic};

/// Records each message only after a pause: a handler in the middle of its
/// work when shutdown begins.
struct Slow {
    started: AtomicBool,
    done: Recorder,
}

#[async_trait]
impl EventHandler for Slow {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        self.started.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.done.handle(message).await
    }
}

#[tokio::test]
async fn drain_finishes_the_message_in_hand_and_takes_no_more() {
    with_broker("drain", async |broker: &Broker| {
        let bus = broker.bus().await;
        let topic = unique_topic("drain");
        let slow = Arc::new(Slow {
            started: AtomicBool::new(false),
            done: Recorder::default(),
        });
        bus.subscribe("draining", &[&topic], slow.clone())
            .await
            .expect("subscribe");
        let first = message(&topic, 1);
        bus.publish(&first).await.expect("publish");
        while !slow.started.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        bus.drain(Duration::from_secs(10)).await;
        // The message in hand was finished (and acknowledged: nothing is
        // left in the queue for it)…
        assert_eq!(slow.done.received(), vec![first]);
        // …and nothing more is taken: a later message waits in the queue.
        bus.publish(&message(&topic, 2)).await.expect("publish");
        let queue = bus.consumer_queue("draining");
        let mut depth = 0;
        for _ in 0..50 {
            let backlog = bus.consumer_backlog().await.expect("backlog");
            depth = backlog
                .iter()
                .find(|(name, _)| *name == queue)
                .map_or(0, |(_, depth)| *depth);
            if depth == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(depth, 1, "the second message waits for the next instance");
        assert_eq!(slow.done.received().len(), 1);
    })
    .await;
}
