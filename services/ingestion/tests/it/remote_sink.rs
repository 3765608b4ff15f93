//! `RemoteStorageSink` against a real storage service on another port
//! (filesystem blobs, local keyring, SQLite records): what the distributed
//! mode runs, with storage in its own process.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use callvault_auth::signed_url::UrlSigner;
use callvault_blob::{BlobStore, fs::FsBlobStore};
use callvault_contracts::metadata_api::ApiKeyGrant;
use callvault_contracts::{RecordingId, TenantId};
use callvault_ingestion::remote_sink::{self, RemoteStorageSink};
use callvault_ingestion::{
    AudioStream, IngestionState, ReconcileFailure, ReconcileReport, Reconciler, RecordingSink,
    SinkError, StoredObject,
};
use callvault_keys::{KeyProvider, local::LocalKeyring};
use callvault_storage::records::{self, StorageRecords};
use callvault_storage::upload::{self, UploadState};
use callvault_storage::{ListedRecord, RecordingStore};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use uuid::Uuid;

use crate::fakes::KeyTable;
use crate::support::{call, error_code, read, receipt};
use crate::wav;

fn signer() -> UrlSigner {
    UrlSigner::new(&[42u8; 32]).expect("secret")
}

/// A storage service serving its object routes on a loopback port.
struct Storage {
    dir: tempfile::TempDir,
    store: Arc<RecordingStore>,
    records: StorageRecords,
    keyring: Arc<LocalKeyring>,
    url: String,
}

impl Storage {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let keyring =
            Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
        let db_url = format!("sqlite://{}", dir.path().join("storage.db").display());
        let records =
            StorageRecords::new(records::connect(&db_url).await.expect("storage records"));
        let store = Arc::new(RecordingStore::new(
            blobs as Arc<dyn BlobStore>,
            keyring.clone() as Arc<dyn KeyProvider>,
            records.clone(),
        ));
        let state = actix_web::web::Data::new(UploadState {
            store: store.clone(),
            signer: signer(),
        });
        let url = serve(move |config| upload::configure(state.clone())(config));
        Self {
            dir,
            store,
            records,
            keyring,
            url,
        }
    }

    async fn tenant_key(&self, tenant: TenantId) -> String {
        self.keyring
            .create_tenant_key(&tenant.to_string())
            .await
            .expect("tenant key")
            .0
    }

    fn sink(&self) -> RemoteStorageSink {
        RemoteStorageSink::new(format!("{}/", self.url), signer(), reqwest::Client::new())
    }

    async fn read_back(&self, tenant: TenantId, recording: RecordingId) -> Vec<u8> {
        let stream = self
            .store
            .read(tenant, recording, None)
            .await
            .expect("read the recording back");
        let chunks: Vec<Bytes> = stream.body.try_collect().await.expect("recording bytes");
        chunks.concat()
    }

    async fn is_absent(&self, tenant: TenantId, recording: RecordingId) -> bool {
        let record = self
            .records
            .get(tenant.0, recording.0)
            .await
            .expect("records");
        record.is_none() && files_under(&self.dir.path().join("blobs")) == 0
    }
}

fn files_under(path: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            if entry.path().is_dir() {
                files_under(&entry.path())
            } else {
                1
            }
        })
        .sum()
}

/// Serves `configure` on 127.0.0.1 and returns the base URL.
fn serve<F>(configure: F) -> String
where
    F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

fn chunks(data: &[u8], size: usize) -> AudioStream {
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(pieces).boxed()
}

fn audio(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 9)) as u8)
        .collect()
}

#[tokio::test]
async fn urls_are_built_exactly_as_storage_builds_them() {
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    for key_ref in [
        "local:tenant-1",
        "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab",
        "odd key/with&query=chars+and%",
    ] {
        assert_eq!(
            remote_sink::upload_path(&signer(), tenant, recording, key_ref, 1_234),
            callvault_storage::upload_path(&signer(), tenant, recording, key_ref, 1_234),
            "{key_ref}"
        );
    }
    assert_eq!(
        remote_sink::discard_path(&signer(), tenant, recording, 1_234),
        callvault_storage::discard_path(&signer(), tenant, recording, 1_234)
    );
    // Nanoseconds too: both keep the cutoff to the microsecond.
    let before = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("time");
    let after = StoredObject {
        created_at: DateTime::from_timestamp(1_600_000_000, 5_000).expect("time"),
        tenant,
        recording,
    };
    let listed = ListedRecord {
        created_at: after.created_at,
        tenant_id: tenant,
        recording_id: recording,
    };
    assert_eq!(
        remote_sink::list_path(&signer(), before, None, 500, 1_234),
        callvault_storage::list_path(&signer(), before, None, 500, 1_234)
    );
    assert_eq!(
        remote_sink::list_path(&signer(), before, Some(&after), 7, 1_234),
        callvault_storage::list_path(&signer(), before, Some(&listed), 7, 1_234)
    );
}

