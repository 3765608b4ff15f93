//! The RabbitMQ bus against the broker on this machine: the conformance
//! suite, plus what only RabbitMQ has (queue types and arguments, dead-letter
//! queues, headers on the wire, separate processes, connection recovery).

mod batches;
pub(crate) mod broker;
mod drain;
mod recovery;
mod two_processes;

use std::sync::Arc;
use std::time::Duration;

use callvault_bus::rabbitmq::{RabbitMqBus, RabbitMqOptions};
use callvault_bus::{Bus, BusError, Message};
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, ErrorKind};

use crate::conformance::{BusUnderTest, run_conformance_suite};
use crate::support::{PATIENCE, Recorder, message, unique_topic};
use broker::{Broker, DELIVERY_LIMIT, with_broker};

#[tokio::test]
async fn rabbitmq_bus_passes_the_conformance_suite() {
    with_broker("conformance", async |broker: &Broker| {
        run_conformance_suite(BusUnderTest {
            bus: Arc::new(broker.bus().await),
            max_attempts: DELIVERY_LIMIT + 1,
        })
        .await;
    })
    .await;
}

/// The arguments a consumer queue must have, written out independently of
/// the implementation.
fn expected_arguments(broker: &Broker, queue: &str, delivery_limit: i32) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(broker.options.dead_letter_exchange.as_str().into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(queue.into()),
    );
    arguments.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(delivery_limit),
    );
    arguments
}

/// Declares `queue` durable with `arguments` on a throwaway channel: RabbitMQ
/// accepts a redeclaration only if it is equivalent to the queue as it is,
/// which is how AMQP tells a queue's type and arguments.
async fn redeclare(
    broker: &Broker,
    queue: &str,
    arguments: FieldTable,
) -> Result<(), lapin::Error> {
    let (connection, channel) = broker.raw_channel().await;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let outcome = channel
        .queue_declare(queue.into(), durable, arguments)
        .await
        .map(|_| ());
    let _ = connection.close(200, "done".into()).await;
    outcome
}

fn is_precondition_failed(err: &lapin::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ProtocolError(amqp)
            if *amqp.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)
    )
}

#[tokio::test]
async fn consumer_queues_are_quorum_queues_with_an_explicit_delivery_limit() {
    with_broker("topology", async |broker: &Broker| {
        let bus = broker.bus().await;
        bus.subscribe("billing", &["recording.*"], Arc::new(Recorder::default()))
            .await
            .expect("subscribe");
        let queue = bus.consumer_queue("billing");
        let limit = i32::try_from(DELIVERY_LIMIT).expect("small limit");

        redeclare(broker, &queue, expected_arguments(broker, &queue, limit))
            .await
            .expect("the queue has exactly these arguments");
        let err = redeclare(
            broker,
            &queue,
            expected_arguments(broker, &queue, limit + 1),
        )
        .await
        .expect_err("another delivery limit is refused");
        assert!(is_precondition_failed(&err), "got {err}");
        let mut classic = expected_arguments(broker, &queue, limit);
        classic.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("classic".into()),
        );
        let err = redeclare(broker, &queue, classic)
            .await
            .expect_err("it is not a classic queue");
        assert!(is_precondition_failed(&err), "got {err}");

        let mut quorum = FieldTable::default();
        quorum.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        redeclare(broker, &bus.dead_letter_queue("billing"), quorum)
            .await
            .expect("the dead-letter queue is a plain quorum queue");

        // Subscribing again (a restarted service) keeps the arguments, so
        // the redeclaration is accepted.
        bus.subscribe("billing", &["recording.*"], Arc::new(Recorder::default()))
            .await
            .expect("subscribe again");
    })
    .await;
}

