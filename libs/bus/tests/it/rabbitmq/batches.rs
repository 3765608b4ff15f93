//! Batched delivery on the broker: a batching consumer's prefetch holds two
//! batches, each delivery of a batch is settled on its own — a permanent
//! failure or a malformed delivery lands in the dead-letter queue, the rest
//! is acknowledged — and a drain right after a batch leaves none of it
//! behind.

use std::sync::Arc;
use std::time::Duration;

use callvault_bus::{Bus, Message};
use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions};

use super::broker::{Broker, with_broker};
use super::get_one;
use crate::conformance::SETTLE;
use crate::support::{Batcher, message, numbers, unique_topic};

#[tokio::test]
async fn a_batching_consumer_prefetches_two_batches() {
    with_broker("batch-prefetch", async |broker: &Broker| {
        assert!(
            broker.options.prefetch < 50,
            "the configured prefetch alone would not fill a batch"
        );
        let bus = broker.bus().await;
        let topic = unique_topic("prefetch");
        let batcher = Arc::new(Batcher::new(50));
        bus.subscribe("batching", &[&topic], batcher.clone())
            .await
            .expect("subscribe");

        bus.publish(&message(&topic, 0)).await.expect("publish");
        batcher.wait_for_call(1).await;
        for n in 1..=120 {
            bus.publish(&message(&topic, n)).await.expect("publish");
        }
        tokio::time::sleep(SETTLE).await;
        batcher.gate.open();

        let received = batcher.wait_for(121).await;
        assert_eq!(numbers(&received), (0..=120).collect::<Vec<_>>());
        let calls = batcher.calls();
        assert_eq!(
            calls[1],
            (1..=50).collect::<Vec<_>>(),
            "a full batch was waiting: the prefetch is above the configured {}",
            broker.options.prefetch
        );
        assert!(calls.iter().all(|call| call.len() <= 50), "{calls:?}");
    })
    .await;
}

