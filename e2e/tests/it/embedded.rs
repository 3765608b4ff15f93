//! The walking skeleton in embedded mode: onboard, upload, find, play.

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard, search_until, upload};

const CALLER: &str = "+819012345678";

#[tokio::test]
async fn upload_find_by_agent_and_number_then_play_a_range() {
    let cv = Callvault::start_embedded().await;
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("{}/readyz", cv.base_url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;

    let audio = mulaw_wav(30, 1);
    let response = upload(
        &cv,
        &client,
        &tenant.key,
        &call("call-1", CALLER, "agent-7"),
        &audio,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: Value = response.json().await.expect("receipt");
    assert_eq!(receipt["codec"], "wav/pcm_mulaw");
    assert_eq!(receipt["sample_rate"], 8000);
    assert_eq!(receipt["channels"], 1);
    assert_eq!(receipt["duration_ms"], 30_000);
    assert_eq!(receipt["size"], audio.len());
    let recording_id = receipt["recording_id"].as_str().expect("id").to_owned();

    // A retried upload returns the first result and stores nothing twice.
    let retry = upload(
        &cv,
        &client,
        &tenant.key,
        &call("call-1", CALLER, "agent-7"),
        &audio,
    )
    .await;
    assert_eq!(retry.status(), StatusCode::OK);
    let replay: Value = retry.json().await.expect("replay");
    assert_eq!(replay["recording_id"], recording_id.as_str());
    assert_eq!(replay["replayed"], true);

    let supervisor = cv.admin_token(&[
        "--role",
        "supervisor",
        "--tenant",
        &tenant.id,
        "--subject",
        "qa@example.com",
    ]);
    let by_agent = search_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "agent": "agent-7" }),
        1,
    )
    .await;
    assert_eq!(by_agent[0]["id"], recording_id.as_str());
    let by_caller = search_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "phoneNumber": CALLER }),
        1,
    )
    .await;
    assert_eq!(by_caller[0]["callerNumber"], CALLER);
    search_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "phoneNumber": "+81355550100" }),
        1,
    )
    .await;
    search_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "phoneNumber": "+819099999999" }),
        0,
    )
    .await;
    search_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "agent": "agent-8" }),
        0,
    )
    .await;

    // Play: a byte range of the encrypted recording, then all of it.
    let url = by_agent[0]["playbackUrl"]
        .as_str()
        .expect("playback url")
        .to_owned();
    let part = client
        .get(&url)
        .header("range", "bytes=1000-20999")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.expect("body"), &audio[1000..21000]);
    let whole = client.get(&url).send().await.expect("whole");
    assert_eq!(whole.bytes().await.expect("body"), audio);

    // Bad input changes nothing: not audio, and a tampered playback URL.
    let not_audio = upload(
        &cv,
        &client,
        &tenant.key,
        &call("call-2", CALLER, "agent-7"),
        b"hello, I am not a wav file",
    )
    .await;
    assert!(
        not_audio.status().is_client_error(),
        "{}",
        not_audio.status()
    );
    let error: Value = not_audio.json().await.expect("json error");
    assert!(error["error"]["code"].is_string());
    search_until(&cv, &client, &supervisor, &tenant.id, json!({}), 1).await;
    let tampered = url.replace(&recording_id[..8], "00000000");
    let response = client.get(&tampered).send().await.expect("tampered");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Every event reached the catalogue: nothing is left in the outboxes.
    let metrics = client
        .get(format!("{}/metrics", cv.base_url))
        .send()
        .await
        .expect("metrics");
    let metrics = metrics.text().await.expect("text");
    assert!(
        metrics.contains("callvault_outbox_backlog{database=\"ingestion database\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("callvault_dependency_up{dependency=\"storage database\"} 1"),
        "{metrics}"
    );
    // One stored, one replayed, one refused (not audio), with its bytes.
    for line in [
        "callvault_uploads_total{outcome=\"stored\"} 1".to_owned(),
        "callvault_uploads_total{outcome=\"replayed\"} 1".to_owned(),
        "callvault_uploads_total{outcome=\"refused\"} 1".to_owned(),
        format!("callvault_upload_bytes_total {}", audio.len()),
        "callvault_upload_duration_seconds_count 3".to_owned(),
        "callvault_rpc_requests_total{service=\"metadata\"}".to_owned(),
    ] {
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }

    // Nothing personal or secret reached the logs.
    let logs = cv.log_text();
    assert!(
        logs.contains("recording ingested"),
        "the log capture is empty or changed:\n{logs}"
    );
    for secret in [
        CALLER,
        "+81355550100",
        "819012345678",
        tenant.key.as_str(),
        admin.as_str(),
        supervisor.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "the logs contain a phone number or a secret"
        );
    }
}

#[tokio::test]
async fn bad_tokens_and_keys_get_nothing() {
    let cv = Callvault::start_embedded().await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Bank").await;

    // A recorder key is not an API token, and a forged token is nothing.
    let forged = format!("{}x", &admin[..admin.len() - 1]);
    for token in [tenant.key.as_str(), forged.as_str(), "not-a-jwt"] {
        let result = graphql(&client, &cv.base_url, token, "{ bpos { id } }", json!({})).await;
        assert_eq!(result, Err("UNAUTHENTICATED".to_owned()));
    }
    // A token of another deployment (another secret) is refused too.
    let other = Callvault::start_embedded().await;
    let foreign = other.admin_token(&[]);
    let result = graphql(
        &client,
        &cv.base_url,
        &foreign,
        "{ bpos { id } }",
        json!({}),
    )
    .await;
    assert_eq!(result, Err("UNAUTHENTICATED".to_owned()));

    // Uploads need a live recorder key.
    let audio = mulaw_wav(1, 2);
    for key in ["cvk_unknown", admin.as_str()] {
        let response = upload(
            &cv,
            &client,
            key,
            &call("call-x", CALLER, "agent-1"),
            &audio,
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}
