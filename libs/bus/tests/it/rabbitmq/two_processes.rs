//! Two `RabbitMqBus` instances with their own connections stand for two
//! service processes: everything between them goes through the broker.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::{Bus, BusError, RequestHandler, RpcClient};
use callvault_contracts::metadata_api::ErrorCode;

use super::broker::{Broker, with_broker};
use crate::rpc::{reverse, run_rpc_suite};
use crate::support::{Recorder, eventually, message, unique_topic};

/// Answers with its name and the request, and counts what it served.
struct Named {
    name: &'static str,
    served: AtomicU32,
}

impl Named {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Named {
            name,
            served: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl RequestHandler for Named {
    async fn handle(&self, body: Vec<u8>) -> Vec<u8> {
        self.served.fetch_add(1, Ordering::SeqCst);
        [self.name.as_bytes(), b":", &body].concat()
    }
}

#[tokio::test]
async fn two_processes_exchange_events_and_requests_both_ways() {
    with_broker("two-processes", async |broker: &Broker| {
        let storage = broker.bus().await;
        let metadata = broker.bus().await;

        let stored = unique_topic("stored");
        let accessed = unique_topic("accessed");
        let at_metadata = Arc::new(Recorder::default());
        let at_storage = Arc::new(Recorder::default());
        metadata
            .subscribe("metadata", &[&stored], at_metadata.clone())
            .await
            .expect("subscribe metadata");
        storage
            .subscribe("storage", &[&accessed], at_storage.clone())
            .await
            .expect("subscribe storage");
        let to_metadata = message(&stored, 1);
        let to_storage = message(&accessed, 2);
        storage.publish(&to_metadata).await.expect("publish");
        metadata.publish(&to_storage).await.expect("publish");
        assert_eq!(at_metadata.wait_for(1).await, vec![to_metadata]);
        assert_eq!(at_storage.wait_for(1).await, vec![to_storage]);

        metadata
            .serve("metadata", Named::new("metadata"))
            .await
            .expect("serve");
        storage
            .serve("storage", Named::new("storage"))
            .await
            .expect("serve");
        let timeout = Duration::from_secs(5);
        let reply = storage.request("metadata", b"ping".to_vec(), timeout).await;
        assert_eq!(reply.expect("request"), b"metadata:ping");
        let reply = metadata.request("storage", b"pong".to_vec(), timeout).await;
        assert_eq!(reply.expect("request"), b"storage:pong");
    })
    .await;
}

#[tokio::test]
async fn replicas_of_a_service_share_its_events_and_requests() {
    with_broker("replicas", async |broker: &Broker| {
        let first = broker.bus().await;
        let second = broker.bus().await;
        let caller = broker.bus().await;

        let topic = unique_topic("shared");
        let first_events = Arc::new(Recorder::default());
        let second_events = Arc::new(Recorder::default());
        first
            .subscribe("billing", &[&topic], first_events.clone())
            .await
            .expect("subscribe");
        second
            .subscribe("billing", &[&topic], second_events.clone())
            .await
            .expect("subscribe");
        let sent: Vec<_> = (0..20).map(|n| message(&topic, n)).collect();
        for message in &sent {
            caller.publish(message).await.expect("publish");
        }
        let handled = || first_events.received().len() + second_events.received().len();
        eventually("every event handled", || handled() >= sent.len()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ids: BTreeSet<_> = first_events
            .received()
            .into_iter()
            .chain(second_events.received())
            .map(|message| message.id)
            .collect();
        assert_eq!(handled(), sent.len(), "each event handled once");
        assert_eq!(ids, sent.iter().map(|message| message.id).collect());

        let first_server = Named::new("replica");
        let second_server = Named::new("replica");
        first
            .serve("billing", first_server.clone())
            .await
            .expect("serve");
        second
            .serve("billing", second_server.clone())
            .await
            .expect("serve");
        for _ in 0..10 {
            let reply = caller
                .request("billing", b"bill".to_vec(), Duration::from_secs(5))
                .await;
            assert_eq!(reply.expect("request"), b"replica:bill");
        }
        let first_count = first_server.served.load(Ordering::SeqCst);
        let second_count = second_server.served.load(Ordering::SeqCst);
        assert_eq!(first_count + second_count, 10, "each request served once");
        assert!(
            first_count > 0 && second_count > 0,
            "the broker spreads requests: {first_count} and {second_count}"
        );
    })
    .await;
}

#[tokio::test]
async fn operations_work_between_two_processes() {
    with_broker("operations", async |broker: &Broker| {
        let server = broker.bus().await;
        let client_bus: Arc<dyn Bus> = Arc::new(broker.bus().await);
        run_rpc_suite(Arc::new(server.clone()), client_bus.clone()).await;

        // The serving process goes away, and its request queue with it.
        server.close().await.expect("close");
        let err = client_bus
            .request("storage", b"{}".to_vec(), Duration::from_secs(5))
            .await
            .expect_err("nobody serves storage any more");
        assert!(matches!(err, BusError::NoSuchQueue(_)), "got {err:?}");
        let client = RpcClient::new(client_bus, Duration::from_secs(5));
        let gone = client.call(reverse("x")).await;
        assert_eq!(gone.expect_err("no server").code, ErrorCode::Unavailable);
    })
    .await;
}
