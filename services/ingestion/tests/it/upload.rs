//! Accepted uploads: stored whole, readable back, announced once.

use std::sync::atomic::Ordering;

use callvault_contracts::call::CallMetadata;
use callvault_contracts::events::RecordingIngestedV1;

use crate::support::{App, call, on_postgres, receipt};
use crate::wav;

/// A dual-channel PCM upload lands in storage byte for byte, with one
/// `recording.ingested` message in the outbox in the same state.
pub async fn good_upload_is_stored_and_announced(app: App) {
    let audio = wav::pcm16_stereo(16_000, 2);
    let mut sent = call("pbx-good");
    sent["agent_channel"] = "left".into();
    sent["customer_channel"] = "right".into();
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &sent, audio.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    let receipt = receipt(&body);
    assert_eq!(receipt.tenant_id, app.tenant_a.tenant);
    assert_eq!(receipt.size, audio.len() as u64);
    assert_eq!(receipt.codec, "wav/pcm_s16le");
    assert_eq!((receipt.sample_rate, receipt.channels), (16_000, 2));
    assert_eq!(receipt.duration_ms, 2_000);
    assert!(!receipt.replayed);

    assert_eq!(app.read_back(&receipt).await, audio, "stored bytes differ");
    let info = app
        .store
        .info(receipt.tenant_id, receipt.recording_id)
        .await
        .expect("info");
    assert_eq!(hex::encode(info.sha256), receipt.sha256);
    assert_eq!((app.stored_records().await, app.blob_files()), (1, 1));

    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1);
    let event: RecordingIngestedV1 = outbox[0].decode().expect("a recording.ingested v1 message");
    assert_eq!(outbox[0].topic, "recording.ingested");
    assert_eq!(event.tenant_id, app.tenant_a.tenant);
    assert_eq!(event.recording_id, receipt.recording_id);
    let sent: CallMetadata = serde_json::from_value(sent).expect("call");
    assert_eq!(event.call, sent);
    assert_eq!(event.audio.codec, "wav/pcm_s16le");
    assert_eq!(event.audio.duration_ms, 2_000);
    assert_eq!(
        (event.size, event.sha256.as_str()),
        (receipt.size, receipt.sha256.as_str())
    );
    assert!(
        event.key_ref.contains(&app.tenant_a.tenant.to_string()),
        "the tenant's key"
    );
    assert_eq!(
        app.notified.load(Ordering::SeqCst),
        1,
        "the relay is woken once"
    );
}

#[tokio::test]
async fn good_upload_on_sqlite() {
    good_upload_is_stored_and_announced(App::sqlite().await).await;
}

#[tokio::test]
async fn good_upload_on_postgres() {
    on_postgres(good_upload_is_stored_and_announced).await;
}

#[tokio::test]
async fn mulaw_upload_larger_than_the_probe_window_streams_through() {
    let app = App::sqlite().await;
    // 60 s of 8 kHz µ-law: 480 kB, several times the probe window.
    let audio = wav::mulaw_mono_8k(60);
    assert!(audio.len() > 4 * callvault_ingestion::PROBE_WINDOW);
    let mut metadata = call("pbx-mulaw");
    metadata["agent_channel"] = serde_json::json!("mixed");
    metadata["customer_channel"] = serde_json::json!("mixed");
    let (status, body) = app
        .upload(&app.tenant_a, "audio/x-wav", &metadata, audio.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    let receipt = receipt(&body);
    assert_eq!(receipt.codec, "wav/pcm_mulaw");
    assert_eq!(
        (receipt.sample_rate, receipt.channels, receipt.duration_ms),
        (8_000, 1, 60_000)
    );
    assert_eq!(app.read_back(&receipt).await, audio);
}

#[tokio::test]
async fn alaw_with_a_short_fmt_chunk_is_read_without_symphonia() {
    let app = App::sqlite().await;
    let audio = wav::alaw_mono_8k_short_fmt(3);
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wave",
            &call("pbx-alaw"),
            audio.clone(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let receipt = receipt(&body);
    assert_eq!(receipt.codec, "wav/pcm_alaw");
    assert_eq!(
        (receipt.sample_rate, receipt.channels, receipt.duration_ms),
        (8_000, 1, 3_000)
    );
    assert_eq!(app.read_back(&receipt).await, audio);
}

#[tokio::test]
async fn a_recorder_key_ingests_into_its_own_tenant_only() {
    let app = App::sqlite().await;
    let audio = wav::mulaw_mono_8k(1);
    // Tenant B's id in every place a request could carry one: ignored.
    let mut metadata = call("pbx-shared-id");
    metadata["tenant_id"] = serde_json::json!(app.tenant_b.tenant);
    let response = app
        .client
        .post(format!(
            "{}/v1/recordings?tenant_id={}",
            app.url, app.tenant_b.tenant
        ))
        .header("authorization", format!("Bearer {}", app.tenant_a.secret))
        .header("content-type", "audio/wav")
        .header("callvault-call", metadata.to_string())
        .header("callvault-tenant", app.tenant_b.tenant.to_string())
        .body(audio.clone())
        .send()
        .await
        .expect("upload");
    let (status, body) = crate::support::read(response).await;
    assert_eq!(status, 201, "{body}");
    let from_a = receipt(&body);
    assert_eq!(from_a.tenant_id, app.tenant_a.tenant);
    assert_eq!(app.read_back(&from_a).await, audio);
    assert!(
        app.store
            .info(app.tenant_b.tenant, from_a.recording_id)
            .await
            .is_err(),
        "nothing under b"
    );

    // The same call id from tenant B is B's own upload, not a replay of A's.
    let (status, body) = app
        .upload(&app.tenant_b, "audio/wav", &call("pbx-shared-id"), audio)
        .await;
    assert_eq!(status, 201, "{body}");
    let from_b = receipt(&body);
    assert_eq!(from_b.tenant_id, app.tenant_b.tenant);
    assert_ne!(from_b.recording_id, from_a.recording_id);
    assert_eq!(app.stored_records().await, 2);
}
