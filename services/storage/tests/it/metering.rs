//! What storage tells billing: `recording.stored`, `.discarded` and
//! `.shredded` in the outbox, each exactly once and in the transaction of
//! the change it reports, and `recording.served` after each playback GET,
//! with the bytes that went out and the byte rate the gateway signed. Run
//! on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_auth::signed_url::{self, PlaybackTerms};
use callvault_blob::{BlobStore, fs::FsBlobStore};
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{Bus, EventHandler, HandlerError, Message};
use callvault_contracts::events::{
    Event, RecordingDiscardedV1, RecordingServedV1, RecordingShreddedV1, RecordingStoredV1,
    ServedAs,
};
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::{KeyProvider, local::LocalKeyring};
use callvault_storage::StorageError;
use callvault_storage::module::{StorageDependencies, StorageSettings};
use callvault_storage::playback::playback_path;
use callvault_storage::records::{CommitError, NewRecord, RecordState, WriteIntents};
use callvault_testkit::with_pg_database;
use chrono::{DateTime, SubsecRound, Utc};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, RANGE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Harness, audio, events, in_minutes, signer, spawn_playback};

// ---- stored, discarded, shredded ----

#[tokio::test]
async fn lifecycle_events_on_sqlite() {
    lifecycle_events(None).await;
}

#[tokio::test]
async fn lifecycle_events_on_postgres() {
    with_pg_database(|url| async move { lifecycle_events(Some(&url)).await }).await;
}

async fn lifecycle_events(url: Option<&str>) {
    let harness = Harness::with_records(url).await;
    a_store_is_reported_once_with_the_records_instant(&harness).await;
    a_commit_that_fails_reports_nothing(&harness).await;
    a_discard_is_reported_once(&harness).await;
    a_second_shred_reports_nothing(&harness).await;
    a_tenant_shred_reports_each_recording_once(&harness).await;
}

fn for_recording<E: Event + Clone>(
    all: &[E],
    recording: RecordingId,
    id: impl Fn(&E) -> RecordingId,
) -> Vec<E> {
    all.iter()
        .filter(|event| id(event) == recording)
        .cloned()
        .collect()
}

async fn stored(harness: &Harness, recording: RecordingId) -> Vec<RecordingStoredV1> {
    for_recording(
        &events(harness).await,
        recording,
        |e: &RecordingStoredV1| e.recording_id,
    )
}

async fn discarded(harness: &Harness, recording: RecordingId) -> Vec<RecordingDiscardedV1> {
    for_recording(
        &events(harness).await,
        recording,
        |e: &RecordingDiscardedV1| e.recording_id,
    )
}

async fn shredded(harness: &Harness, recording: RecordingId) -> Vec<RecordingShreddedV1> {
    for_recording(
        &events(harness).await,
        recording,
        |e: &RecordingShreddedV1| e.recording_id,
    )
}

async fn created_at(harness: &Harness, tenant: TenantId, recording: RecordingId) -> DateTime<Utc> {
    harness
        .records
        .get(tenant.0, recording.0)
        .await
        .expect("read the record")
        .expect("the record exists")
        .created_at
}

async fn a_store_is_reported_once_with_the_records_instant(harness: &Harness) {
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness.store_bytes(tenant, recording, &audio(70_001)).await;
    let created_at = created_at(harness, tenant, recording).await;
    assert_eq!(created_at, created_at.trunc_subsecs(6), "kept to the µs");
    assert_eq!(
        stored(harness, recording).await,
        vec![RecordingStoredV1 {
            tenant_id: tenant,
            recording_id: recording,
            size: 70_001,
            stored_at: created_at,
        }]
    );
    // Storing it again is refused, and reports nothing more.
    let key = harness.tenant_key(tenant).await;
    let again = harness
        .store
        .store(tenant, recording, &key, crate::support::body(&audio(10), 4))
        .await;
    assert!(
        matches!(again, Err(StorageError::AlreadyExists)),
        "{again:?}"
    );
    assert_eq!(stored(harness, recording).await.len(), 1);
}

