//! The distributed mode: storage, metadata, ingestion and gateway each in
//! its own process (the real binary), on PostgreSQL, RabbitMQ and S3 + KMS
//! (moto), running the walking skeleton's whole flow through the gateway.

use std::sync::Arc;
use std::time::Duration;

use callvault_bus::rabbitmq::{RabbitMqBus, RabbitMqOptions};
use callvault_bus::{Bus, EventHandler, HandlerError, Message};
use callvault_e2e::{Callvault, mulaw_wav};
use callvault_testkit::{MotoServer, PgTestDatabase};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{call, create_bpo, create_bucket, onboard, search_until, upload};

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const BUCKET: &str = "recordings";

fn random_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
}

/// A versioned bucket on moto (moto doesn't check signatures, so plain
/// HTTP does).
struct NoOp;

#[async_trait::async_trait]
impl EventHandler for NoOp {
    async fn handle(&self, _message: Message) -> Result<(), HandlerError> {
        Err(HandlerError("cleanup consumer".into()))
    }
}

/// Removes the run's queues and exchanges from the shared broker: declare
/// them again under the same prefix, then delete what was declared.
async fn delete_broker_topology(prefix: &str) {
    let options = RabbitMqOptions {
        exchange: format!("{prefix}callvault.events"),
        dead_letter_exchange: format!("{prefix}callvault.dlx"),
        name_prefix: prefix.to_owned(),
        ..RabbitMqOptions::default()
    };
    let bus = RabbitMqBus::connect(AMQP_URL, options)
        .await
        .expect("rabbitmq for cleanup");
    // Every consumer the services declare: the metadata catalogue and the
    // storage service's key-change re-wrap.
    bus.subscribe("metadata", &["recording.ingested"], Arc::new(NoOp))
        .await
        .expect("declare");
    bus.subscribe("storage", &["tenant.key_changed"], Arc::new(NoOp))
        .await
        .expect("declare");
    bus.delete_declared_topology()
        .await
        .expect("delete topology");
}