#[tokio::test]
async fn messages_waiting_before_the_consumer_starts_come_in_batches_in_order() {
    with_broker("batch-backlog", async |broker: &Broker| {
        let bus = broker.bus().await;
        let topic = unique_topic("backlog");
        // The queue and its binding, then nobody consuming.
        bus.subscribe("batching", &[&topic], Arc::new(Batcher::new(10)))
            .await
            .expect("subscribe");
        bus.drain(Duration::from_secs(10)).await;
        for n in 0..40 {
            bus.publish(&message(&topic, n)).await.expect("publish");
        }

        let batcher = Arc::new(Batcher::new(10));
        batcher.gate.open();
        bus.subscribe("batching", &[&topic], batcher.clone())
            .await
            .expect("subscribe again");
        let received = batcher.wait_for(40).await;
        assert_eq!(numbers(&received), (0..40).collect::<Vec<_>>(), "in order");
        let calls = batcher.calls();
        assert!(calls.iter().all(|call| call.len() <= 10), "{calls:?}");
        assert!(
            calls.iter().any(|call| call.len() > 1),
            "the waiting messages came several at a time: {calls:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_batch_dead_letters_its_permanent_failure_and_acknowledges_the_rest() {
    with_broker("batch-dead-letters", async |broker: &Broker| {
        let bus = broker.bus().await;
        let topic = unique_topic("batch-poison");
        let batcher = Arc::new(Batcher::new(10).poisoned(3));
        bus.subscribe("batching", &[&topic], batcher.clone())
            .await
            .expect("subscribe");

        let sent: Vec<Message> = (0..=4).map(|n| message(&topic, n)).collect();
        bus.publish(&sent[0]).await.expect("publish");
        batcher.wait_for_call(1).await;
        for message in &sent[1..] {
            bus.publish(message).await.expect("publish");
        }
        tokio::time::sleep(SETTLE).await;
        batcher.gate.open();
        batcher.wait_for(4).await;
        assert_eq!(batcher.calls()[1], [1, 2, 3, 4]);

        let (connection, channel) = broker.raw_channel().await;
        let dead = get_one(&channel, &bus.dead_letter_queue("batching")).await;
        let body: Message = serde_json::from_slice(&dead.delivery.data).expect("a message");
        assert_eq!(body, sent[3], "only the poison message is dead-lettered");
        tokio::time::sleep(Duration::from_millis(200)).await;
        for queue in [
            bus.dead_letter_queue("batching"),
            bus.consumer_queue("batching"),
        ] {
            let nothing = channel
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .expect("basic.get");
            assert!(
                nothing.is_none(),
                "{queue} is empty: the rest were acknowledged"
            );
        }
        assert_eq!(numbers(&batcher.received()), [0, 1, 2, 4]);
        let _ = connection.close(200, "done".into()).await;
    })
    .await;
}

#[tokio::test]
async fn a_malformed_delivery_in_a_batch_is_dead_lettered_and_left_out() {
    with_broker("batch-malformed", async |broker: &Broker| {
        let bus = broker.bus().await;
        let topic = unique_topic("batch-garbage");
        let batcher = Arc::new(Batcher::new(10));
        bus.subscribe("batching", &[&topic], batcher.clone())
            .await
            .expect("subscribe");

        bus.publish(&message(&topic, 0)).await.expect("publish");
        batcher.wait_for_call(1).await;
        bus.publish(&message(&topic, 1)).await.expect("publish");
        let (connection, channel) = broker.raw_channel().await;
        channel
            .basic_publish(
                broker.options.exchange.as_str().into(),
                topic.as_str().into(),
                BasicPublishOptions::default(),
                b"not a message",
                BasicProperties::default().with_message_id("garbage-1".into()),
            )
            .await
            .expect("publish garbage");
        tokio::time::sleep(Duration::from_millis(50)).await;
        bus.publish(&message(&topic, 2)).await.expect("publish");
        tokio::time::sleep(SETTLE).await;
        batcher.gate.open();

        let received = batcher.wait_for(3).await;
        assert_eq!(numbers(&received), [0, 1, 2]);
        assert_eq!(
            batcher.calls(),
            [vec![0], vec![1, 2]],
            "the garbage left out"
        );
        let dead = get_one(&channel, &bus.dead_letter_queue("batching")).await;
        assert_eq!(dead.delivery.data, b"not a message");
        let _ = connection.close(200, "done".into()).await;
    })
    .await;
}

/// With one ack per delivery, RabbitMQ 3.10 returned a few dozen of the
/// last batch's messages (acknowledged just before the channel closed) to
/// the queue in about one run out of five; the consumer acknowledges a run
/// of successes with one `multiple` ack.
#[tokio::test]
async fn drain_right_after_a_batch_leaves_nothing_handled_in_the_queue() {
    with_broker("batch-drain", async |broker: &Broker| {
        let bus = broker.bus().await;
        let topic = unique_topic("batch-drain");
        let batcher = Arc::new(Batcher::new(500));
        bus.subscribe("batching", &[&topic], batcher.clone())
            .await
            .expect("subscribe");

        bus.publish(&message(&topic, 0)).await.expect("publish");
        batcher.wait_for_call(1).await;
        for n in 1..=500 {
            bus.publish(&message(&topic, n)).await.expect("publish");
        }
        tokio::time::sleep(SETTLE).await;
        batcher.gate.open();
        batcher.wait_for(501).await;
        // At once: the last batch's acknowledgements are still going out.
        bus.drain(Duration::from_secs(10)).await;

        // A delivery the broker still held for the closed channel comes
        // back to the queue shortly after the close.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let queue = bus.consumer_queue("batching");
        let backlog = bus.consumer_backlog().await.expect("backlog");
        let depth = backlog
            .iter()
            .find(|(name, _)| *name == queue)
            .map(|(_, depth)| *depth);
        assert_eq!(depth, Some(0), "every handled message was acknowledged");
        assert_eq!(batcher.received().len(), 501);
    })
    .await;
}
