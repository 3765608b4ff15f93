//! The in-process bus: the conformance suite, plus what only it promises
//! (publish waits for the consumers, in-memory dead letters).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::in_process::{InProcessBus, RetryPolicy, topic_matches};
use callvault_bus::{Bus, EventHandler, HandlerError, Message, RequestHandler};

use crate::conformance::{
    BusUnderTest, all_published, queue_up, run_conformance_suite, spawn_publish,
};
use crate::support::{Batcher, Recorder, message, numbers, unique_topic};

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn in_process_bus_passes_the_conformance_suite() {
    // Same attempts as the default policy, without its seconds of backoff.
    let max_attempts = RetryPolicy::default().max_attempts;
    run_conformance_suite(BusUnderTest {
        bus: Arc::new(InProcessBus::with_retry_policy(fast_retries(max_attempts))),
        max_attempts,
    })
    .await;
}

/// Takes its time, then records.
struct Slow(Recorder);

#[async_trait]
impl EventHandler for Slow {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.0.handle(message).await
    }
}

#[tokio::test]
async fn publish_returns_once_every_consumer_handled_the_message() {
    let bus = InProcessBus::new();
    let topic = unique_topic("sync");
    let slow = Arc::new(Slow(Recorder::default()));
    let flaky = Arc::new(Recorder::failing(2));
    bus.subscribe("slow", &[&topic], slow.clone())
        .await
        .expect("subscribe");
    bus.subscribe("flaky", &[&topic], flaky.clone())
        .await
        .expect("subscribe");

    let sent = message(&topic, 1);
    bus.publish(&sent).await.expect("publish");

    // No waiting: the relay marks a row sent right after this returns.
    assert_eq!(slow.0.received(), vec![sent.clone()]);
    assert_eq!(flaky.received(), vec![sent]);
    assert_eq!(flaky.attempts(), 3);
}

#[tokio::test]
async fn dead_letters_name_the_consumer_and_keep_the_message() {
    let bus = InProcessBus::with_retry_policy(fast_retries(3));
    let topic = unique_topic("dead");
    let poisoned = Arc::new(Recorder::failing(u32::MAX));
    let healthy = Arc::new(Recorder::default());
    bus.subscribe("poisoned", &[&topic], poisoned.clone())
        .await
        .expect("subscribe");
    bus.subscribe("healthy", &[&topic], healthy.clone())
        .await
        .expect("subscribe");

    let sent = message(&topic, 1);
    bus.publish(&sent).await.expect("publish");

    assert_eq!(poisoned.attempts(), 3);
    assert_eq!(healthy.received(), vec![sent.clone()]);
    assert_eq!(bus.dead_letters(), vec![("poisoned".to_owned(), sent)]);
}

struct Panics;

#[async_trait]
impl EventHandler for Panics {
    async fn handle(&self, _message: Message) -> Result<(), HandlerError> {
        panic!("handler bug");
    }
}

#[tokio::test]
async fn a_panicking_handler_counts_as_a_failed_delivery() {
    let bus = InProcessBus::with_retry_policy(fast_retries(2));
    let topic = unique_topic("panic");
    bus.subscribe("panics", &[&topic], Arc::new(Panics))
        .await
        .expect("subscribe");

    let sent = message(&topic, 1);
    bus.publish(&sent)
        .await
        .expect("publish survives the panic");
    assert_eq!(bus.dead_letters(), vec![("panics".to_owned(), sent)]);
}

#[tokio::test]
async fn publishing_to_a_topic_nobody_subscribes_to_succeeds() {
    let bus = InProcessBus::new();
    bus.publish(&message(&unique_topic("void"), 1))
        .await
        .expect("publish");
    assert!(bus.dead_letters().is_empty());
}

#[test]
fn topic_patterns_match_like_a_rabbitmq_topic_exchange() {
    let cases = [
        ("recording.stored", "recording.stored", true),
        ("recording.stored", "recording.shredded", false),
        ("recording.*", "recording.stored", true),
        ("recording.*", "recording", false),
        ("recording.*", "recording.stored.v2", false),
        ("*.stored", "recording.stored", true),
        ("recording.#", "recording", true),
        ("recording.#", "recording.stored.v2", true),
        ("#", "anything.at.all", true),
        ("#.stored", "recording.stored", true),
        ("#.stored", "stored", true),
        ("a.#.z", "a.b.c.z", true),
        ("a.#.z", "a.z", true),
        ("a.#.z", "a.b.c", false),
        ("a.*.z", "a.z", false),
    ];
    for (pattern, topic, expected) in cases {
        assert_eq!(
            topic_matches(pattern, topic),
            expected,
            "{pattern} against {topic}"
        );
    }
}

