//! `spawn_app`: the ingestion endpoint on a random loopback port, over real
//! storage (filesystem blobs, local keyring, SQLite records in a tempdir)
//! and its own database (SQLite, or a fresh PostgreSQL database).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use callvault_blob::{BlobStore, fs::FsBlobStore};
use callvault_contracts::TenantId;
use callvault_contracts::events::Message;
use callvault_contracts::metadata_api::ApiKeyGrant;
use callvault_ingestion::{IngestionState, RecordingSink, UploadReceipt};
use callvault_keys::{KeyProvider, local::LocalKeyring};
use callvault_storage::RecordingStore;
use callvault_storage::records::{self, StorageRecords};
use callvault_testkit::with_pg_database;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use uuid::Uuid;

use callvault_bus::RpcClient;

use crate::fakes::{KeyTable, StorageSink};

/// A recorder of one tenant: the secret it sends and the tenant it maps to.
#[derive(Clone)]
pub struct Recorder {
    pub tenant: TenantId,
    pub secret: String,
}

pub struct App {
    pub url: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub store: Arc<RecordingStore>,
    pub records: StorageRecords,
    pub sink: Arc<StorageSink>,
    pub keys: Arc<KeyTable>,
    /// The key table as the metadata service, over the in-process bus.
    pub metadata: RpcClient,
    pub notified: Arc<AtomicUsize>,
    pub tenant_a: Recorder,
    pub tenant_b: Recorder,
    dir: tempfile::TempDir,
}

impl App {
    pub async fn sqlite() -> Self {
        Self::start(None, None).await
    }

    /// `db_url`: the ingestion database (a tempdir SQLite file if `None`).
    pub async fn start(db_url: Option<&str>, stale_after: Option<Duration>) -> Self {
        Self::start_with(db_url, stale_after, None).await
    }

    /// On SQLite, accepting at most `max_upload_bytes` per upload.
    pub async fn with_upload_limit(max_upload_bytes: u64) -> Self {
        Self::start_with(None, None, Some(max_upload_bytes)).await
    }