fn new_record(tenant: TenantId, recording: RecordingId, object_key: &str) -> NewRecord {
    NewRecord {
        tenant_id: tenant.0,
        recording_id: recording.0,
        object_key: object_key.to_owned(),
        key_ref: "local:test".into(),
        wrapped_key: vec![1; 40],
        frame_size: 64 * 1024,
        plaintext_len: 1_234,
        ciphertext_len: 1_400,
        sha256: [7; 32],
        created_at: Utc::now(),
    }
}

async fn a_commit_that_fails_reports_nothing(harness: &Harness) {
    let intents = WriteIntents::new(harness.records.connection().clone());
    // An intent the sweep abandoned: the commit records nothing, and
    // reports nothing.
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key = format!("tenants/{tenant}/recordings/{recording}.late.cvro");
    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    intents
        .begin(&key, tenant.0, recording.0, an_hour_ago)
        .await
        .expect("begin");
    intents
        .abandon_pending_before(Utc::now())
        .await
        .expect("abandon");
    let commit = intents.commit(&new_record(tenant, recording, &key)).await;
    assert!(matches!(commit, Err(CommitError::Abandoned)), "{commit:?}");
    assert!(stored(harness, recording).await.is_empty());

    // A record that already exists: the insert fails and the enqueue is
    // rolled back with it.
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness
        .records
        .insert(&new_record(tenant, recording, "tenants/t/first.cvro"))
        .await
        .expect("insert");
    let key = format!("tenants/{tenant}/recordings/{recording}.second.cvro");
    intents
        .begin(&key, tenant.0, recording.0, Utc::now())
        .await
        .expect("begin");
    let commit = intents.commit(&new_record(tenant, recording, &key)).await;
    assert!(matches!(commit, Err(CommitError::Failed(_))), "{commit:?}");
    assert_eq!(stored(harness, recording).await.len(), 1, "the first only");
}

async fn a_discard_is_reported_once(harness: &Harness) {
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness.store_bytes(tenant, recording, &audio(5_000)).await;
    let created_at = created_at(harness, tenant, recording).await;
    let before = Utc::now().trunc_subsecs(6);
    harness
        .store
        .discard(tenant, recording)
        .await
        .expect("discard");
    let after = Utc::now();
    let events = discarded(harness, recording).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(
        (
            event.tenant_id,
            event.recording_id,
            event.size,
            event.stored_at
        ),
        (tenant, recording, 5_000, created_at)
    );
    assert!(
        (before..=after).contains(&event.discarded_at),
        "{before} <= {} <= {after}",
        event.discarded_at
    );
    // Nothing left to discard: nothing more to report.
    harness
        .store
        .discard(tenant, recording)
        .await
        .expect("discard again");
    assert_eq!(discarded(harness, recording).await.len(), 1);
    assert!(shredded(harness, recording).await.is_empty());
}

async fn a_second_shred_reports_nothing(harness: &Harness) {
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness.store_bytes(tenant, recording, &audio(9_999)).await;
    let created_at = created_at(harness, tenant, recording).await;
    let first = harness.store.shred(tenant, recording).await.expect("shred");
    assert!(first.newly_shredded);
    let second = harness
        .store
        .shred(tenant, recording)
        .await
        .expect("shred again");
    assert!(!second.newly_shredded);
    assert_eq!(
        shredded(harness, recording).await,
        vec![RecordingShreddedV1 {
            tenant_id: tenant,
            recording_id: recording,
            size: 9_999,
            stored_at: created_at,
            shredded_at: first.shredded_at,
        }]
    );
    // The event's instant is the record's, to the microsecond.
    let record = harness
        .records
        .get(tenant.0, recording.0)
        .await
        .expect("read")
        .expect("the tombstone");
    assert_eq!(
        record.state,
        RecordState::Shredded {
            at: first.shredded_at
        }
    );
    // A shredded recording can't be discarded: nothing reported either.
    let discard = harness.store.discard(tenant, recording).await;
    assert!(
        matches!(discard, Err(StorageError::Shredded { .. })),
        "{discard:?}"
    );
    assert!(discarded(harness, recording).await.is_empty());
}

