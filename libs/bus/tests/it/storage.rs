//! The storage API adapter (the shredder the metadata service's deletion
//! worker calls): client and server around a stand-in `RecordingShredder`,
//! over the in-process bus and over RabbitMQ.

use std::sync::Arc;
use std::time::Duration;

use callvault_bus::Bus;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::storage::{STORAGE_QUEUE, StorageClient, serve_storage};
use callvault_contracts::RecordingId;
use callvault_contracts::lifecycle_api::{RecordingShredder, StorageRequest};
use callvault_contracts::metadata_api::{ApiError, ErrorCode, MetadataReply};
use uuid::Uuid;

use crate::lifecycle::stand_in::{ShredderStandIn, failing_recording};
use crate::metadata::stand_in::tenant;
use crate::rabbitmq::broker::{Broker, with_broker};

async fn check_shred_round_trips(client: &StorageClient, shredder: &ShredderStandIn) {
    let recording = RecordingId(Uuid::from_u128(77));
    assert_eq!(client.shred(tenant().id, recording).await, Ok(()));
    // Shredding is idempotent: a second call is just another call.
    assert_eq!(client.shred(tenant().id, recording).await, Ok(()));
    let failed = client.shred(tenant().id, failing_recording()).await;
    assert_eq!(
        failed,
        Err(ApiError::new(
            ErrorCode::Unavailable,
            "object store unavailable"
        ))
    );
    let expected: Vec<_> = [recording, recording, failing_recording()]
        .into_iter()
        .map(|recording| {
            serde_json::to_value(StorageRequest::Shred {
                tenant: tenant().id,
                recording,
            })
            .expect("encode")
        })
        .collect();
    assert_eq!(shredder.0.calls(), expected);
}

#[tokio::test]
async fn shred_round_trips_in_process() {
    let bus = Arc::new(InProcessBus::new());
    let shredder = Arc::new(ShredderStandIn::default());
    serve_storage(bus.as_ref(), shredder.clone())
        .await
        .expect("serve storage");
    let client = StorageClient::new(bus.clone(), Duration::from_secs(5));
    check_shred_round_trips(&client, &shredder).await;

    for body in [
        b"{}".to_vec(),
        br#"{"method":"shred","tenant":"x"}"#.to_vec(),
    ] {
        let reply = bus
            .request(STORAGE_QUEUE, body, Duration::from_secs(5))
            .await
            .expect("a reply");
        let reply: MetadataReply = serde_json::from_slice(&reply).expect("a well-formed reply");
        assert_eq!(reply.expect_err("malformed").code, ErrorCode::InvalidInput);
    }
    assert_eq!(
        shredder.0.calls().len(),
        3,
        "malformed requests shred nothing"
    );
}

#[tokio::test]
async fn shred_round_trips_between_two_rabbitmq_processes() {
    with_broker("storage-api", async |broker: &Broker| {
        let server = broker.bus().await;
        let shredder = Arc::new(ShredderStandIn::default());
        serve_storage(&server, shredder.clone())
            .await
            .expect("serve storage");
        let client_bus: Arc<dyn Bus> = Arc::new(broker.bus().await);
        let client = StorageClient::new(client_bus, Duration::from_secs(5));
        check_shred_round_trips(&client, &shredder).await;

        server.close().await.expect("close");
        let gone = client
            .shred(tenant().id, RecordingId(Uuid::from_u128(1)))
            .await;
        assert_eq!(gone.expect_err("no server").code, ErrorCode::Unavailable);
    })
    .await;
}

#[tokio::test]
async fn an_absent_storage_service_is_unavailable() {
    let client = StorageClient::new(Arc::new(InProcessBus::new()), Duration::from_secs(5));
    let err = client
        .shred(tenant().id, RecordingId(Uuid::from_u128(1)))
        .await
        .expect_err("nobody serves storage");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert_eq!(err.message, "storage service unavailable");
    // …and counted as an RPC error for /metrics (nextest runs each test in
    // its own process, so the process-wide counters start at zero).
    let mut metrics = String::new();
    callvault_bus::rpc_metrics::render(&mut metrics);
    assert!(
        metrics.contains("callvault_rpc_requests_total{service=\"storage\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("callvault_rpc_errors_total{service=\"storage\",kind=\"unavailable\"} 1\n"),
        "{metrics}"
    );
}