#[tokio::test]
async fn listing_over_http_pages_like_storage_itself() {
    let storage = Storage::start().await;
    let sink = storage.sink();
    for _ in 0..2 {
        let tenant = TenantId::new();
        let key_ref = storage.tenant_key(tenant).await;
        for _ in 0..3 {
            sink.store(
                tenant,
                RecordingId::new(),
                &key_ref,
                chunks(&audio(1_000), 300),
            )
            .await
            .expect("stored");
        }
    }
    let before = Utc::now() + chrono::Duration::seconds(1);
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = sink.list_stored(before, after, 4).await.expect("a page");
        walked.extend(page.iter().copied());
        if page.len() < 4 {
            break;
        }
        after = page.last().copied();
    }
    let in_process = storage
        .store
        .list_stored(before, None, 100)
        .await
        .expect("in process");
    let expected: Vec<StoredObject> = in_process
        .into_iter()
        .map(|record| StoredObject {
            created_at: record.created_at,
            tenant: record.tenant_id,
            recording: record.recording_id,
        })
        .collect();
    assert_eq!(walked.len(), 6);
    assert_eq!(walked, expected);

    // Signed with another secret: a setup bug, not an outage.
    let other = UrlSigner::new(&[9u8; 32]).expect("secret");
    let stranger = RemoteStorageSink::new(storage.url.clone(), other, reqwest::Client::new());
    let result = stranger.list_stored(before, None, 4).await;
    assert!(matches!(result, Err(SinkError::Internal(_))), "{result:?}");
}

#[tokio::test]
async fn store_then_discard_round_trips() {
    let storage = Storage::start().await;
    let sink = storage.sink();
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key_ref = storage.tenant_key(tenant).await;
    let data = audio(1_500_000);

    let stored = sink
        .store(tenant, recording, &key_ref, chunks(&data, 50_000))
        .await
        .expect("stored remotely");
    assert_eq!(stored.size, data.len() as u64);
    let info = storage.store.info(tenant, recording).await.expect("info");
    assert_eq!(stored.sha256, info.sha256);
    assert!(storage.read_back(tenant, recording).await == data);

    sink.discard(tenant, recording).await.expect("discarded");
    assert!(storage.is_absent(tenant, recording).await);
    // Discarding what is not there is not an error.
    sink.discard(tenant, recording)
        .await
        .expect("discarded again");
}

#[tokio::test]
async fn a_second_store_is_a_conflict_and_keeps_the_first() {
    let storage = Storage::start().await;
    let sink = storage.sink();
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key_ref = storage.tenant_key(tenant).await;
    let first = audio(100_000);
    sink.store(tenant, recording, &key_ref, chunks(&first, 10_000))
        .await
        .expect("stored");

    let second = vec![1u8; 2_000_000];
    let result = sink
        .store(tenant, recording, &key_ref, chunks(&second, 64 * 1024))
        .await;
    assert!(matches!(result, Err(SinkError::Conflict)), "{result:?}");
    assert!(storage.read_back(tenant, recording).await == first);
}

#[tokio::test]
async fn a_failing_body_is_a_body_error_and_stores_nothing() {
    let storage = Storage::start().await;
    let sink = storage.sink();
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key_ref = storage.tenant_key(tenant).await;
    let good = chunks(&audio(300_000), 30_000);
    let failing = futures_util::stream::iter([Err(std::io::Error::other("recorder went away"))]);
    let result = sink
        .store(tenant, recording, &key_ref, good.chain(failing).boxed())
        .await;
    assert!(
        matches!(&result, Err(SinkError::Body(why)) if why.contains("recorder went away")),
        "{result:?}"
    );
    // Storage sees the connection end mid-body and refuses it at once; a
    // moment later nothing is stored, and the recording id is still free.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        storage.is_absent(tenant, recording).await,
        "storage kept part of a failed body"
    );
    let whole = audio(300_000);
    sink.store(tenant, recording, &key_ref, chunks(&whole, 30_000))
        .await
        .expect("a whole retry is stored");
    assert!(storage.read_back(tenant, recording).await == whole);
}