    async fn start_with(
        db_url: Option<&str>,
        stale_after: Option<Duration>,
        max_upload_bytes: Option<u64>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let keyring =
            Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
        let storage_url = format!("sqlite://{}", dir.path().join("storage.db").display());
        let records = StorageRecords::new(
            records::connect(&storage_url)
                .await
                .expect("storage records"),
        );
        let store = Arc::new(RecordingStore::new(
            blobs as Arc<dyn BlobStore>,
            keyring.clone() as Arc<dyn KeyProvider>,
            records.clone(),
        ));
        let sink = Arc::new(StorageSink {
            store: store.clone(),
            down: AtomicBool::new(false),
            discard_down: AtomicBool::new(false),
            slow_tenant: std::sync::Mutex::new(None),
            panic_once: AtomicBool::new(false),
        });

        let keys = Arc::new(KeyTable::default());
        let mut recorders = Vec::new();
        for _ in 0..2 {
            let tenant = TenantId::new();
            let key_ref = keyring
                .create_tenant_key(&tenant.to_string())
                .await
                .expect("tenant key");
            let secret = format!("cvk_{}", Uuid::new_v4().simple());
            keys.grant(
                &secret,
                ApiKeyGrant {
                    key_id: Uuid::new_v4(),
                    tenant_id: tenant,
                    key_ref: key_ref.0,
                    recording_policy: false,
                },
            );
            recorders.push(Recorder { tenant, secret });
        }
        let (tenant_b, tenant_a) = (recorders.pop().expect("b"), recorders.pop().expect("a"));

        let db_url = db_url
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("ingestion.db").display()));
        let db = callvault_ingestion::connect(&db_url)
            .await
            .expect("ingestion database");
        let notified = Arc::new(AtomicUsize::new(0));
        let notify = {
            let notified = notified.clone();
            Arc::new(move || {
                notified.fetch_add(1, Ordering::SeqCst);
            })
        };
        let metadata = crate::fakes::metadata_service(&keys).await;
        let mut state = IngestionState::new(
            db.clone(),
            metadata.clone(),
            sink.clone() as Arc<dyn RecordingSink>,
            Some(notify),
        );
        if let Some(stale_after) = stale_after {
            state = state.with_stale_after(stale_after);
        }
        if let Some(max) = max_upload_bytes {
            state = state.with_max_upload_bytes(max);
        }
        let url = serve(actix_web::web::Data::new(state));
        Self {
            url,
            client: reqwest::Client::new(),
            db,
            store,
            records,
            sink,
            keys,
            metadata,
            notified,
            tenant_a,
            tenant_b,
            dir,
        }
    }

    /// Uploads `audio` as `recorder` with `call` (JSON) and `content_type`.
    pub async fn upload(
        &self,
        recorder: &Recorder,
        content_type: &str,
        call: &serde_json::Value,
        audio: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(format!("{}/v1/recordings", self.url))
            .header("authorization", format!("Bearer {}", recorder.secret))
            .header("content-type", content_type)
            .header("callvault-call", call.to_string())
            .body(audio)
            .send()
            .await
            .expect("upload request");
        read(response).await
    }

    /// Uploads `audio` chunked, without a `Content-Length`, in pieces of
    /// `piece` bytes, as a recorder streaming a call does.
    pub async fn upload_streamed(
        &self,
        recorder: &Recorder,
        call: &serde_json::Value,
        audio: &[u8],
        piece: usize,
    ) -> (u16, serde_json::Value) {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            audio.chunks(piece).map(|c| Ok(c.to_vec())).collect();
        let response = self
            .client
            .post(format!("{}/v1/recordings", self.url))
            .header("authorization", format!("Bearer {}", recorder.secret))
            .header("content-type", "audio/wav")
            .header("callvault-call", call.to_string())
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .expect("chunked upload");
        read(response).await
    }

    pub async fn stored_records(&self) -> i64 {
        count(
            self.records.connection(),
            "SELECT count(*) AS n FROM storage_objects WHERE state = 'stored'",
        )
        .await
    }

    pub async fn all_records(&self) -> i64 {
        count(
            self.records.connection(),
            "SELECT count(*) AS n FROM storage_objects",
        )
        .await
    }

    pub fn blob_files(&self) -> usize {
        files_under(&self.dir.path().join("blobs"))
    }

    pub async fn upload_rows(&self) -> i64 {
        count(&self.db, "SELECT count(*) AS n FROM uploads").await
    }

    /// The outbox's messages, oldest first.
    pub async fn outbox(&self) -> Vec<Message> {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT payload FROM outbox ORDER BY created_at",
            ))
            .await
            .expect("read the outbox");
        rows.iter()
            .map(|row| {
                let payload: String = row.try_get("", "payload").expect("payload column");
                serde_json::from_str(&payload).expect("an outbox message")
            })
            .collect()
    }

    /// Asserts nothing at all was stored for any upload so far.
    pub async fn assert_nothing_stored(&self) {
        assert_eq!(self.all_records().await, 0, "storage records");
        assert_eq!(self.blob_files(), 0, "blob files");
        assert!(self.outbox().await.is_empty(), "outbox messages");
    }

    pub async fn read_back(&self, receipt: &UploadReceipt) -> Vec<u8> {
        use futures_util::TryStreamExt;
        let stream = self
            .store
            .read(receipt.tenant_id, receipt.recording_id, None)
            .await
            .expect("read the recording back");
        let chunks: Vec<bytes::Bytes> = stream.body.try_collect().await.expect("recording bytes");
        chunks.concat()
    }
}

pub async fn read(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("response body");
    let json = serde_json::from_slice(&body).unwrap_or_else(|_| {
        panic!(
            "a json body, got {status}: {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, json)
}

pub fn receipt(json: &serde_json::Value) -> UploadReceipt {
    serde_json::from_value(json.clone()).expect("an upload receipt")
}

pub fn error_code(json: &serde_json::Value) -> &str {
    json["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error body, got {json}"))
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("count query")
        .expect("one row")
        .try_get("", "n")
        .expect("count column")
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

fn serve(state: actix_web::web::Data<IngestionState>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(callvault_ingestion::configure(state.clone()))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// Call metadata that passes every check, for `external_call_id`.
pub fn call(external_call_id: &str) -> serde_json::Value {
    serde_json::json!({
        "external_call_id": external_call_id,
        "segment": 0,
        "direction": "inbound",
        "caller_number": "+81312345678",
        "callee_number": "+81398765432",
        "agent": "agent-7",
        "queue": "support",
        "started_at": "2025-03-01T09:00:00Z",
        "ended_at": "2025-03-01T09:04:00Z",
        "tags": ["vip"]
    })
}

/// Runs `scenario` against an app whose ingestion database is a fresh
/// PostgreSQL database, dropping it afterwards whether the scenario passed
/// or not.
pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(App) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    with_pg_database(|url| async move { scenario(App::start(Some(&url), None).await).await }).await;
}
