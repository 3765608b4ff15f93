//! What every [`Bus`] implementation must do, written against `dyn Bus`
//! only: a RabbitMQ bus is checked by calling [`run_conformance_suite`]
//! with it. The suite uses fresh topic and queue names in every case, so one
//! bus (one broker) serves all of them, and it waits for deliveries instead
//! of assuming `publish` did (RabbitMQ's publish returns on the broker's
//! confirm, before the consumers ran).
//!
//! Batched delivery is checked the same way on both: the handler is held in
//! its first call while more messages are published (each from a task of
//! its own, since the in-process bus's publish returns only once the
//! message was handled), so they are waiting for it when it is let go.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::{Bus, BusError, Message, RequestHandler};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::support::{
    Batcher, DefaultBatch, Recorder, Single, eventually, message, numbers, unique_topic,
};

/// Between publishing messages that must queue up in order.
pub(crate) const QUEUE_UP: Duration = Duration::from_millis(20);
/// For messages published while the handler is busy to reach its consumer
/// (RabbitMQ: to be prefetched into its channel).
pub(crate) const SETTLE: Duration = Duration::from_millis(300);

/// A bus to check, and what it was configured with.
pub struct BusUnderTest {
    pub bus: Arc<dyn Bus>,
    /// Deliveries of a message to a failing consumer before it is
    /// dead-lettered.
    pub max_attempts: u32,
}

pub async fn run_conformance_suite(subject: BusUnderTest) {
    let bus = subject.bus.as_ref();
    published_message_reaches_its_subscriber_intact(bus).await;
    every_consumer_gets_every_message(bus).await;
    other_topics_are_not_delivered(bus).await;
    failing_handler_is_redelivered_until_it_succeeds(bus).await;
    always_failing_handler_is_dead_lettered(bus, subject.max_attempts).await;
    poison_message_is_dead_lettered_at_once(bus).await;
    request_gets_its_reply(bus).await;
    slow_handler_times_out(bus).await;
    unknown_queue_is_refused(bus).await;
    concurrent_requests_get_their_own_replies(subject.bus.clone()).await;
    waiting_messages_reach_a_batching_handler_together_in_order(&subject.bus).await;
    each_message_of_a_batch_is_settled_by_its_own_result(&subject.bus).await;
    a_panicking_batch_is_redelivered_whole(&subject.bus).await;
    a_handler_that_does_not_batch_still_gets_one_message_per_call(&subject.bus).await;
    the_default_handle_batch_hands_each_message_to_handle_in_order(&subject.bus).await;
}

fn unique_name(case: &str) -> String {
    format!("{case}-{}", Uuid::new_v4().simple())
}

async fn published_message_reaches_its_subscriber_intact(bus: &dyn Bus) {
    let topic = unique_topic("intact");
    let recorder = Arc::new(Recorder::default());
    bus.subscribe(&unique_name("intact"), &[&topic], recorder.clone())
        .await
        .expect("subscribe");

    let sent = message(&topic, 1);
    bus.publish(&sent).await.expect("publish");

    let received = recorder.wait_for(1).await;
    assert_eq!(
        received,
        vec![sent],
        "the message arrives unchanged: id, topic, payload, trace"
    );
}

async fn every_consumer_gets_every_message(bus: &dyn Bus) {
    let topic = unique_topic("fanout");
    let billing = Arc::new(Recorder::default());
    let metadata = Arc::new(Recorder::default());
    bus.subscribe(&unique_name("billing"), &[&topic], billing.clone())
        .await
        .expect("subscribe billing");
    bus.subscribe(&unique_name("metadata"), &[&topic], metadata.clone())
        .await
        .expect("subscribe metadata");

    let sent = [message(&topic, 1), message(&topic, 2)];
    for message in &sent {
        bus.publish(message).await.expect("publish");
    }

    assert_eq!(billing.wait_for(2).await, sent.to_vec());
    assert_eq!(metadata.wait_for(2).await, sent.to_vec());
}