#[tokio::test]
async fn every_service_in_its_own_process_on_real_infrastructure() {
    let databases = [
        PgTestDatabase::create().await,
        PgTestDatabase::create().await,
        PgTestDatabase::create().await,
    ];
    let urls = [0, 1, 2].map(|i| databases[i].url.clone());
    let prefix = format!("e2e-{}.", uuid::Uuid::new_v4().simple());
    // The flow runs in its own task so that a failed check still lets the
    // databases and the broker topology be cleaned up (processes and moto
    // are killed as the task unwinds).
    let outcome = tokio::spawn(run_flow(urls, prefix.clone())).await;
    delete_broker_topology(&prefix).await;
    for db in databases {
        db.drop_database().await;
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn run_flow(urls: [String; 3], prefix: String) {
    let [storage_url, metadata_url, ingestion_url] = urls;
    let moto = MotoServer::start();
    let client = reqwest::Client::new();
    create_bucket(&client, &moto.endpoint(), BUCKET).await;
    let (jwt, url_signing, pii, manifest_signing) = (
        random_secret(),
        random_secret(),
        random_secret(),
        random_secret(),
    );
    let endpoint = moto.endpoint();

    let common: Vec<(&str, &str)> = vec![
        ("CALLVAULT_BUS__KIND", "rabbitmq"),
        ("CALLVAULT_BUS__URL", AMQP_URL),
        ("CALLVAULT_BUS__NAME_PREFIX", &prefix),
        ("CALLVAULT_AUTH__HS256_SECRET", &jwt),
        ("CALLVAULT_SECRETS__URL_SIGNING", &url_signing),
        ("CALLVAULT_SECRETS__PII", &pii),
        ("CALLVAULT_SECRETS__MANIFEST_SIGNING", &manifest_signing),
        ("CALLVAULT_DATABASE__STORAGE_URL", &storage_url),
        ("CALLVAULT_DATABASE__METADATA_URL", &metadata_url),
        ("CALLVAULT_DATABASE__INGESTION_URL", &ingestion_url),
        ("CALLVAULT_BLOB__BACKEND", "s3"),
        ("CALLVAULT_BLOB__S3_BUCKET", BUCKET),
        ("CALLVAULT_BLOB__S3_ENDPOINT", &endpoint),
        ("CALLVAULT_KEYS__PROVIDER", "kms"),
        ("CALLVAULT_KEYS__KMS_ENDPOINT", &endpoint),
        ("CALLVAULT_KEYS__KMS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let mut storage = Callvault::start_target("storage", &common).await;
    let mut with_storage = common.clone();
    with_storage.push(("CALLVAULT_STORAGE_URL", &storage.base_url));
    // Metadata first: its queue must exist before ingestion publishes.
    let mut metadata = Callvault::start_target("metadata", &with_storage).await;
    let mut ingestion = Callvault::start_target("ingestion", &with_storage).await;
    let mut gateway = Callvault::start_target("gateway", &with_storage).await;

    for process in [&storage, &metadata, &ingestion, &gateway] {
        let ready = client
            .get(format!("{}/readyz", process.base_url))
            .send()
            .await
            .expect("readyz");
        assert_eq!(
            ready.status(),
            StatusCode::OK,
            "{}",
            ready.text().await.unwrap_or_default()
        );
    }

    // The admin flow goes through the gateway, the upload through ingestion.
    let admin = gateway.admin_token(&[]);
    let bpo = create_bpo(&gateway, &client, &admin, "Distributed BPO").await;
    let tenant = onboard(&gateway, &client, &admin, &bpo, "Distributed Bank").await;
    assert!(tenant.key.starts_with("cvk_"));

    let audio = mulaw_wav(20, 9);
    let response = upload(
        &ingestion,
        &client,
        &tenant.key,
        &call("dist-1", "+819011110000", "agent-3"),
        &audio,
    )
    .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        ingestion.log_text()
    );
    let receipt: Value = response.json().await.expect("receipt");
    let recording = receipt["recording_id"].as_str().expect("id").to_owned();

    let supervisor = gateway.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let found = search_until(
        &gateway,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "phoneNumber": "+819011110000" }),
        1,
    )
    .await;
    assert_eq!(found[0]["id"], recording.as_str());
    let url = found[0]["playbackUrl"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with(&storage.base_url),
        "playback must be served by storage: {url}"
    );
    let part = client
        .get(&url)
        .header("range", "bytes=100000-150000")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.expect("body"), &audio[100_000..150_001]);

    // The catalogue consumer's queue has drained (its lag), and each process
    // reports what it runs: uploads at ingestion, requests at the gateway.
    let metrics = |process: &Callvault| {
        let (client, url) = (client.clone(), format!("{}/metrics", process.base_url));
        async move {
            let response = client.get(url).send().await.expect("metrics");
            response.text().await.expect("text")
        }
    };
    let text = metrics(&metadata).await;
    for line in [
        format!("callvault_consumer_backlog{{queue=\"{prefix}metadata\"}} 0"),
        format!("callvault_consumer_backlog{{queue=\"{prefix}metadata.dead\"}} 0"),
    ] {
        assert!(text.contains(&line), "{line} in {text}");
    }
    let text = metrics(&ingestion).await;
    assert!(
        text.contains("callvault_uploads_total{outcome=\"stored\"} 1"),
        "{text}"
    );
    let text = metrics(&gateway).await;
    assert!(
        text.contains("callvault_rpc_requests_total{service=\"metadata\"}"),
        "{text}"
    );

    // The bytes in S3 are sealed: the object is there, the audio isn't.
    let listing = client
        .get(format!("{endpoint}/{BUCKET}?list-type=2"))
        .send()
        .await
        .expect("list");
    let listing = listing.text().await.expect("xml");
    assert!(
        listing.contains(&recording),
        "no object for the recording in S3"
    );

    for process in [&storage, &metadata, &ingestion, &gateway] {
        let logs = process.log_text();
        assert!(
            !logs.contains("+819011110000") && !logs.contains(&tenant.key),
            "a log carries a number or a key"
        );
    }

    // SIGTERM: each process drains (requests, consumers, relays) and
    // exits cleanly, the consumers before the services they call.
    for process in [&mut gateway, &mut ingestion, &mut metadata, &mut storage] {
        assert!(
            process.terminate(Duration::from_secs(40)).await,
            "no graceful exit:\n{}",
            process.log_text()
        );
        let logs = process.log_text();
        assert!(
            logs.contains("draining") && logs.contains("stopped"),
            "{logs}"
        );
    }
}