async fn a_tenant_shred_reports_each_recording_once(harness: &Harness) {
    let tenant = TenantId::new();
    let recordings = [RecordingId::new(), RecordingId::new(), RecordingId::new()];
    for (index, recording) in recordings.iter().enumerate() {
        harness
            .store_bytes(tenant, *recording, &audio(1_000 + index))
            .await;
    }
    // One shredded before the offboarding, by a deletion.
    harness
        .store
        .shred(tenant, recordings[0])
        .await
        .expect("shred one");
    let report = harness
        .store
        .shred_tenant(tenant, None)
        .await
        .expect("shred the tenant");
    assert_eq!((report.shredded, report.already_shredded), (2, 1));
    let again = harness
        .store
        .shred_tenant(tenant, None)
        .await
        .expect("shred the tenant again");
    assert_eq!((again.shredded, again.already_shredded), (0, 3));
    for (index, recording) in recordings.iter().enumerate() {
        let events = shredded(harness, *recording).await;
        assert_eq!(events.len(), 1, "{recording}: {events:?}");
        assert_eq!(events[0].tenant_id, tenant);
        assert_eq!(events[0].size, 1_000 + index as u64);
        assert_eq!(
            events[0].stored_at,
            created_at(harness, tenant, *recording).await
        );
    }
}

// ---- the module publishes them ----

struct Collect(tokio::sync::mpsc::UnboundedSender<Message>);

#[async_trait]
impl EventHandler for Collect {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let _ = self.0.send(message);
        Ok(())
    }
}

#[tokio::test]
async fn the_module_relays_its_outbox_to_the_bus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = Arc::new(InProcessBus::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    bus.subscribe("meter", &["recording.*"], Arc::new(Collect(tx)))
        .await
        .expect("subscribe");
    let keys = Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
    let mut started = callvault_storage::module::start(
        StorageSettings {
            database_url: format!("sqlite://{}", dir.path().join("storage.db").display()),
            sweep_interval: Duration::ZERO,
            sweep_grace: Duration::from_secs(3600),
            scrub_interval: Duration::ZERO,
            scrub_share_percent: 0,
        },
        StorageDependencies {
            blobs: Arc::new(FsBlobStore::new(dir.path().join("blobs"))) as Arc<dyn BlobStore>,
            keys: keys.clone() as Arc<dyn KeyProvider>,
            signer: signer(),
            bus: bus.clone() as Arc<dyn Bus>,
        },
    )
    .await
    .expect("start storage");
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key = keys
        .create_tenant_key(&tenant.to_string())
        .await
        .expect("tenant key");
    started
        .store
        .store(
            tenant,
            recording,
            &key,
            crate::support::body(&audio(321), 100),
        )
        .await
        .expect("store");
    let message = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("published in time")
        .expect("a message");
    let event: RecordingStoredV1 = message.decode().expect("recording.stored");
    assert_eq!((event.recording_id, event.size), (recording, 321));
    started.store.shred(tenant, recording).await.expect("shred");
    let message = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("published in time")
        .expect("a message");
    assert_eq!(message.topic, RecordingShreddedV1::TOPIC);
    started.module.stop_relays().await;
}

// ---- served ----

#[tokio::test]
async fn served_events_on_sqlite() {
    served_events(None).await;
}

#[tokio::test]
async fn served_events_on_postgres() {
    with_pg_database(|url| async move { served_events(Some(&url)).await }).await;
}

const BYTE_RATE: u64 = 16_000;

fn terms(download: bool) -> PlaybackTerms {
    PlaybackTerms {
        byte_rate: Some(BYTE_RATE),
        download,
    }
}

fn metered_url(base: &str, tenant: TenantId, recording: RecordingId, download: bool) -> String {
    format!(
        "{base}{}",
        signed_url::playback_path(
            &signer(),
            &tenant.to_string(),
            &recording.to_string(),
            &terms(download),
            in_minutes(5),
        )
    )
}

async fn served(harness: &Harness, recording: RecordingId) -> Vec<RecordingServedV1> {
    for_recording(
        &events(harness).await,
        recording,
        |e: &RecordingServedV1| e.recording_id,
    )
}

/// The served events of `recording` once there are `count` (they are
/// written by a task after the response), failing after a while.
async fn wait_served(
    harness: &Harness,
    recording: RecordingId,
    count: usize,
) -> Vec<RecordingServedV1> {
    for _ in 0..200 {
        let events = served(harness, recording).await;
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} served events for {recording}");
}

