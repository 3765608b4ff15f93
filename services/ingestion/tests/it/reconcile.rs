//! The reconciler over real storage and the ingestion database (SQLite and
//! PostgreSQL): orphans go, everything an upload can still commit stays.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use callvault_contracts::{RecordingId, TenantId};
use callvault_ingestion::uploads::{Claim, Holder, Migrator, UploadKey, Uploads};
use callvault_ingestion::{ReconcileReport, Reconciler, RecordingSink};
use callvault_keys::KeyRef;
use callvault_testkit::with_pg_database;
use chrono::Utc;
use futures_util::StreamExt;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;

use crate::support::{App, Recorder, call, error_code, on_postgres, receipt};
use crate::wav;

const LONG: Duration = Duration::from_secs(600);

fn report(checked: u64, kept: u64, discarded: u64, failed: u64) -> ReconcileReport {
    ReconcileReport {
        checked,
        kept,
        discarded,
        failed,
        held_back: 0,
    }
}

/// A reconciler over `app`, looking at everything stored so far.
fn reconciler(app: &App, stale_after: Duration) -> Reconciler {
    Reconciler::new(
        app.db.clone(),
        app.sink.clone() as Arc<dyn RecordingSink>,
        app.metadata.clone(),
    )
    .with_stale_after(stale_after)
    .with_grace(Duration::ZERO)
}

/// Stores `recording` for `recorder`'s tenant straight into storage, as an
/// upload does just before it commits.
async fn store(app: &App, recorder: &Recorder, recording: RecordingId) {
    let grant = app
        .keys
        .verify_api_key(&recorder.secret)
        .await
        .expect("grant");
    let body = futures_util::stream::iter([Ok(Bytes::from_static(b"audio bytes"))]).boxed();
    app.store
        .store(recorder.tenant, recording, &KeyRef(grant.key_ref), body)
        .await
        .expect("stored");
}

async fn is_stored(app: &App, tenant: TenantId, recording: RecordingId) -> bool {
    app.records
        .get(tenant.0, recording.0)
        .await
        .expect("storage records")
        .is_some()
}

fn key(recorder: &Recorder, external_call_id: &str) -> UploadKey {
    UploadKey {
        tenant: recorder.tenant,
        external_call_id: external_call_id.into(),
        segment: 0,
    }
}

/// Claims `key` as a running upload does, and stores its recording.
async fn claim_and_store(app: &App, recorder: &Recorder, external_call_id: &str) -> RecordingId {
    let recording = RecordingId::new();
    let claim = Uploads::new(app.db.clone())
        .claim(&key(recorder, external_call_id), recording, LONG)
        .await
        .expect("claim");
    assert_eq!(claim, Claim::Claimed);
    store(app, recorder, recording).await;
    recording
}

