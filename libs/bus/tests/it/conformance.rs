//! What every [`Bus`] implementation must do, written against `dyn Bus`
//! only: a RabbitMQ bus is checked by calling [`run_conformance_suite`]
//! with it. The suite uses fresh topic and queue names in every case, so one
//! bus (one broker) serves all of them, and it waits for deliveries instead
//! of assuming `publish` did (RabbitMQ's publish returns on the broker's
//! confirm, before the consumers ran).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::{Bus, BusError, RequestHandler};
use uuid::Uuid;

use crate::support::{Recorder, eventually, message, unique_topic};

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