async fn served_events(url: Option<&str>) {
    let harness = Harness::with_records(url).await;
    let tenant = TenantId::new();
    let recording = RecordingId::new();
    let data = audio(300_000);
    harness.store_bytes(tenant, recording, &data).await;
    let base = spawn_playback(harness.store.clone());
    let client = reqwest::Client::new();
    let started = Utc::now();
    let url = metered_url(&base, tenant, recording, false);

    // HEAD sends no audio: nothing is served.
    let head = client.head(&url).send().await.expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    // A link signed without a byte rate is served, unmetered.
    let old = format!(
        "{base}{}",
        playback_path(&signer(), tenant, recording, in_minutes(5))
    );
    let response = client.get(&old).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.expect("body").len(), 300_000);
    // A range past the end is an error: nothing served.
    let response = client
        .get(&url)
        .header(RANGE, "bytes=300000-")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // A range counts its bytes.
    let response = client
        .get(&url)
        .header(RANGE, "bytes=1000-1999")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert!(response.headers().get(CONTENT_DISPOSITION).is_none());
    assert_eq!(
        &response.bytes().await.expect("body")[..],
        &data[1000..2000]
    );
    let events = wait_served(&harness, recording, 1).await;
    // Time for anything the earlier requests might (wrongly) have written.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events_after = served(&harness, recording).await;
    assert_eq!(events_after, events, "only the range GET was metered");
    let range = &events[0];
    assert_eq!(
        (
            range.tenant_id,
            range.served_as,
            range.bytes,
            range.byte_rate
        ),
        (tenant, ServedAs::Playback, 1_000, BYTE_RATE)
    );
    assert!(
        (started..=Utc::now()).contains(&range.served_at),
        "{}",
        range.served_at
    );

    // The whole recording.
    let response = client.get(&url).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.expect("body"), data);
    let events = wait_served(&harness, recording, 2).await;
    assert_eq!(
        (events[1].served_as, events[1].bytes, events[1].byte_rate),
        (ServedAs::Playback, 300_000, BYTE_RATE)
    );

    // A download: an attachment, metered as one.
    let download = metered_url(&base, tenant, recording, true);
    let response = client.get(&download).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[CONTENT_DISPOSITION],
        format!("attachment; filename=\"{recording}.bin\"").as_str()
    );
    assert_eq!(response.bytes().await.expect("body"), data);
    let events = wait_served(&harness, recording, 3).await;
    assert_eq!(
        (events[2].served_as, events[2].bytes, events[2].byte_rate),
        (ServedAs::Download, 300_000, BYTE_RATE)
    );

    // The terms are signed: changed or stripped, the link is refused.
    for forged in [
        url.replace("byte_rate=16000", "byte_rate=1"),
        url.replace("byte_rate=16000&", ""),
        download.replace("as=download&", ""),
        url.replace("byte_rate=16000&", "byte_rate=16000&as=download&"),
    ] {
        assert_ne!(forged, url);
        let response = client.get(&forged).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{forged}");
    }
    for malformed in [
        url.replace("byte_rate=16000", "byte_rate=fast"),
        url.replace("byte_rate=16000", "byte_rate=16000&as=stream"),
    ] {
        let response = client.get(&malformed).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{malformed}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(served(&harness, recording).await.len(), 3);

    a_client_that_goes_away_counts_what_went_out(&harness, &base).await;
}

async fn a_client_that_goes_away_counts_what_went_out(harness: &Harness, base: &str) {
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    // Much more than the sockets' buffers hold while the client reads
    // nothing (its receive buffer is made small).
    let total = 8 * 1024 * 1024;
    harness.store_bytes(tenant, recording, &audio(total)).await;
    let url = metered_url(base, tenant, recording, false);
    let (address, path) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .expect("an http url");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut stream = socket
        .connect(address.parse().expect("address"))
        .await
        .expect("connect");
    stream
        .write_all(format!("GET /{path} HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut received = 0;
    let mut buffer = vec![0u8; 8192];
    while received < 100_000 {
        let read = stream.read(&mut buffer).await.expect("read");
        assert!(read > 0, "the response ended early");
        received += read;
    }
    drop(stream);
    let events = wait_served(harness, recording, 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let bytes = events[0].bytes;
    // At least what the client read (less the response head), far less
    // than the whole.
    assert!(bytes + 1_000 >= received as u64, "{bytes} < {received}");
    assert!(bytes < total as u64 / 2, "{bytes} of {total}");
}