async fn other_topics_are_not_delivered(bus: &dyn Bus) {
    let wanted = unique_topic("wanted");
    let other = format!("{wanted}.other");
    let recorder = Arc::new(Recorder::default());
    bus.subscribe(&unique_name("selective"), &[&wanted], recorder.clone())
        .await
        .expect("subscribe");

    // The unwanted one goes first: had it been routed, it would arrive no
    // later than the wanted one.
    bus.publish(&message(&other, 1))
        .await
        .expect("publish other");
    let sent = message(&wanted, 2);
    bus.publish(&sent).await.expect("publish wanted");

    recorder.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(recorder.received(), vec![sent]);
}

async fn failing_handler_is_redelivered_until_it_succeeds(bus: &dyn Bus) {
    let topic = unique_topic("flaky");
    let recorder = Arc::new(Recorder::failing(2));
    bus.subscribe(&unique_name("flaky"), &[&topic], recorder.clone())
        .await
        .expect("subscribe");

    let sent = message(&topic, 1);
    bus.publish(&sent)
        .await
        .expect("publish succeeds although the handler failed");

    assert_eq!(recorder.wait_for(1).await, vec![sent]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        recorder.attempts(),
        3,
        "two failures, then one success, then nothing more"
    );
}

async fn always_failing_handler_is_dead_lettered(bus: &dyn Bus, max_attempts: u32) {
    let topic = unique_topic("poison");
    let recorder = Arc::new(Recorder::failing(u32::MAX));
    bus.subscribe(&unique_name("poison"), &[&topic], recorder.clone())
        .await
        .expect("subscribe");

    tokio::time::timeout(Duration::from_secs(10), bus.publish(&message(&topic, 1)))
        .await
        .expect("publish returns although the handler never succeeds")
        .expect("publish");

    eventually("every delivery attempt", || {
        recorder.attempts() >= max_attempts
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(recorder.attempts(), max_attempts, "redelivery is bounded");
    assert!(recorder.received().is_empty());
}

async fn poison_message_is_dead_lettered_at_once(bus: &dyn Bus) {
    let topic = unique_topic("permanent");
    let recorder = Arc::new(Recorder::poisoned());
    bus.subscribe(&unique_name("permanent"), &[&topic], recorder.clone())
        .await
        .expect("subscribe");
    bus.publish(&message(&topic, 1)).await.expect("publish");
    eventually("the one delivery", || recorder.attempts() >= 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        recorder.attempts(),
        1,
        "a permanent failure is not redelivered"
    );
}

/// Replies with the request body behind a prefix; sleeps first when the
/// body says how long.
struct Echo {
    delay: Duration,
}

#[async_trait]
impl RequestHandler for Echo {
    async fn handle(&self, body: Vec<u8>) -> Vec<u8> {
        let delay = std::str::from_utf8(&body)
            .ok()
            .and_then(|text| text.strip_prefix("sleep:"))
            .and_then(|millis| millis.parse().ok())
            .map_or(self.delay, Duration::from_millis);
        tokio::time::sleep(delay).await;
        [b"echo:".as_slice(), &body].concat()
    }
}

async fn request_gets_its_reply(bus: &dyn Bus) {
    let queue = unique_name("echo");
    bus.serve(
        &queue,
        Arc::new(Echo {
            delay: Duration::ZERO,
        }),
    )
    .await
    .expect("serve");

    let reply = bus
        .request(&queue, b"ping".to_vec(), Duration::from_secs(5))
        .await
        .expect("request");
    assert_eq!(reply, b"echo:ping");
}

async fn slow_handler_times_out(bus: &dyn Bus) {
    let queue = unique_name("slow");
    bus.serve(
        &queue,
        Arc::new(Echo {
            delay: Duration::from_secs(3),
        }),
    )
    .await
    .expect("serve");

    let started = tokio::time::Instant::now();
    let timeout = Duration::from_millis(100);
    let err = bus
        .request(&queue, b"ping".to_vec(), timeout)
        .await
        .expect_err("the handler is slower than the timeout");
    match err {
        BusError::Timeout {
            queue: timed_out,
            timeout: waited,
        } => {
            assert_eq!(timed_out, queue);
            assert_eq!(waited, timeout);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the caller did not wait for the handler"
    );
}

async fn unknown_queue_is_refused(bus: &dyn Bus) {
    let queue = unique_name("nobody");
    let err = bus
        .request(&queue, b"ping".to_vec(), Duration::from_secs(5))
        .await
        .expect_err("nobody serves the queue");
    assert!(
        matches!(&err, BusError::NoSuchQueue(name) if *name == queue),
        "got {err:?}"
    );
}

async fn concurrent_requests_get_their_own_replies(bus: Arc<dyn Bus>) {
    let queue = unique_name("concurrent");
    bus.serve(
        &queue,
        Arc::new(Echo {
            delay: Duration::ZERO,
        }),
    )
    .await
    .expect("serve");

    // Later requests sleep less, so replies come back out of order and a
    // mixed-up correlation would hand someone else's reply over.
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..40u64 {
        let bus = bus.clone();
        let queue = queue.clone();
        requests.spawn(async move {
            let body = format!("sleep:{}", 200 - n * 5).into_bytes();
            let reply = bus
                .request(&queue, body.clone(), Duration::from_secs(10))
                .await;
            (body, reply)
        });
    }
    let mut replies = 0;
    while let Some(joined) = requests.join_next().await {
        let (body, reply) = joined.expect("request task");
        let reply = reply.expect("request");
        assert_eq!(reply, [b"echo:".as_slice(), &body].concat());
        replies += 1;
    }
    assert_eq!(replies, 40);
}

/// Publishes `message` from a task of its own.
pub(crate) fn spawn_publish(
    bus: &Arc<dyn Bus>,
    publishing: &mut JoinSet<Result<(), BusError>>,
    message: Message,
) {
    let bus = bus.clone();
    publishing.spawn(async move { bus.publish(&message).await });
}

/// Publishes messages `numbers` on `topic` one after the other while the
/// consumer is busy, and waits for them to reach it.
pub(crate) async fn queue_up(
    bus: &Arc<dyn Bus>,
    publishing: &mut JoinSet<Result<(), BusError>>,
    topic: &str,
    numbers: std::ops::RangeInclusive<u32>,
) {
    for n in numbers {
        spawn_publish(bus, publishing, message(topic, n));
        tokio::time::sleep(QUEUE_UP).await;
    }
    tokio::time::sleep(SETTLE).await;
}

pub(crate) async fn all_published(mut publishing: JoinSet<Result<(), BusError>>) {
    while let Some(published) = publishing.join_next().await {
        published.expect("publisher task").expect("publish");
    }
}

async fn waiting_messages_reach_a_batching_handler_together_in_order(bus: &Arc<dyn Bus>) {
    let topic = unique_topic("batched");
    let batcher = Arc::new(Batcher::new(4));
    bus.subscribe(&unique_name("batched"), &[&topic], batcher.clone())
        .await
        .expect("subscribe");

    let mut publishing = JoinSet::new();
    spawn_publish(bus, &mut publishing, message(&topic, 0));
    batcher.wait_for_call(1).await;
    queue_up(bus, &mut publishing, &topic, 1..=6).await;
    batcher.gate.open();

    let received = batcher.wait_for(7).await;
    all_published(publishing).await;
    assert_eq!(numbers(&received), [0, 1, 2, 3, 4, 5, 6], "in order");
    assert_eq!(
        batcher.calls(),
        [vec![0], vec![1, 2, 3, 4], vec![5, 6]],
        "the six that waited came in batches of at most max_batch (4)"
    );
}

async fn each_message_of_a_batch_is_settled_by_its_own_result(bus: &Arc<dyn Bus>) {
    let topic = unique_topic("batch-results");
    let batcher = Arc::new(Batcher::new(10).failing_once(2).poisoned(3));
    bus.subscribe(&unique_name("batch-results"), &[&topic], batcher.clone())
        .await
        .expect("subscribe");

    let mut publishing = JoinSet::new();
    spawn_publish(bus, &mut publishing, message(&topic, 0));
    batcher.wait_for_call(1).await;
    queue_up(bus, &mut publishing, &topic, 1..=4).await;
    batcher.gate.open();

    batcher.wait_for(4).await;
    all_published(publishing).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(batcher.calls()[1], [1, 2, 3, 4], "one batch");
    assert_eq!(
        numbers(&batcher.received()),
        [0, 1, 4, 2],
        "2 failed retryably and succeeded when redelivered; 3 never did"
    );
    let attempts: Vec<u32> = (0..=4).map(|n| batcher.attempts(n)).collect();
    assert_eq!(
        attempts,
        [1, 1, 2, 1, 1],
        "only the retryable failure came again; the permanent one was dead-lettered at once"
    );
}

async fn a_panicking_batch_is_redelivered_whole(bus: &Arc<dyn Bus>) {
    let topic = unique_topic("batch-panic");
    let batcher = Arc::new(Batcher::new(10).panicking_once(2));
    bus.subscribe(&unique_name("batch-panic"), &[&topic], batcher.clone())
        .await
        .expect("subscribe");

    let mut publishing = JoinSet::new();
    spawn_publish(bus, &mut publishing, message(&topic, 0));
    batcher.wait_for_call(1).await;
    queue_up(bus, &mut publishing, &topic, 1..=3).await;
    batcher.gate.open();

    let received = batcher.wait_for(4).await;
    all_published(publishing).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(batcher.calls()[1], [1, 2, 3], "one batch, which panicked");
    let mut handled = numbers(&received);
    handled.sort_unstable();
    assert_eq!(handled, [0, 1, 2, 3], "each handled once in the end");
    let attempts: Vec<u32> = (0..=3).map(|n| batcher.attempts(n)).collect();
    assert_eq!(
        attempts,
        [1, 2, 2, 2],
        "the panic failed every message of its batch, retryably"
    );
}

async fn a_handler_that_does_not_batch_still_gets_one_message_per_call(bus: &Arc<dyn Bus>) {
    let topic = unique_topic("single");
    let single = Arc::new(Single::new());
    bus.subscribe(&unique_name("single"), &[&topic], single.clone())
        .await
        .expect("subscribe");

    let mut publishing = JoinSet::new();
    spawn_publish(bus, &mut publishing, message(&topic, 0));
    eventually("the first call", || single.calls() >= 1).await;
    queue_up(bus, &mut publishing, &topic, 1..=3).await;
    single.gate.open();

    let received = single.wait_for(4).await;
    all_published(publishing).await;
    assert_eq!(numbers(&received), [0, 1, 2, 3]);
    assert_eq!(single.calls(), 4, "one handle call per message");
    assert_eq!(single.batch_calls(), 0, "handle_batch is never called");
    assert_eq!(single.overlapped(), 0, "one at a time");
}

async fn the_default_handle_batch_hands_each_message_to_handle_in_order(bus: &Arc<dyn Bus>) {
    let topic = unique_topic("default-batch");
    let handler = Arc::new(DefaultBatch::new());
    bus.subscribe(&unique_name("default-batch"), &[&topic], handler.clone())
        .await
        .expect("subscribe");

    let mut publishing = JoinSet::new();
    spawn_publish(bus, &mut publishing, message(&topic, 0));
    eventually("the first call", || handler.calls() >= 1).await;
    queue_up(bus, &mut publishing, &topic, 1..=3).await;
    handler.gate.open();

    let received = handler.wait_for(4).await;
    all_published(publishing).await;
    assert_eq!(numbers(&received), [0, 1, 2, 3]);
    assert_eq!(handler.calls(), 4);
}
