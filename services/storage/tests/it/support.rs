//! Builds a storage service on real embedded backends (filesystem blobs,
//! local keyring, SQLite) in a temporary directory, and serves its
//! endpoints on a random loopback port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use callvault_auth::signed_url::UrlSigner;
use callvault_blob::{BlobStore, ByteStream, fs::FsBlobStore};
use callvault_contracts::events::{Event, Message};
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::{KeyProvider, KeyRef, local::LocalKeyring};
use callvault_storage::playback::{self, PlaybackState};
use callvault_storage::records::{self, NewRecord, StorageRecords};
use callvault_storage::upload::{self, UploadState};
use callvault_storage::{RecordingStore, StoredRecording};
use chrono::SubsecRound;
use futures_util::StreamExt;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Arc<RecordingStore>,
    pub blobs: Arc<FsBlobStore>,
    pub keys: Arc<LocalKeyring>,
    pub records: StorageRecords,
}

impl Harness {
    pub async fn embedded() -> Self {
        Self::with_records(None).await
    }

    /// The embedded harness with its records (and outbox) in the database
    /// at `url` (a PostgreSQL test database), or SQLite in the tempdir.
    pub async fn with_records(url: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = Arc::new(FsBlobStore::new(dir.path().join("blobs")));
        let keys = Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
        let url = url
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("storage.db").display()));
        let records = StorageRecords::new(records::connect(&url).await.expect("records database"));
        let store = Arc::new(RecordingStore::new(
            blobs.clone() as Arc<dyn BlobStore>,
            keys.clone() as Arc<dyn KeyProvider>,
            records.clone(),
        ));
        Self {
            dir,
            store,
            blobs,
            keys,
            records,
        }
    }

    /// Rebuilds the store with `alarm` (over the same backends).
    pub fn alarm(&mut self, alarm: callvault_storage::IntegrityAlarm) {
        self.store = Arc::new(
            RecordingStore::new(
                self.blobs.clone() as Arc<dyn BlobStore>,
                self.keys.clone() as Arc<dyn KeyProvider>,
                self.records.clone(),
            )
            .with_alarm(alarm),
        );
    }

    pub async fn tenant_key(&self, tenant: TenantId) -> KeyRef {
        self.keys
            .create_tenant_key(&tenant.to_string())
            .await
            .expect("tenant key")
    }

    pub async fn store_bytes(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        data: &[u8],
    ) -> StoredRecording {
        let key = self.tenant_key(tenant).await;
        self.store
            .store(tenant, recording, &key, body(data, 7_919))
            .await
            .expect("stored")
    }
}

/// The messages in the storage database's outbox, oldest first.
pub async fn outbox(harness: &Harness) -> Vec<Message> {
    let db = harness.records.connection();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
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

/// The outbox's events of type `E`, oldest first.
pub async fn events<E: Event>(harness: &Harness) -> Vec<E> {
    outbox(harness)
        .await
        .iter()
        .filter(|message| message.topic == E::TOPIC)
        .map(|message| message.decode::<E>().expect("a well-formed event"))
        .collect()
}

/// Writes `record`'s row and nothing else, as the store did before the
/// outbox (today's [`StorageRecords::insert`] also enqueues its
/// `recording.stored`): for a database still on an older schema.
pub async fn insert_row_alone(db: &DatabaseConnection, record: &NewRecord) {
    let columns = [
        "tenant_id",
        "recording_id",
        "object_key",
        "key_ref",
        "wrapped_key",
        "frame_size",
        "plaintext_len",
        "ciphertext_len",
        "sha256",
        "state",
        "created_at",
    ];
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("storage_objects"))
        .columns(columns.map(Alias::new))
        .values([
            record.tenant_id.into(),
            record.recording_id.into(),
            record.object_key.clone().into(),
            record.key_ref.clone().into(),
            record.wrapped_key.clone().into(),
            i32::try_from(record.frame_size).expect("frame size").into(),
            i64::try_from(record.plaintext_len).expect("length").into(),
            i64::try_from(record.ciphertext_len).expect("length").into(),
            record.sha256.to_vec().into(),
            "stored".into(),
            record.created_at.trunc_subsecs(6).into(),
        ])
        .expect("as many values as columns");
    db.execute_raw(db.get_database_backend().build(&insert))
        .await
        .expect("insert the row alone");
}

/// `data` as an upload stream cut into `chunk`-byte pieces.
pub fn body(data: &[u8], chunk: usize) -> ByteStream {
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures_util::stream::iter(pieces).boxed()
}

pub fn audio(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

pub fn signer() -> UrlSigner {
    UrlSigner::new(&[42u8; 32]).expect("secret")
}

/// Seconds since the epoch: what signed URLs expire at.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

pub fn in_minutes(minutes: u64) -> u64 {
    now() + minutes * 60
}

/// Serves the object routes (upload, discard, listing) and playback, so a
/// test can check each refuses the others' URLs, on 127.0.0.1; returns the
/// base URL.
pub fn spawn_objects(store: Arc<RecordingStore>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let objects = actix_web::web::Data::new(UploadState {
        store: store.clone(),
        signer: signer(),
    });
    let playback = actix_web::web::Data::new(PlaybackState {
        store,
        signer: signer(),
    });
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .configure(upload::configure(objects.clone()))
            .configure(playback::configure(playback.clone()))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// Serves the playback routes on 127.0.0.1 and returns the base URL.
pub fn spawn_playback(store: Arc<RecordingStore>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let state = actix_web::web::Data::new(PlaybackState {
        store,
        signer: signer(),
    });
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(playback::configure(state.clone()))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// The object files under the harness's blob directory.
pub fn object_files(harness: &Harness) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "cvro") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&harness.dir.path().join("blobs"), &mut out);
    out
}

/// Overwrites a (read-only) object file, as damage or an attacker would.
pub fn make_writable_and_write(path: &std::path::Path, bytes: &[u8]) {
    let mut perms = std::fs::metadata(path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).expect("chmod");
    std::fs::write(path, bytes).expect("write");
}
