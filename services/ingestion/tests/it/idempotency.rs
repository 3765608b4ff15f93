//! Retries on (tenant, external call id, segment): replayed, never stored
//! twice; failed attempts leave nothing behind and don't block a retry.

use std::sync::atomic::Ordering;
use std::time::Duration;

use callvault_contracts::RecordingId;
use callvault_ingestion::uploads::{Claim, UploadKey, Uploads};

use crate::support::{App, call, error_code, on_postgres, receipt};
use crate::wav;

pub async fn a_retry_is_replayed_and_stored_once(app: App) {
    let audio = wav::mulaw_mono_8k(2);
    let (status, first) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-retry"),
            audio.clone(),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let first = receipt(&first);

    for _ in 0..2 {
        let (status, again) = app
            .upload(
                &app.tenant_a,
                "audio/wav",
                &call("pbx-retry"),
                audio.clone(),
            )
            .await;
        assert_eq!(status, 200, "{again}");
        let again = receipt(&again);
        assert!(again.replayed);
        assert_eq!(again.recording_id, first.recording_id);
        assert_eq!(
            (again.size, &again.sha256, &again.codec),
            (first.size, &first.sha256, &first.codec)
        );
    }
    assert_eq!(
        (app.all_records().await, app.blob_files()),
        (1, 1),
        "stored once"
    );
    assert_eq!(app.outbox().await.len(), 1, "announced once");
    assert_eq!(app.notified.load(Ordering::SeqCst), 1);

    // Another segment of the same call is another recording.
    let mut second_segment = call("pbx-retry");
    second_segment["segment"] = serde_json::json!(1);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &second_segment, audio.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(receipt(&body).recording_id, first.recording_id);

    // The same key with a recording of another length is a recorder bug.
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-retry"),
            wav::mulaw_mono_8k(3),
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, "idempotency_key_reused"));

    // Same length, other audio (a recycled call id): not a retry either.
    let mut other = audio.clone();
    let last = other.len() - 1;
    other[last] ^= 0x55;
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-retry"), other)
        .await;
    assert_eq!((status, error_code(&body)), (409, "idempotency_key_reused"));
    assert_eq!(app.all_records().await, 2);
}

#[tokio::test]
async fn retry_is_replayed_on_sqlite() {
    a_retry_is_replayed_and_stored_once(App::sqlite().await).await;
}

#[tokio::test]
async fn retry_is_replayed_on_postgres() {
    on_postgres(a_retry_is_replayed_and_stored_once).await;
}

/// Storage down: 503, nothing kept, the claim released so that the
/// recorder's retry succeeds once storage is back.
pub async fn storage_outage_is_503_and_a_retry_works(app: App) {
    let audio = wav::pcm16_stereo(8_000, 3);
    app.sink.down.store(true, Ordering::SeqCst);
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-outage"),
            audio.clone(),
        )
        .await;
    assert_eq!((status, error_code(&body)), (503, "unavailable"), "{body}");
    assert!(
        !body.to_string().contains("blob store"),
        "details stay in the log: {body}"
    );
    assert_eq!(app.upload_rows().await, 0, "the claim is released");
    app.assert_nothing_stored().await;

    app.sink.down.store(false, Ordering::SeqCst);
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-outage"),
            audio.clone(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.read_back(&receipt(&body)).await, audio);
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn storage_outage_on_sqlite() {
    storage_outage_is_503_and_a_retry_works(App::sqlite().await).await;
}

#[tokio::test]
async fn storage_outage_on_postgres() {
    on_postgres(storage_outage_is_503_and_a_retry_works).await;
}

fn key(app: &App, external_call_id: &str) -> UploadKey {
    UploadKey {
        tenant: app.tenant_a.tenant,
        external_call_id: external_call_id.into(),
        segment: 0,
    }
}

pub async fn a_running_upload_blocks_a_concurrent_one(app: App) {
    // Another replica holds the key, and is alive.
    let uploads = Uploads::new(app.db.clone());
    let other = RecordingId::new();
    let claim = uploads
        .claim(&key(&app, "pbx-busy"), other, Duration::from_secs(600))
        .await
        .expect("claim");
    assert_eq!(claim, Claim::Claimed);

    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-busy"),
            wav::mulaw_mono_8k(1),
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, "upload_in_progress"));
    app.assert_nothing_stored().await;
    assert_eq!(
        app.upload_rows().await,
        1,
        "the other upload's claim is untouched"
    );
}

#[tokio::test]
async fn concurrent_upload_is_409_on_sqlite() {
    a_running_upload_blocks_a_concurrent_one(App::sqlite().await).await;
}

#[tokio::test]
async fn concurrent_upload_is_409_on_postgres() {
    on_postgres(a_running_upload_blocks_a_concurrent_one).await;
}

#[tokio::test]
async fn an_abandoned_upload_is_taken_over() {
    let app = App::start(None, Some(Duration::from_millis(200))).await;
    let uploads = Uploads::new(app.db.clone());
    let abandoned = RecordingId::new();
    uploads
        .claim(
            &key(&app, "pbx-crashed"),
            abandoned,
            Duration::from_secs(600),
        )
        .await
        .expect("claim");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let audio = wav::mulaw_mono_8k(1);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-crashed"), audio)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(receipt(&body).recording_id, abandoned);
    // The crashed attempt can no longer finish over the new one.
    let finished = Uploads::finish(&app.db, &key(&app, "pbx-crashed"), abandoned, "{}").await;
    assert!(!finished.expect("finish"));
}

/// Only COMMIT fails (a deferred constraint trigger raises there, as a
/// connection lost during COMMIT would leave it): the upload may have
/// been committed, so ingestion must neither discard the stored recording
/// nor release the claim. The recorder is told to retry; its retry waits
/// for the claim (and, once stale, takes it over and discards the
/// recording), or, had the commit gone through, gets the first answer.
pub async fn a_failed_commit_leaves_the_upload_in_doubt(app: App) {
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared(
            "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$; \
             CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON outbox \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();",
        )
        .await
        .expect("trigger");
    let audio = wav::mulaw_mono_8k(1);
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-doubt"),
            audio.clone(),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_code(&body), "unavailable");
    assert_eq!(app.stored_records().await, 1, "the recording was discarded");
    assert_eq!(app.upload_rows().await, 1, "the claim was released");

    app.db
        .execute_unprepared("DROP TRIGGER refuse_commit ON outbox")
        .await
        .expect("drop trigger");
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-doubt"), audio)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "upload_in_progress");
}

#[tokio::test]
async fn a_failed_commit_leaves_the_upload_in_doubt_on_postgres() {
    on_postgres(a_failed_commit_leaves_the_upload_in_doubt).await;
}
