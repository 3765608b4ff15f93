//! Inputs that once could crash a request, and what they get now: a 4xx
//! with a code for every bad header value, a 500 with a JSON body for a
//! bug, and in every case the call segment free for the next attempt.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{App, call, error_code};
use crate::wav;

/// Every class of header value the probe must refuse before computing
/// with it, as (what, format tag, channels, rate, bits, block align, data).
fn bad_headers() -> Vec<(&'static str, Vec<u8>)> {
    let second = vec![0u8; 16_000];
    vec![
        (
            "pcm, sample rate 0",
            wav::with_header(1, 1, 0, 16, 2, &second),
        ),
        (
            "µ-law, sample rate 0",
            wav::with_header(7, 1, 0, 8, 1, &second),
        ),
        (
            "sample rate 5 MHz",
            wav::with_header(1, 1, 5_000_000, 16, 2, &second),
        ),
        ("no channels", wav::with_header(1, 0, 8_000, 16, 0, &second)),
        (
            "nine channels",
            wav::with_header(1, 9, 8_000, 16, 18, &second[..15_984]),
        ),
        (
            "pcm, 12 bits",
            wav::with_header(1, 1, 8_000, 12, 2, &second),
        ),
        ("pcm, 0 bits", wav::with_header(1, 1, 8_000, 0, 2, &second)),
        (
            "block align 0",
            wav::with_header(1, 2, 8_000, 16, 0, &second),
        ),
        (
            "block align too small",
            wav::with_header(1, 2, 8_000, 16, 2, &second),
        ),
        (
            "µ-law, 16 bits",
            wav::with_header(7, 1, 8_000, 16, 2, &second),
        ),
        ("empty data", wav::with_header(1, 1, 8_000, 16, 2, &[])),
        (
            "half a frame",
            wav::with_header(1, 2, 8_000, 16, 4, &second[..15_998]),
        ),
    ]
}

#[tokio::test]
async fn header_values_out_of_range_are_422_and_leave_the_segment_free() {
    let app = App::sqlite().await;
    for (what, audio) in bad_headers() {
        let (status, body) = app
            .upload(&app.tenant_a, "audio/wav", &call("pbx-bad"), audio)
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (422, "invalid_audio"),
            "{what}: {body}"
        );
    }
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0, "no claim is left behind");
    // The same segment, with good audio, goes through at once.
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-bad"),
            wav::mulaw_mono_8k(1),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn audio_longer_than_its_call_is_422() {
    let app = App::sqlite().await;
    // support::call spans 4 minutes: the tolerance is 1 % of it, 2.4 s.
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-long"),
            wav::mulaw_mono_8k(243),
        )
        .await;
    assert_eq!((status, error_code(&body)), (422, "duration_mismatch"));
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0);
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-long"),
            wav::mulaw_mono_8k(242),
        )
        .await;
    assert_eq!(status, 201, "within the tolerance: {body}");
}

#[tokio::test]
async fn a_recording_above_the_size_limit_is_413_before_its_body_is_read() {
    let app = App::sqlite().await;
    let address = app.url.trim_start_matches("http://");
    let head = format!(
        "POST /v1/recordings HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\n\
         content-type: audio/wav\r\ncallvault-call: {}\r\ncontent-length: {}\r\n\r\n",
        app.tenant_a.secret,
        call("pbx-huge"),
        callvault_ingestion::MAX_UPLOAD_BYTES + 1
    );
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    // No body at all: the answer must not wait for one.
    let mut response = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut response))
        .await
        .expect("an answer without the body")
        .expect("read");
    let text = String::from_utf8_lossy(&response[..read]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains(r#""code":"payload_too_large""#), "{text}");
    assert_eq!(app.upload_rows().await, 0);
}

#[tokio::test]
async fn a_panic_while_storing_is_a_500_with_a_body_and_frees_the_segment() {
    let app = App::sqlite().await;
    app.sink.panic_once.store(true, Ordering::SeqCst);
    let audio = wav::mulaw_mono_8k(2);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-bug"), audio.clone())
        .await;
    assert_eq!((status, error_code(&body)), (500, "internal"), "{body}");
    assert_eq!(app.upload_rows().await, 0, "the claim is released at once");
    app.assert_nothing_stored().await;
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-bug"), audio)
        .await;
    assert_eq!(status, 201, "the retry is not told to wait: {body}");
}
