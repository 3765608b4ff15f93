//! Malformed HTTP framing, over raw TCP to the real binary: each class is
//! answered with the JSON error body every route uses (never actix's empty
//! 400), then the connection closes; answers already owed on the same
//! connection go first.

use std::time::Duration;

use callvault_e2e::Callvault;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{call, create_bpo, onboard};

/// Sends `request` on a fresh connection and reads until the server closes.
async fn exchange(cv: &Callvault, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(cv.base_url.trim_start_matches("http://"))
        .await
        .expect("connect");
    stream.write_all(request).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .expect("read");
    answer
}

/// Splits a stream of HTTP/1.1 responses into (status, headers, body), by
/// their `content-length`.
fn responses(mut bytes: &[u8]) -> Vec<(u16, String, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status code");
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().expect("a length"));
        let body = bytes[end + 4..end + 4 + length].to_vec();
        bytes = &bytes[end + 4 + length..];
        out.push((status, head, body));
    }
    assert!(bytes.is_empty(), "trailing bytes: {bytes:?}");
    out
}

/// The one answer to `request`: its status and JSON error code.
async fn refused(cv: &Callvault, request: &[u8]) -> (u16, String) {
    let answer = exchange(cv, request).await;
    let responses = responses(&answer);
    assert_eq!(responses.len(), 1, "one answer: {responses:?}");
    let (status, head, body) = &responses[0];
    assert!(
        head.contains("content-type: application/json"),
        "json: {head}"
    );
    let body: Value = serde_json::from_slice(body).expect("a json body");
    assert!(body["error"]["message"].is_string(), "{body}");
    (
        *status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

fn malformed() -> (u16, String) {
    (400, "malformed_request".to_owned())
}

#[tokio::test]
async fn every_framing_error_gets_the_json_error_body() {
    let cv = Callvault::start_embedded().await;
    let upload = |headers: &str| {
        format!(
            "POST /v1/recordings HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k\r\ncontent-type: audio/wav\r\n{headers}\r\n"
        )
    };
    for headers in [
        // Bad Content-Length: negative, signed, not a number, a list.
        "content-length: -1\r\n",
        "content-length: +4\r\n",
        "content-length: abc\r\n",
        "content-length: 4, 4\r\n",
        // Two of them, agreeing or not.
        "content-length: 4\r\ncontent-length: 4\r\n",
        "content-length: 4\r\ncontent-length: 5\r\n",
        // Transfer-Encoding other than chunked, twice, or beside a length.
        "transfer-encoding: gzip\r\n",
        "transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n",
        "transfer-encoding: chunked\r\ncontent-length: 4\r\n",
    ] {
        let request = format!("{}abcd", upload(headers));
        assert_eq!(
            refused(&cv, request.as_bytes()).await,
            malformed(),
            "{headers}"
        );
    }
    for request in [
        // No Host, two Hosts.
        &b"GET /healthz HTTP/1.1\r\n\r\n"[..],
        b"GET /healthz HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
        // Not a request line, not a header, not a version.
        b"GET\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nhost: a\r\nno colon here\r\n\r\n",
        b"GET /healthz HTTP/9.1\r\nhost: a\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        // HTTP/1.0 POST without a length.
        b"POST /graphql HTTP/1.0\r\ncontent-type: application/json\r\n\r\n",
    ] {
        assert_eq!(
            refused(&cv, request).await,
            malformed(),
            "{}",
            String::from_utf8_lossy(request)
        );
    }

    // Oversize heads: over 128 KiB, or more than 96 fields.
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nhost: a\r\nx-big: {}\r\n\r\n",
        "a".repeat(140 * 1024)
    );
    assert_eq!(
        refused(&cv, huge.as_bytes()).await,
        (431, "headers_too_large".to_owned())
    );
    let many: String = (0..100).map(|i| format!("x-h{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nhost: a\r\n{many}\r\n");
    assert_eq!(
        refused(&cv, many.as_bytes()).await,
        (431, "headers_too_large".to_owned())
    );

    // A head that never completes: 408 after the head timeout (5 s).
    assert_eq!(
        refused(&cv, b"GET /healthz HTTP/1.1\r\nhost: a\r\n").await,
        (408, "request_timeout".to_owned())
    );
}

#[tokio::test]
async fn answers_owed_on_the_connection_go_before_the_refusal() {
    let cv = Callvault::start_embedded().await;
    // Two good requests pipelined, then a broken one: two answers, then ours.
    let answer = exchange(
        &cv,
        b"GET /healthz HTTP/1.1\r\nhost: a\r\n\r\nGET /healthz HTTP/1.1\r\nhost: a\r\n\r\nGET /healthz HTTP/1.1\r\nhost: a\r\ncontent-length: -1\r\n\r\n",
    )
    .await;
    let answers = responses(&answer);
    let statuses: Vec<u16> = answers.iter().map(|(status, _, _)| *status).collect();
    assert_eq!(statuses, [200, 200, 400]);
    assert_eq!(answers[0].2, b"ok");
    let refusal: Value = serde_json::from_slice(&answers[2].2).expect("json");
    assert_eq!(refusal["error"]["code"], "malformed_request");

    // A body's own framing broken (a bad chunk size) is the handler's to
    // answer: GraphQL's JSON 400, and nothing after it.
    let answer = exchange(
        &cv,
        b"POST /graphql HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nzz\r\n",
    )
    .await;
    let answers = responses(&answer);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, 400);
    let body: Value = serde_json::from_slice(&answers[0].2).expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn oversize_bodies_are_refused_with_json_before_they_are_read() {
    let cv = Callvault::start_with(&[("CALLVAULT_INGESTION__MAX_UPLOAD_BYTES", "1000")]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Framing BPO").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Framing Bank").await;
    // The upload's limit: refused on the declared length, before the body
    // (none is sent: the answer comes anyway).
    let request = format!(
        "POST /v1/recordings HTTP/1.1\r\nhost: a\r\nauthorization: Bearer {}\r\ncontent-type: audio/wav\r\ncallvault-call: {}\r\ncontent-length: 5000\r\nconnection: close\r\n\r\n",
        tenant.key,
        call("big-1", "+819000000001", "a")
    );
    let answers = responses(&exchange(&cv, request.as_bytes()).await);
    assert_eq!(answers[0].0, 413, "{answers:?}");
    let body: Value = serde_json::from_slice(&answers[0].2).expect("json");
    assert_eq!(body["error"]["code"], "payload_too_large");
    // GraphQL's 256 KiB.
    let big = format!(
        "{{\"query\":\"{{__typename}}\",\"x\":\"{}\"}}",
        "a".repeat(300 * 1024)
    );
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{big}",
        big.len()
    );
    let answers = responses(&exchange(&cv, request.as_bytes()).await);
    assert_eq!(answers[0].0, 413);
    let body: Value = serde_json::from_slice(&answers[0].2).expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}
