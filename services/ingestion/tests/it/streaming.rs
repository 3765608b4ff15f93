//! Uploads without a length: a recorder streaming a call as it happens
//! sends the body chunked. Same checks, limits and answers as an upload
//! with `Content-Length`; what can only be checked at the end (the size
//! limit, a WAV shorter than its header says) is checked there, and then
//! nothing is kept.

use crate::support::{App, call, error_code, on_postgres, receipt};
use crate::wav;

/// 1.6 MB of µ-law in 4 KiB pieces: more than the probe window, so most of
/// it streams through after probing.
async fn a_chunked_upload_is_stored_whole(app: App) {
    let audio = wav::mulaw_mono_8k(200);
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-stream"), &audio, 4_096)
        .await;
    assert_eq!(status, 201, "{body}");
    let first = receipt(&body);
    assert_eq!(first.size, audio.len() as u64);
    assert_eq!(first.duration_ms, 200_000);
    assert_eq!(app.read_back(&first).await, audio, "stored bytes differ");
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1, "announced once");

    // A retry, chunked again, is the same upload.
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-stream"), &audio, 10_000)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(receipt(&body).replayed);
    assert_eq!(receipt(&body).recording_id, first.recording_id);
    // The same call id with other audio is not a retry, even as long.
    let mut other = audio.clone();
    let last = other.len() - 1;
    other[last] ^= 0xff;
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-stream"), &other, 4_096)
        .await;
    assert_eq!((status, error_code(&body)), (409, "idempotency_key_reused"));
    // Longer audio under the same id neither.
    let mut longer = audio.clone();
    longer.extend_from_slice(&[0xff; 100]);
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-stream"), &longer, 4_096)
        .await;
    assert_eq!((status, error_code(&body)), (409, "idempotency_key_reused"));
    assert_eq!(app.stored_records().await, 1);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn a_chunked_upload_is_stored_whole_on_sqlite() {
    a_chunked_upload_is_stored_whole(App::sqlite().await).await;
}

#[tokio::test]
async fn a_chunked_upload_is_stored_whole_on_postgres() {
    on_postgres(a_chunked_upload_is_stored_whole).await;
}

#[tokio::test]
async fn a_chunked_upload_shorter_than_the_probe_window_is_stored() {
    let app = App::sqlite().await;
    let audio = wav::mulaw_mono_8k(1);
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-short"), &audio, 1_000)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.read_back(&receipt(&body)).await, audio);
}

#[tokio::test]
async fn a_chunked_upload_past_the_limit_is_413_and_leaves_nothing() {
    // Over the limit well after the probe window: stored while it
    // streamed, then discarded.
    let limit = 1_000_000;
    let app = App::with_upload_limit(limit).await;
    let audio = wav::mulaw_mono_8k(200);
    assert!(audio.len() as u64 > limit);
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-big"), &audio, 8_192)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (413, "payload_too_large"),
        "{body}"
    );
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0, "the claim is released");
    assert!(app.outbox().await.is_empty());

    // Within the limit, the same call goes in.
    let audio = wav::mulaw_mono_8k(100);
    assert!((audio.len() as u64) < limit);
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-big"), &audio, 8_192)
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_chunked_wav_shorter_than_its_header_is_422_and_leaves_nothing() {
    let app = App::sqlite().await;
    let mut audio = wav::mulaw_mono_8k(20);
    audio.truncate(audio.len() - 1_000);
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-cut"), &audio, 4_096)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (422, "truncated_audio"),
        "{body}"
    );
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0);
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn a_chunked_body_that_is_not_audio_is_refused_before_storing() {
    let app = App::sqlite().await;
    let (status, body) = app
        .upload_streamed(&app.tenant_a, &call("pbx-junk"), &[0x42; 200_000], 4_096)
        .await;
    assert_eq!(status, 422, "{body}");
    app.assert_nothing_stored().await;
    assert_eq!(app.upload_rows().await, 0);
}
