//! A recorder streaming a call as it happens: `curl` reads the recording
//! from a pipe, so it knows no length and sends the body chunked. The
//! binary (embedded, through its HTTP framing layer) stores it whole, finds
//! it by its call id and plays it back byte for byte; a stream past the
//! site's limit is refused and leaves nothing.

use std::io::Write;
use std::process::{Command, Stdio};

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard};

/// `curl` posting `audio` through its stdin, chunked; the status and body.
fn curl_streamed(cv: &Callvault, key: &str, call: &Value, audio: &[u8]) -> (u16, Value) {
    let mut child = Command::new("curl")
        .args([
            "-sS",
            "-X",
            "POST",
            "-w",
            "\n%{http_code}",
            "-H",
            &format!("Authorization: Bearer {key}"),
            "-H",
            "Content-Type: audio/wav",
            "-H",
            &format!("Callvault-Call: {call}"),
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "@-",
            &format!("{}/v1/recordings", cv.base_url),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl (the e2e tests need it on PATH)");
    {
        let mut stdin = child.stdin.take().expect("curl's stdin");
        // Written in pieces, as a recorder would while the call goes on.
        for piece in audio.chunks(16 * 1024) {
            if stdin.write_all(piece).is_err() {
                // curl stopped reading: the server answered early.
                break;
            }
        }
    }
    let output = child.wait_with_output().expect("curl output");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    let status: u16 = status.trim().parse().expect("status");
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn curl_streams_a_recording_without_a_length() {
    let cv = Callvault::start_with(&[("CALLVAULT_INGESTION__MAX_UPLOAD_BYTES", "1000000")]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;

    // 30 s of 8 kHz µ-law: 240 KB, several times the probe window.
    let audio = mulaw_wav(30, 7);
    let (status, receipt) = curl_streamed(
        &cv,
        &tenant.key,
        &call("pbx-stream-1", "+819012345678", "agent-7"),
        &audio,
    );
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["size"], audio.len());
    assert_eq!(receipt["duration_ms"], 30_000);

    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let mut found = Value::Null;
    for _ in 0..100 {
        found = graphql(
            &client,
            &cv.base_url,
            &supervisor,
            "query($t: UUID!) { call(tenantId: $t, externalCallId: \"pbx-stream-1\") { segments { id size playbackUrl } } }",
            json!({ "t": tenant.id }),
        )
        .await
        .expect("call query");
        if !found["call"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let segment = &found["call"]["segments"][0];
    assert_eq!(segment["id"], receipt["recording_id"]);
    let url = segment["playbackUrl"].as_str().expect("playback url");
    let played = client.get(url).send().await.expect("play");
    assert_eq!(
        played.bytes().await.expect("body"),
        audio,
        "played back whole"
    );

    // 150 s is 1.2 MB: past this site's 1 MB limit while it streams.
    let mut long_call = call("pbx-stream-2", "+819012345678", "agent-7");
    long_call["ended_at"] = json!("2026-11-29T09:03:00Z");
    let (status, refused) = curl_streamed(&cv, &tenant.key, &long_call, &mulaw_wav(150, 8));
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["error"]["code"], "payload_too_large");
    let none = graphql(
        &client,
        &cv.base_url,
        &supervisor,
        "query($t: UUID!) { call(tenantId: $t, externalCallId: \"pbx-stream-2\") { externalCallId } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("call query");
    assert!(none["call"].is_null(), "nothing kept: {none}");
}
