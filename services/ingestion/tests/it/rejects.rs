//! Refused uploads: the right status and code, and nothing stored.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{App, Recorder, call, error_code};
use crate::wav;

#[tokio::test]
async fn wrong_missing_or_revoked_keys_are_401() {
    let app = App::sqlite().await;
    let audio = wav::mulaw_mono_8k(1);
    let wrong = Recorder {
        tenant: app.tenant_a.tenant,
        secret: "cvk_not_a_key".into(),
    };
    let (status, body) = app
        .upload(&wrong, "audio/wav", &call("pbx-1"), audio.clone())
        .await;
    assert_eq!((status, error_code(&body)), (401, "unauthenticated"));

    let response = app
        .client
        .post(format!("{}/v1/recordings", app.url))
        .header("content-type", "audio/wav")
        .header("callvault-call", call("pbx-1").to_string())
        .body(audio.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let (status, body) = crate::support::read(response).await;
    assert_eq!((status, error_code(&body)), (401, "unauthenticated"));

    app.keys.revoke(&app.tenant_a.secret);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-1"), audio)
        .await;
    assert_eq!((status, error_code(&body)), (401, "unauthenticated"));
    assert!(
        !body.to_string().contains(&app.tenant_a.secret),
        "the secret is never echoed"
    );
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_audio_is_422() {
    let app = App::sqlite().await;
    let text = b"hello, this is not a recording\n".repeat(100);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-1"), text)
        .await;
    assert_eq!((status, error_code(&body)), (422, "not_audio"));
    // A RIFF header with garbage after it is not audio either.
    let mut broken = b"RIFF\x24\0\0\0WAVEfmt \x02\0\0\0".to_vec();
    broken.extend_from_slice(&[0xaa; 64]);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-1"), broken)
        .await;
    assert_eq!((status, error_code(&body)), (422, "not_audio"));
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0, "the claim is released");
}

#[tokio::test]
async fn a_body_of_another_type_than_declared_is_415() {
    let app = App::sqlite().await;
    let audio = wav::pcm16_stereo(8_000, 1);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/mpeg", &call("pbx-1"), audio.clone())
        .await;
    assert_eq!((status, error_code(&body)), (415, "unsupported_media"));
    let (status, body) = app
        .upload(&app.tenant_a, "text/plain", &call("pbx-1"), audio)
        .await;
    assert_eq!((status, error_code(&body)), (415, "unsupported_media"));
    app.assert_nothing_stored().await;
}

#[tokio::test]
async fn a_left_right_channel_map_on_mono_audio_is_422_before_anything_is_stored() {
    let app = App::sqlite().await;
    for (agent, customer) in [("left", "right"), ("right", "mixed"), ("left", "")] {
        let mut metadata = call("pbx-mono");
        metadata["agent_channel"] = agent.into();
        if !customer.is_empty() {
            metadata["customer_channel"] = customer.into();
        }
        let (status, body) = app
            .upload(&app.tenant_a, "audio/wav", &metadata, wav::mulaw_mono_8k(2))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (422, "channel_mismatch"),
            "{agent}/{customer}: {body}"
        );
        app.assert_nothing_stored().await;
        assert_eq!(app.upload_rows().await, 0);
    }
    // Mixed fits mono; left and right fit stereo.
    let mut metadata = call("pbx-mono");
    metadata["agent_channel"] = "mixed".into();
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &metadata, wav::mulaw_mono_8k(2))
        .await;
    assert_eq!(status, 201, "{body}");
    let mut metadata = call("pbx-stereo");
    metadata["agent_channel"] = "right".into();
    metadata["customer_channel"] = "left".into();
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &metadata,
            wav::pcm16_stereo(8_000, 2),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_truncated_wav_is_422_before_anything_is_stored() {
    let app = App::sqlite().await;
    let mut audio = wav::mulaw_mono_8k(20);
    audio.truncate(audio.len() - 1_000);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-1"), audio)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (422, "truncated_audio"),
        "{body}"
    );
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0);
}