#[tokio::test]
async fn refusals_map_to_sink_errors() {
    let storage = Storage::start().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key_ref = storage.tenant_key(tenant).await;

    // Signed with another secret: storage answers 403, a setup bug.
    let other = UrlSigner::new(&[9u8; 32]).expect("secret");
    let stranger = RemoteStorageSink::new(storage.url.clone(), other, reqwest::Client::new());
    let result = stranger
        .store(tenant, recording, &key_ref, chunks(&audio(1_000), 100))
        .await;
    assert!(matches!(result, Err(SinkError::Internal(_))), "{result:?}");
    let result = stranger.discard(tenant, recording).await;
    assert!(matches!(result, Err(SinkError::Internal(_))), "{result:?}");

    // A key reference the keyring doesn't know, even after reading its
    // file again: permanent, never a retryable "unavailable".
    let result = storage
        .sink()
        .store(tenant, recording, "local:nope", chunks(&audio(1_000), 100))
        .await;
    assert!(
        matches!(result, Err(SinkError::KeyUnusable(_))),
        "{result:?}"
    );
    assert!(storage.is_absent(tenant, recording).await);
}

#[tokio::test]
async fn storage_down_is_unavailable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.local_addr().expect("addr").port()
    };
    let sink = RemoteStorageSink::new(
        format!("http://127.0.0.1:{port}"),
        signer(),
        reqwest::Client::new(),
    );
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let result = sink
        .store(tenant, recording, "local:k", chunks(&audio(1_000), 100))
        .await;
    let Err(SinkError::Unavailable(why)) = result else {
        panic!("expected unavailable, got {result:?}");
    };
    assert!(!why.contains("sig="), "the signed url leaked: {why}");
    let result = sink.discard(tenant, recording).await;
    assert!(
        matches!(result, Err(SinkError::Unavailable(_))),
        "{result:?}"
    );
}

/// Serves ingestion's HTTP endpoint over `sink`, for one recorder of
/// `tenant` whose key is `key_ref`; returns its URL and API key.
async fn spawn_ingestion(
    dir: &Path,
    sink: RemoteStorageSink,
    tenant: TenantId,
    key_ref: String,
) -> (String, String) {
    let secret = format!("cvk_{}", Uuid::new_v4().simple());
    let keys = Arc::new(KeyTable::default());
    keys.grant(
        &secret,
        ApiKeyGrant {
            key_id: Uuid::new_v4(),
            tenant_id: tenant,
            key_ref,
            recording_policy: false,
        },
    );
    let db_url = format!("sqlite://{}", dir.join("ingestion.db").display());
    let db = callvault_ingestion::connect(&db_url)
        .await
        .expect("ingestion database");
    let state = actix_web::web::Data::new(IngestionState::new(
        db,
        crate::fakes::metadata_service(&keys).await,
        Arc::new(sink) as Arc<dyn RecordingSink>,
        None,
    ));
    let url = serve(move |config| callvault_ingestion::configure(state.clone())(config));
    (url, secret)
}

async fn post_recording(url: &str, secret: &str, audio: Vec<u8>) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/recordings"))
        .header("authorization", format!("Bearer {secret}"))
        .header("content-type", "audio/wav")
        .header("callvault-call", call("pbx-remote").to_string())
        .body(audio)
        .send()
        .await
        .expect("upload request");
    read(response).await
}

/// Ingestion's HTTP endpoint, storing through `RemoteStorageSink` into the
/// storage service on its own port.
#[tokio::test]
async fn an_ingestion_upload_lands_in_remote_storage() {
    let storage = Storage::start().await;
    let tenant = TenantId::new();
    let key_ref = storage.tenant_key(tenant).await;
    let (ingestion, secret) =
        spawn_ingestion(storage.dir.path(), storage.sink(), tenant, key_ref).await;

    // Several probe windows long, so it streams through both services.
    let audio = wav::mulaw_mono_8k(30);
    assert!(audio.len() > 3 * callvault_ingestion::PROBE_WINDOW);
    let (status, body) = post_recording(&ingestion, &secret, audio.clone()).await;
    assert_eq!(status, 201, "{body}");
    let receipt = receipt(&body);
    assert_eq!(
        (receipt.tenant_id, receipt.size),
        (tenant, audio.len() as u64)
    );
    assert!(storage.read_back(tenant, receipt.recording_id).await == audio);
    let info = storage
        .store
        .info(tenant, receipt.recording_id)
        .await
        .expect("info");
    assert_eq!(hex::encode(info.sha256), receipt.sha256);
}