#[tokio::test]
async fn wildcard_subscriptions_get_matching_topics_only() {
    let bus = InProcessBus::new();
    let prefix = unique_topic("wild");
    let one_word = Arc::new(Recorder::default());
    let everything = Arc::new(Recorder::default());
    bus.subscribe("one-word", &[&format!("{prefix}.*")], one_word.clone())
        .await
        .expect("subscribe");
    bus.subscribe("everything", &["#"], everything.clone())
        .await
        .expect("subscribe");

    let stored = message(&format!("{prefix}.stored"), 1);
    let nested = message(&format!("{prefix}.stored.v2"), 2);
    bus.publish(&stored).await.expect("publish");
    bus.publish(&nested).await.expect("publish");

    assert_eq!(one_word.received(), vec![stored.clone()]);
    assert_eq!(everything.received(), vec![stored, nested]);
}

/// Counts how many deliveries run at the same time.
#[derive(Default)]
struct Overlap {
    running: AtomicUsize,
    most: AtomicUsize,
    handled: AtomicUsize,
}

#[async_trait]
impl EventHandler for Overlap {
    async fn handle(&self, _message: Message) -> Result<(), HandlerError> {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(running, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_handles_one_message_at_a_time() {
    let bus = InProcessBus::new();
    let topic = unique_topic("serial");
    let overlap = Arc::new(Overlap::default());
    bus.subscribe("serial", &[&topic], overlap.clone())
        .await
        .expect("subscribe");

    let mut publishers = tokio::task::JoinSet::new();
    for n in 0..20 {
        let bus = bus.clone();
        let message = message(&topic, n);
        publishers.spawn(async move { bus.publish(&message).await });
    }
    while let Some(published) = publishers.join_next().await {
        published.expect("publisher task").expect("publish");
    }

    assert_eq!(overlap.handled.load(Ordering::SeqCst), 20);
    assert_eq!(overlap.most.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn subscribing_a_consumer_again_replaces_its_subscription() {
    let bus = InProcessBus::new();
    let old_topic = unique_topic("old");
    let new_topic = unique_topic("new");
    let before = Arc::new(Recorder::default());
    let after = Arc::new(Recorder::default());
    bus.subscribe("restarted", &[&old_topic], before.clone())
        .await
        .expect("subscribe");
    bus.subscribe("restarted", &[&new_topic], after.clone())
        .await
        .expect("subscribe again");

    bus.publish(&message(&old_topic, 1)).await.expect("publish");
    let sent = message(&new_topic, 2);
    bus.publish(&sent).await.expect("publish");

    assert!(before.received().is_empty());
    assert_eq!(after.received(), vec![sent]);
}

struct Named(&'static str);

#[async_trait]
impl RequestHandler for Named {
    async fn handle(&self, _body: Vec<u8>) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }
}

#[tokio::test]
async fn serving_a_queue_twice_shares_the_requests_round_robin() {
    let bus = InProcessBus::new();
    bus.serve("shared", Arc::new(Named("a")))
        .await
        .expect("serve");
    bus.serve("shared", Arc::new(Named("b")))
        .await
        .expect("serve");

    let mut replies = Vec::new();
    for _ in 0..4 {
        let reply = bus
            .request("shared", Vec::new(), Duration::from_secs(5))
            .await
            .expect("request");
        replies.push(String::from_utf8(reply).expect("utf-8 reply"));
    }
    assert_eq!(replies, ["a", "b", "a", "b"]);
}

#[tokio::test]
async fn a_batch_dead_letters_only_the_messages_that_failed_for_good() {
    let bus = InProcessBus::with_retry_policy(fast_retries(3));
    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let topic = unique_topic("batch-dead");
    let batcher = Arc::new(Batcher::new(10).failing_once(2).poisoned(3));
    bus.subscribe("batching", &[&topic], batcher.clone())
        .await
        .expect("subscribe");

    let mut publishing = tokio::task::JoinSet::new();
    spawn_publish(&shared, &mut publishing, message(&topic, 0));
    batcher.wait_for_call(1).await;
    queue_up(&shared, &mut publishing, &topic, 1..=4).await;
    batcher.gate.open();
    // Each publish returns once its own message was handled or dead-lettered.
    all_published(publishing).await;

    assert_eq!(batcher.calls(), [vec![0], vec![1, 2, 3, 4], vec![2]]);
    assert_eq!(numbers(&batcher.received()), [0, 1, 4, 2]);
    let dead: Vec<(String, u32)> = bus
        .dead_letters()
        .into_iter()
        .map(|(consumer, message)| (consumer, numbers(&[message])[0]))
        .collect();
    assert_eq!(dead, [("batching".to_owned(), 3)]);
}