/// Sends `head` then `body` on a raw connection, closes the sending side,
/// and returns the status and JSON body of the response.
async fn raw_request(app: &App, head: String, body: &[u8]) -> (u16, serde_json::Value) {
    let address = app.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    // Some bytes, then the rest a moment later: the server is mid-stream
    // (past the probe window) when the connection ends.
    let (first, rest) = body.split_at(body.len().min(100_000));
    stream.write_all(first).await.expect("write body");
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(rest).await.expect("write body");
    stream.shutdown().await.expect("close the sending side");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("a response within 10 s")
        .expect("read the response");
    let text = String::from_utf8_lossy(&response);
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {text}"));
    let json = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    (
        status,
        serde_json::from_str(json).unwrap_or_else(|_| panic!("a json body: {text}")),
    )
}

fn head(recorder: &Recorder, external_call_id: &str, length: Option<usize>) -> String {
    let length = length
        .map(|n| format!("content-length: {n}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /v1/recordings HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\n\
         content-type: audio/wav\r\ncallvault-call: {}\r\n{length}connection: close\r\n\r\n",
        recorder.secret,
        call(external_call_id)
    )
}

#[tokio::test]
async fn a_body_shorter_than_content_length_is_400_and_stores_nothing() {
    let app = App::sqlite().await;
    let audio = wav::mulaw_mono_8k(30);
    let head = head(&app.tenant_a, "pbx-short", Some(audio.len() + 5_000));
    let (status, body) = raw_request(&app, head, &audio).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "length_mismatch"),
        "{body}"
    );
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0, "the claim is released");

    // A whole retry then goes through.
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-short"), audio)
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn uploads_with_neither_a_length_nor_chunks_are_411() {
    let app = App::sqlite().await;
    let (status, body) = raw_request(&app, head(&app.tenant_a, "pbx-1", None), &[]).await;
    assert_eq!((status, error_code(&body)), (411, "length_required"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("chunked")),
        "says how to send a body without a length: {body}"
    );
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0);
}

#[tokio::test]
async fn invalid_call_metadata_is_400_naming_the_field() {
    let app = App::sqlite().await;
    let audio = wav::mulaw_mono_8k(1);
    let cases: Vec<(&str, serde_json::Value)> = vec![
        (
            "external_call_id",
            serde_json::json!({ "external_call_id": "" }),
        ),
        (
            "external_call_id",
            serde_json::json!({ "external_call_id": "x".repeat(129) }),
        ),
        (
            "external_call_id",
            serde_json::json!({ "external_call_id": "a\u{7}b" }),
        ),
        ("segment", serde_json::json!({ "segment": 10_001 })),
        ("caller_number", serde_json::json!({ "caller_number": "" })),
        (
            "caller_number",
            serde_json::json!({ "caller_number": "+81 3 1234" }),
        ),
        (
            "callee_number",
            serde_json::json!({ "callee_number": "1".repeat(33) }),
        ),
        (
            "callee_number",
            serde_json::json!({ "callee_number": "call-me" }),
        ),
        (
            "started_at",
            serde_json::json!({ "ended_at": "2025-03-01T08:59:59Z" }),
        ),
        (
            "24 hours",
            serde_json::json!({ "ended_at": "2025-03-02T09:00:01Z" }),
        ),
        ("tags", serde_json::json!({ "tags": vec!["t"; 33] })),
        ("tags", serde_json::json!({ "tags": [""] })),
        ("tags", serde_json::json!({ "tags": ["x".repeat(65)] })),
        ("agent", serde_json::json!({ "agent": "a".repeat(129) })),
        ("queue", serde_json::json!({ "queue": "q".repeat(129) })),
        (
            "agent_channel",
            serde_json::json!({ "agent_channel": "right", "customer_channel": "right" }),
        ),
        ("direction", serde_json::json!({ "direction": null })),
    ];
    for (field, overrides) in cases {
        let mut metadata = call("pbx-1");
        for (key, value) in overrides.as_object().expect("object") {
            metadata[key] = value.clone();
        }
        let (status, body) = app
            .upload(&app.tenant_a, "audio/wav", &metadata, audio.clone())
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "invalid_metadata"),
            "{field}: {body}"
        );
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(field), "{message} should name {field}");
        assert!(
            !message.contains("+81"),
            "{message} must not quote a number"
        );
    }

    let response = app
        .client
        .post(format!("{}/v1/recordings", app.url))
        .header("authorization", format!("Bearer {}", app.tenant_a.secret))
        .header("content-type", "audio/wav")
        .body(audio)
        .send()
        .await
        .expect("upload");
    let (status, body) = crate::support::read(response).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_metadata"));
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0);
}