#[tokio::test]
async fn an_ingestion_upload_with_storage_down_is_503() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.local_addr().expect("addr").port()
    };
    let sink = RemoteStorageSink::new(
        format!("http://127.0.0.1:{port}"),
        signer(),
        reqwest::Client::new(),
    );
    let (ingestion, secret) =
        spawn_ingestion(dir.path(), sink, TenantId::new(), "local:k".into()).await;
    let (status, body) = post_recording(&ingestion, &secret, wav::mulaw_mono_8k(10)).await;
    assert_eq!((status, error_code(&body)), (503, "unavailable"), "{body}");
}

/// A key reference storage's key provider doesn't have (after looking
/// again): permanent, so 422 `tenant_key_unusable` without `Retry-After`,
/// never a 503 the recorder would retry forever; nothing is stored.
#[tokio::test]
async fn an_upload_under_a_key_storage_does_not_have_is_422_not_503() {
    let storage = Storage::start().await;
    let tenant = TenantId::new();
    let (ingestion, secret) = spawn_ingestion(
        storage.dir.path(),
        storage.sink(),
        tenant,
        format!("tenant/{tenant}"),
    )
    .await;
    let response = reqwest::Client::new()
        .post(format!("{ingestion}/v1/recordings"))
        .header("authorization", format!("Bearer {secret}"))
        .header("content-type", "audio/wav")
        .header("callvault-call", call("pbx-no-key").to_string())
        .body(wav::mulaw_mono_8k(10))
        .send()
        .await
        .expect("upload request");
    assert!(response.headers().get("retry-after").is_none());
    let (status, body) = read(response).await;
    assert_eq!(
        (status, error_code(&body)),
        (422, "tenant_key_unusable"),
        "{body}"
    );
    assert!(
        storage
            .store
            .list_stored(Utc::now() + chrono::Duration::hours(1), None, 10)
            .await
            .expect("listing")
            .is_empty(),
        "nothing stored"
    );
}

/// The distributed mode's reconciler: ingestion's database here, storage
/// over HTTP. The committed upload stays, the orphan goes.
#[tokio::test]
async fn the_reconciler_over_http_discards_only_orphans() {
    let storage = Storage::start().await;
    let tenant = TenantId::new();
    let key_ref = storage.tenant_key(tenant).await;
    let (ingestion, secret) =
        spawn_ingestion(storage.dir.path(), storage.sink(), tenant, key_ref.clone()).await;
    let audio = wav::mulaw_mono_8k(2);
    let (status, body) = post_recording(&ingestion, &secret, audio.clone()).await;
    assert_eq!(status, 201, "{body}");
    let committed = receipt(&body).recording_id;
    let orphan = RecordingId::new();
    storage
        .sink()
        .store(tenant, orphan, &key_ref, chunks(&audio, 1_000))
        .await
        .expect("stored");

    let db_url = format!(
        "sqlite://{}",
        storage.dir.path().join("ingestion.db").display()
    );
    let db = callvault_ingestion::connect(&db_url).await.expect("db");
    let reconciler = Reconciler::new(
        db,
        Arc::new(storage.sink()),
        crate::fakes::metadata_service(&Arc::new(KeyTable::default())).await,
    )
    .with_grace(Duration::ZERO)
    .with_page_size(1);
    let report = reconciler.run().await.expect("a pass");
    assert_eq!(
        report,
        ReconcileReport {
            checked: 2,
            kept: 1,
            discarded: 1,
            failed: 0,
            held_back: 0,
        }
    );
    assert!(storage.read_back(tenant, committed).await == audio);
    let orphan_record = storage
        .records
        .get(tenant.0, orphan.0)
        .await
        .expect("records");
    assert!(orphan_record.is_none());

    // Storage down: the pass fails as a whole, nothing is decided.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.local_addr().expect("addr").port()
    };
    let down = RemoteStorageSink::new(
        format!("http://127.0.0.1:{port}"),
        signer(),
        reqwest::Client::new(),
    );
    let db = callvault_ingestion::connect(&db_url).await.expect("db");
    let error = Reconciler::new(
        db,
        Arc::new(down),
        crate::fakes::metadata_service(&Arc::new(KeyTable::default())).await,
    )
    .with_grace(Duration::ZERO)
    .run()
    .await
    .expect_err("storage is down");
    assert!(
        matches!(
            error.source,
            ReconcileFailure::Listing(SinkError::Unavailable(_))
        ),
        "{error}"
    );
    assert_eq!(error.partial, ReconcileReport::default());
}