pub async fn committed_and_young_recordings_are_kept(app: App) {
    let audio = wav::mulaw_mono_8k(1);
    let (status, body) = app
        .upload(&app.tenant_a, "audio/wav", &call("pbx-done"), audio.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    let done = receipt(&body);
    // An orphan, but younger than the grace period: not looked at.
    let young = RecordingId::new();
    store(&app, &app.tenant_b, young).await;
    let default_grace = Reconciler::new(app.db.clone(), app.sink.clone(), app.metadata.clone());
    assert_eq!(default_grace.run().await.expect("run"), report(0, 0, 0, 0));

    // Created after the cutoff: not listed, so kept.
    let cutoff = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after_cutoff = RecordingId::new();
    store(&app, &app.tenant_a, after_cutoff).await;
    let pass = reconciler(&app, LONG)
        .run_before(cutoff)
        .await
        .expect("run");
    assert_eq!(
        pass,
        report(2, 1, 1, 0),
        "the done upload kept, the orphan gone"
    );
    assert_eq!(app.read_back(&done).await, audio);
    assert!(!is_stored(&app, app.tenant_b.tenant, young).await);
    assert!(is_stored(&app, app.tenant_a.tenant, after_cutoff).await);
}

#[tokio::test]
async fn committed_and_young_recordings_are_kept_on_sqlite() {
    committed_and_young_recordings_are_kept(App::sqlite().await).await;
}

#[tokio::test]
async fn committed_and_young_recordings_are_kept_on_postgres() {
    on_postgres(committed_and_young_recordings_are_kept).await;
}

pub async fn a_live_upload_is_kept_and_an_abandoned_one_discarded(app: App) {
    let live = claim_and_store(&app, &app.tenant_a, "pbx-live").await;
    let abandoned = claim_and_store(&app, &app.tenant_a, "pbx-abandoned").await;
    let uploads = Uploads::new(app.db.clone());
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The live one beats; the abandoned one has been silent for 400 ms.
    assert!(
        uploads
            .heartbeat(&key(&app.tenant_a, "pbx-live"), live)
            .await
            .expect("heartbeat")
    );

    let pass = reconciler(&app, Duration::from_millis(300))
        .run()
        .await
        .expect("run");
    assert_eq!(pass, report(2, 1, 1, 0));
    assert!(is_stored(&app, app.tenant_a.tenant, live).await);
    assert!(!is_stored(&app, app.tenant_a.tenant, abandoned).await);

    // The abandoned upload can't come back: no heartbeat, no commit.
    let abandoned_key = key(&app.tenant_a, "pbx-abandoned");
    assert_eq!(
        uploads
            .holder(app.tenant_a.tenant, abandoned)
            .await
            .expect("holder"),
        Holder::None
    );
    assert!(
        !uploads
            .heartbeat(&abandoned_key, abandoned)
            .await
            .expect("heartbeat")
    );
    assert!(
        !Uploads::finish(&app.db, &abandoned_key, abandoned, "{}")
            .await
            .expect("finish")
    );
    // The recorder's retry starts afresh.
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-abandoned"),
            wav::mulaw_mono_8k(1),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(receipt(&body).recording_id, abandoned);
}

#[tokio::test]
async fn live_and_abandoned_uploads_on_sqlite() {
    a_live_upload_is_kept_and_an_abandoned_one_discarded(App::sqlite().await).await;
}

#[tokio::test]
async fn live_and_abandoned_uploads_on_postgres() {
    on_postgres(a_live_upload_is_kept_and_an_abandoned_one_discarded).await;
}

/// A claim is looked up by tenant and recording: tenant A's upload does not
/// keep tenant B's recording under the same id.
pub async fn orphans_are_discarded_per_tenant(app: App) {
    let shared = claim_and_store(&app, &app.tenant_a, "pbx-shared").await;
    store(&app, &app.tenant_b, shared).await;
    let orphan = RecordingId::new();
    store(&app, &app.tenant_a, orphan).await;

    let pass = reconciler(&app, LONG).run().await.expect("run");
    assert_eq!(pass, report(3, 1, 2, 0));
    assert!(is_stored(&app, app.tenant_a.tenant, shared).await);
    assert!(!is_stored(&app, app.tenant_b.tenant, shared).await);
    assert!(!is_stored(&app, app.tenant_a.tenant, orphan).await);
    assert_eq!(app.blob_files(), 1, "the orphans' objects are gone too");
    assert_eq!(app.upload_rows().await, 1, "the live claim is untouched");
    // Nothing left to do.
    assert_eq!(
        reconciler(&app, LONG).run().await.expect("run"),
        report(1, 1, 0, 0)
    );
}

#[tokio::test]
async fn orphans_are_discarded_per_tenant_on_sqlite() {
    orphans_are_discarded_per_tenant(App::sqlite().await).await;
}

#[tokio::test]
async fn orphans_are_discarded_per_tenant_on_postgres() {
    on_postgres(orphans_are_discarded_per_tenant).await;
}

pub async fn a_failed_discard_is_counted_and_retried(app: App) {
    let orphan = RecordingId::new();
    store(&app, &app.tenant_a, orphan).await;
    let abandoned = claim_and_store(&app, &app.tenant_b, "pbx-gone").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reconciler = reconciler(&app, Duration::from_millis(10));

    app.sink.discard_down.store(true, Ordering::SeqCst);
    let pass = reconciler.run().await.expect("run");
    assert_eq!(pass, report(2, 0, 0, 2));
    assert!(is_stored(&app, app.tenant_a.tenant, orphan).await);
    assert!(is_stored(&app, app.tenant_b.tenant, abandoned).await);
    // The abandoned claim is gone all the same, so it can't commit.
    assert_eq!(app.upload_rows().await, 0);

    app.sink.discard_down.store(false, Ordering::SeqCst);
    let pass = reconciler.run().await.expect("run");
    assert_eq!(pass, report(2, 0, 2, 0));
    app.assert_nothing_stored().await;
}

#[tokio::test]
async fn a_failed_discard_is_retried_on_sqlite() {
    a_failed_discard_is_counted_and_retried(App::sqlite().await).await;
}

#[tokio::test]
async fn a_failed_discard_is_retried_on_postgres() {
    on_postgres(a_failed_discard_is_counted_and_retried).await;
}

/// An ingestion database younger than the recordings (deleted and
/// recreated, or the wrong one configured) knows none of their uploads:
/// they are not taken for orphans, because they are never looked at.
pub async fn recordings_older_than_the_database_are_left_alone(app: App) {
    use sea_orm::ConnectionTrait;
    let orphan = RecordingId::new();
    store(&app, &app.tenant_a, orphan).await;
    let later = Utc::now().timestamp() + 2;
    app.db
        .execute_unprepared(&format!(
            "UPDATE ingestion_migrations SET applied_at = {later}"
        ))
        .await
        .expect("age the database");
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    store(&app, &app.tenant_a, RecordingId::new()).await;
    let pass = reconciler(&app, LONG).run().await.expect("run");
    assert_eq!(pass, report(1, 0, 1, 0), "only the newer orphan");
    assert!(is_stored(&app, app.tenant_a.tenant, orphan).await);
}

#[tokio::test]
async fn recordings_older_than_the_database_are_left_alone_on_sqlite() {
    recordings_older_than_the_database_are_left_alone(App::sqlite().await).await;
}

#[tokio::test]
async fn recordings_older_than_the_database_are_left_alone_on_postgres() {
    on_postgres(recordings_older_than_the_database_are_left_alone).await;
}

/// More orphans than a pass may discard (a restored or damaged uploads
/// table makes everything look orphaned): the pass stops discarding at the
/// limit, and so does every later pass of that reconciler.
pub async fn the_discard_limit_trips_a_breaker(app: App) {
    for _ in 0..3 {
        store(&app, &app.tenant_a, RecordingId::new()).await;
    }
    let reconciler = reconciler(&app, LONG).with_discard_limit(1);
    let held = |checked, discarded, held_back| ReconcileReport {
        held_back,
        ..report(checked, 0, discarded, 0)
    };
    // Failing to ask the catalogue isn't discarding: no breaker for an
    // outage of metadata.
    app.keys.catalogue_down.store(true, Ordering::SeqCst);
    assert_eq!(reconciler.run().await.expect("run"), report(3, 0, 0, 3));
    app.keys.catalogue_down.store(false, Ordering::SeqCst);
    assert_eq!(reconciler.run().await.expect("run"), held(3, 1, 2));
    assert_eq!(reconciler.run().await.expect("run"), held(2, 0, 2));
    assert_eq!(app.stored_records().await, 2);
    // Restarted (after someone looked): a fresh reconciler discards again.
    let restarted = self::reconciler(&app, LONG);
    assert_eq!(restarted.run().await.expect("run"), report(2, 0, 2, 0));
}

#[tokio::test]
async fn the_discard_limit_trips_a_breaker_on_sqlite() {
    the_discard_limit_trips_a_breaker(App::sqlite().await).await;
}

#[tokio::test]
async fn the_discard_limit_trips_a_breaker_on_postgres() {
    on_postgres(the_discard_limit_trips_a_breaker).await;
}

/// The catalogue has the last word: a catalogued recording without an
/// upload row (the uploads table isn't this storage's) is held back and
/// trips the breaker; with the catalogue unreachable nothing is discarded.
pub async fn the_catalogue_is_asked_before_discarding(app: App) {
    let catalogued = RecordingId::new();
    store(&app, &app.tenant_a, catalogued).await;
    app.keys.catalogue(app.tenant_a.tenant, catalogued);
    let orphan = RecordingId::new();
    store(&app, &app.tenant_b, orphan).await;

    let reconciler = reconciler(&app, LONG);
    app.keys.catalogue_down.store(true, Ordering::SeqCst);
    assert_eq!(reconciler.run().await.expect("run"), report(2, 0, 0, 2));
    app.keys.catalogue_down.store(false, Ordering::SeqCst);
    let held = ReconcileReport {
        held_back: 2,
        ..report(2, 0, 0, 0)
    };
    // The catalogued one is held back, and the tripped breaker holds back
    // the true orphan too: someone must look first.
    assert_eq!(reconciler.run().await.expect("run"), held);
    assert!(is_stored(&app, app.tenant_a.tenant, catalogued).await);
    assert!(is_stored(&app, app.tenant_b.tenant, orphan).await);
}

#[tokio::test]
async fn the_catalogue_is_asked_before_discarding_on_sqlite() {
    the_catalogue_is_asked_before_discarding(App::sqlite().await).await;
}

#[tokio::test]
async fn the_catalogue_is_asked_before_discarding_on_postgres() {
    on_postgres(the_catalogue_is_asked_before_discarding).await;
}

/// A pass resumes after the settled run of the previous one: catalogued
/// and discarded recordings aren't listed again, a live upload is, until
/// it settles.
pub async fn a_pass_resumes_where_everything_was_settled(app: App) {
    let audio = wav::mulaw_mono_8k(1);
    let (status, body) = app
        .upload(
            &app.tenant_a,
            "audio/wav",
            &call("pbx-first"),
            audio.clone(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    store(&app, &app.tenant_a, RecordingId::new()).await;
    let live = claim_and_store(&app, &app.tenant_b, "pbx-running").await;
    store(&app, &app.tenant_b, RecordingId::new()).await;
    let reconciler = reconciler(&app, LONG);
    assert_eq!(reconciler.run().await.expect("run"), report(4, 2, 2, 0));
    // Only the live upload is looked at again.
    assert_eq!(reconciler.run().await.expect("run"), report(1, 1, 0, 0));

    let (status, body) = app
        .upload(&app.tenant_b, "audio/wav", &call("pbx-second"), audio)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(reconciler.run().await.expect("run"), report(2, 2, 0, 0));
    assert!(is_stored(&app, app.tenant_b.tenant, live).await);
    // A new reconciler (a restarted process) walks everything again.
    let restarted = self::reconciler(&app, LONG);
    assert_eq!(restarted.run().await.expect("run"), report(3, 3, 0, 0));
}

#[tokio::test]
async fn a_pass_resumes_where_everything_was_settled_on_sqlite() {
    a_pass_resumes_where_everything_was_settled(App::sqlite().await).await;
}

#[tokio::test]
async fn a_pass_resumes_where_everything_was_settled_on_postgres() {
    on_postgres(a_pass_resumes_where_everything_was_settled).await;
}

/// Removing a claim is a compare-and-set: a beat, a commit or a take-over
/// since the claim was read leaves it (and its recording) alone.
pub async fn removing_a_claim_is_a_compare_and_set(app: App) {
    let uploads = Uploads::new(app.db.clone());
    let recording = claim_and_store(&app, &app.tenant_a, "pbx-cas").await;
    let key = key(&app.tenant_a, "pbx-cas");
    let Holder::InProgress {
        key: held,
        updated_at,
    } = uploads.holder(key.tenant, recording).await.expect("holder")
    else {
        panic!("an in-progress claim");
    };
    assert_eq!(held, key);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(uploads.heartbeat(&key, recording).await.expect("heartbeat"));
    assert!(
        !uploads
            .remove_abandoned(&key, recording, updated_at)
            .await
            .expect("remove")
    );

    let Holder::InProgress { updated_at, .. } =
        uploads.holder(key.tenant, recording).await.expect("holder")
    else {
        panic!("still in progress");
    };
    assert!(
        Uploads::finish(&app.db, &key, recording, "{}")
            .await
            .expect("finish")
    );
    assert!(
        !uploads
            .remove_abandoned(&key, recording, updated_at)
            .await
            .expect("remove")
    );
    assert_eq!(
        uploads.holder(key.tenant, recording).await.expect("holder"),
        Holder::Done
    );
    // Done means kept, however old its last beat.
    let pass = reconciler(&app, Duration::ZERO).run().await.expect("run");
    assert_eq!(pass, report(1, 1, 0, 0));
}

#[tokio::test]
async fn removing_a_claim_is_a_compare_and_set_on_sqlite() {
    removing_a_claim_is_a_compare_and_set(App::sqlite().await).await;
}

#[tokio::test]
async fn removing_a_claim_is_a_compare_and_set_on_postgres() {
    on_postgres(removing_a_claim_is_a_compare_and_set).await;
}

/// Uploads racing a reconciler that takes every claim for abandoned (the
/// harshest setting), tenant B's commits held back after storing: uploads
/// may lose their claim and be refused, but every recording that got a 201
/// is still there, readable, and once the uploads are over nothing else is
/// left in storage.
pub async fn uploads_racing_the_reconciler_lose_nothing_committed(app: App) {
    if let Ok(mut slow) = app.sink.slow_tenant.lock() {
        *slow = Some((app.tenant_b.tenant, Duration::from_millis(300)));
    }
    let app = Arc::new(app);
    let uploads_over = Arc::new(AtomicBool::new(false));
    let racing = {
        let (app, uploads_over) = (app.clone(), uploads_over.clone());
        tokio::spawn(async move {
            let harsh = reconciler(&app, Duration::ZERO).with_page_size(2);
            let mut discarded = 0;
            while !uploads_over.load(Ordering::SeqCst) {
                discarded += harsh.run().await.expect("run").discarded;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            discarded
        })
    };
    let mut uploads = Vec::new();
    for index in 0..12u32 {
        let app = app.clone();
        uploads.push(tokio::spawn(async move {
            let recorder = if index % 2 == 0 {
                &app.tenant_a
            } else {
                &app.tenant_b
            };
            let audio = wav::pcm16_stereo(8_000, 1 + index % 3);
            let call = call(&format!("pbx-race-{index}"));
            let (status, body) = app
                .upload(recorder, "audio/wav", &call, audio.clone())
                .await;
            (status, body, audio)
        }));
    }
    let (mut accepted, mut superseded) = (Vec::new(), 0);
    for upload in uploads {
        let (status, body, audio) = upload.await.expect("upload task");
        if status == 201 {
            accepted.push((receipt(&body), audio));
        } else {
            assert_eq!((status, error_code(&body)), (409, "upload_superseded"));
            superseded += 1;
        }
    }
    uploads_over.store(true, Ordering::SeqCst);
    let discarded = racing.await.expect("reconciler task");
    reconciler(&app, LONG).run().await.expect("final pass");
    for (receipt, audio) in &accepted {
        assert_eq!(&app.read_back(receipt).await, audio);
    }
    assert_eq!(app.stored_records().await, accepted.len() as i64);
    assert_eq!(app.outbox().await.len(), accepted.len());
    // The race happened: claims were removed under stored recordings.
    assert!(superseded > 0 && discarded > 0, "{superseded} {discarded}");
    println!(
        "{} of 12 uploads accepted, {discarded} recordings discarded under the others",
        accepted.len()
    );
}

#[tokio::test]
async fn uploads_racing_the_reconciler_on_sqlite() {
    uploads_racing_the_reconciler_lose_nothing_committed(App::sqlite().await).await;
}

#[tokio::test]
async fn uploads_racing_the_reconciler_on_postgres() {
    on_postgres(uploads_racing_the_reconciler_lose_nothing_committed).await;
}

/// A database created before the reconciler existed gets its index on the
/// next start, and its rows are found by recording.
pub async fn an_existing_database_migrates_forward(url: String) {
    let old = Database::connect(url.as_str()).await.expect("connect");
    let before = Migrator::migrations().len() as u32 - 1;
    Migrator::up(&old, Some(before)).await.expect("old schema");
    let recording = RecordingId::new();
    let tenant = TenantId::new();
    let key = UploadKey {
        tenant,
        external_call_id: "pbx-old".into(),
        segment: 3,
    };
    Uploads::new(old.clone())
        .claim(&key, recording, LONG)
        .await
        .expect("claim");
    old.close().await.expect("close");

    let db = callvault_ingestion::connect(&url).await.expect("migrate");
    let applied = Migrator::get_applied_migrations(&db)
        .await
        .expect("applied");
    assert_eq!(applied.len(), Migrator::migrations().len());
    assert!(has_index(&db, "idx_uploads_tenant_recording").await);
    let holder = Uploads::new(db.clone())
        .holder(tenant, recording)
        .await
        .expect("holder");
    assert!(matches!(holder, Holder::InProgress { key: k, .. } if k == key));
    db.close().await.expect("close");
}

async fn has_index(db: &DatabaseConnection, name: &str) -> bool {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => {
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = $1"
        }
        _ => "SELECT count(*) AS n FROM pg_indexes WHERE indexname = $1",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [name.into()]))
        .await
        .expect("index query")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("count") == 1
}

#[tokio::test]
async fn an_existing_database_migrates_forward_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("ingestion.db").display()
    );
    an_existing_database_migrates_forward(url).await;
}

#[tokio::test]
async fn an_existing_database_migrates_forward_on_postgres() {
    with_pg_database(an_existing_database_migrates_forward).await;
}