/// Polls `queue` until it holds a message.
async fn get_one(channel: &Channel, queue: &str) -> lapin::message::BasicGetMessage {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let got = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        if let Some(message) = got {
            return message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing arrived in {queue}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_message_that_always_fails_lands_in_the_dead_letter_queue() {
    with_broker("dead-letters", async |broker: &Broker| {
        let bus = broker.bus().await;
        let topic = unique_topic("poison");
        let recorder = Arc::new(Recorder::failing(u32::MAX));
        bus.subscribe("poisoned", &[&topic], recorder.clone())
            .await
            .expect("subscribe");
        let bystander = Arc::new(Recorder::default());
        bus.subscribe("bystander", &[&topic], bystander.clone())
            .await
            .expect("subscribe");

        let sent = message(&topic, 1);
        bus.publish(&sent).await.expect("publish");

        // The consumer backlog (/metrics) shows it in the dead-letter queue.
        let dead_queue = bus.dead_letter_queue("poisoned");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let backlog = loop {
            let backlog = bus.consumer_backlog().await.expect("backlog");
            let dead = backlog.iter().find(|(queue, _)| *queue == dead_queue);
            if dead.is_some_and(|(_, depth)| *depth == 1) || std::time::Instant::now() > deadline {
                break backlog;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let depth = |queue: String| backlog.iter().find(|(q, _)| *q == queue).map(|(_, d)| *d);
        assert_eq!(depth(dead_queue.clone()), Some(1), "{backlog:?}");
        assert_eq!(
            depth(bus.consumer_queue("poisoned")),
            Some(0),
            "{backlog:?}"
        );
        assert_eq!(
            depth(bus.dead_letter_queue("bystander")),
            Some(0),
            "{backlog:?}"
        );

        let (connection, channel) = broker.raw_channel().await;
        let dead = get_one(&channel, &bus.dead_letter_queue("poisoned")).await;
        assert_eq!(recorder.attempts(), DELIVERY_LIMIT + 1);
        let id = dead.delivery.properties.message_id().clone();
        assert_eq!(id.map(|id| id.to_string()), Some(sent.id.to_string()));
        let body: Message = serde_json::from_slice(&dead.delivery.data).expect("a message");
        assert_eq!(body, sent, "dead-lettered intact");

        assert_eq!(bystander.wait_for(1).await, vec![sent]);
        let nothing = channel
            .basic_get(
                bus.dead_letter_queue("bystander").as_str().into(),
                BasicGetOptions { no_ack: true },
            )
            .await
            .expect("basic.get");
        assert!(nothing.is_none(), "dead letters stay with their consumer");
        let _ = connection.close(200, "done".into()).await;
    })
    .await;
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_without_retries() {
    with_broker("malformed", async |broker: &Broker| {
        let bus = broker.bus().await;
        let topic = unique_topic("garbage");
        let recorder = Arc::new(Recorder::default());
        bus.subscribe("strict", &[&topic], recorder.clone())
            .await
            .expect("subscribe");

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
        let dead = get_one(&channel, &bus.dead_letter_queue("strict")).await;
        assert_eq!(dead.delivery.data, b"not a message");
        assert_eq!(recorder.attempts(), 0, "the handler never saw it");

        // The consumer carries on with the next one.
        let sent = message(&topic, 2);
        bus.publish(&sent).await.expect("publish");
        assert_eq!(recorder.wait_for(1).await, vec![sent]);
        let _ = connection.close(200, "done".into()).await;
    })
    .await;
}

#[tokio::test]
async fn messages_carry_their_metadata_and_traceparent_in_amqp_properties() {
    with_broker("headers", async |broker: &Broker| {
        let topic = unique_topic("traced");
        let publisher = broker.bus().await;
        // A queue of the test's own, read without the bus.
        let (connection, channel) = broker.raw_channel().await;
        let wire = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions::exclusive(),
                FieldTable::default(),
            )
            .await
            .expect("declare a private queue");
        channel
            .queue_bind(
                wire.name().clone(),
                broker.options.exchange.as_str().into(),
                topic.as_str().into(),
                Default::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind it");

        let sent = message(&topic, 1);
        publisher.publish(&sent).await.expect("publish");

        let got = get_one(&channel, wire.name().as_str()).await;
        let properties = &got.delivery.properties;
        let text =
            |value: &Option<lapin::types::ShortString>| value.as_ref().map(|v| v.to_string());
        assert_eq!(text(properties.message_id()), Some(sent.id.to_string()));
        assert_eq!(text(properties.kind()), Some(topic.clone()));
        assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
        let headers = properties.headers().clone().expect("headers");
        let headers = headers.inner();
        assert_eq!(
            headers.get("traceparent"),
            Some(&AMQPValue::LongString(
                sent.traceparent.clone().expect("traced").as_str().into()
            ))
        );
        let version = headers.get("version").expect("version header");
        assert!(
            matches!(
                version,
                AMQPValue::LongUInt(1) | AMQPValue::LongInt(1) | AMQPValue::LongLongInt(1)
            ),
            "version header: {version:?}"
        );
        let body: Message = serde_json::from_slice(&got.delivery.data).expect("a message");
        assert_eq!(body, sent);
        let _ = connection.close(200, "done".into()).await;
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_broker_is_unavailable_within_the_connect_timeout() {
    let options = RabbitMqOptions {
        connect_timeout: Duration::from_secs(1),
        ..RabbitMqOptions::default()
    };
    let started = tokio::time::Instant::now();
    // Nothing listens on port 1.
    let err = RabbitMqBus::connect("amqp://guest:guest@127.0.0.1:1/%2f", options)
        .await
        .err()
        .expect("no broker there");
    assert!(matches!(err, BusError::Unavailable(_)), "got {err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}
