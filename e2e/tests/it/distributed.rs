//! The distributed mode: storage, metadata, ingestion and gateway each in
//! its own process (the real binary), on PostgreSQL, RabbitMQ and S3 + KMS
//! (moto), running the walking skeleton's whole flow through the gateway.

use std::time::Duration;

use callvault_e2e::{Callvault, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cluster::{BUCKET, Deployment, Layout, with_deployment};
use crate::support::{call, create_bpo, onboard, search_until, upload};

#[tokio::test]
async fn every_service_in_its_own_process_on_real_infrastructure() {
    with_deployment(Layout::OnePerService, &[], run_flow).await;
}

/// `--target ingestion,storage` and `--target metadata,gateway`.
#[tokio::test]
async fn services_grouped_in_two_processes_on_real_infrastructure() {
    with_deployment(Layout::Grouped, &[], run_flow).await;
}

async fn run_flow(mut deployment: Deployment) {
    let storage = deployment.running("storage");
    let metadata = deployment.running("metadata");
    let ingestion = deployment.running("ingestion");
    let gateway = deployment.running("gateway");
    let (moto, prefix) = (&deployment.moto, deployment.prefix.clone());
    let client = reqwest::Client::new();
    let endpoint = moto.endpoint();

    // The admin flow goes through the gateway, the upload through ingestion.
    let admin = gateway.admin_token(&[]);
    let bpo = create_bpo(gateway, &client, &admin, "Distributed BPO").await;
    let tenant = onboard(gateway, &client, &admin, &bpo, "Distributed Bank").await;
    assert!(tenant.key.starts_with("cvk_"));

    let audio = mulaw_wav(20, 9);
    let response = upload(
        ingestion,
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
        gateway,
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
    let text = metrics(metadata).await;
    for line in [
        format!("callvault_consumer_backlog{{queue=\"{prefix}metadata\"}} 0"),
        format!("callvault_consumer_backlog{{queue=\"{prefix}metadata.dead\"}} 0"),
    ] {
        assert!(text.contains(&line), "{line} in {text}");
    }
    let text = metrics(ingestion).await;
    assert!(
        text.contains("callvault_uploads_total{outcome=\"stored\"} 1"),
        "{text}"
    );
    let text = metrics(gateway).await;
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

    for process in &deployment.processes {
        let logs = process.log_text();
        assert!(
            !logs.contains("+819011110000") && !logs.contains(&tenant.key),
            "a log carries a number or a key"
        );
    }

    // SIGTERM: each process drains (requests, consumers, relays) and
    // exits cleanly, the consumers before the services they call.
    for process in deployment.processes.iter_mut().rev() {
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
