//! HTTP object upload and discard behind signed URLs, on a real server:
//! streamed bodies land whole, and every refused or broken request leaves
//! nothing behind.

use std::path::Path;
use std::time::Duration;

use aws_lc_rs::digest;
use bytes::Bytes;
use callvault_contracts::{RecordingId, TenantId};
use callvault_storage::StorageError;
use callvault_storage::playback::playback_path;
use callvault_storage::upload::{UploadedObject, discard_path, upload_path};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Harness, audio, in_minutes, now, signer, spawn_objects};

const MB: usize = 1024 * 1024;

struct Fixture {
    harness: Harness,
    base: String,
    client: reqwest::Client,
    tenant: TenantId,
    key_ref: String,
}

impl Fixture {
    async fn new() -> Self {
        let harness = Harness::embedded().await;
        let tenant = TenantId::new();
        let key_ref = harness.tenant_key(tenant).await.0;
        let base = spawn_objects(harness.store.clone());
        Self {
            harness,
            base,
            client: reqwest::Client::new(),
            tenant,
            key_ref,
        }
    }

    fn upload_url(&self, recording: RecordingId) -> String {
        let path = upload_path(
            &signer(),
            self.tenant,
            recording,
            &self.key_ref,
            in_minutes(1),
        );
        format!("{}{path}", self.base)
    }

    /// PUTs `data` to `url` as a chunked stream of 64 KiB pieces.
    async fn put(&self, url: &str, data: &[u8]) -> reqwest::Response {
        let pieces: Vec<std::io::Result<Bytes>> = data
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(pieces));
        self.client
            .put(url)
            .body(body)
            .send()
            .await
            .expect("put request")
    }

    async fn read_back(&self, recording: RecordingId) -> Vec<u8> {
        let stream = self
            .harness
            .store
            .read(self.tenant, recording, None)
            .await
            .expect("read the recording back");
        let chunks: Vec<Bytes> = stream.body.try_collect().await.expect("recording bytes");
        chunks.concat()
    }

    async fn assert_absent(&self, tenant: TenantId, recording: RecordingId) {
        assert!(
            matches!(
                self.harness.store.info(tenant, recording).await,
                Err(StorageError::NotFound)
            ),
            "recording {recording} should not be stored"
        );
        let record = self
            .harness
            .records
            .get(tenant.0, recording.0)
            .await
            .expect("records");
        assert!(record.is_none(), "no record for {recording}");
    }

    fn blob_files(&self) -> usize {
        files_under(&self.harness.dir.path().join("blobs"))
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

async fn error_code(response: reqwest::Response) -> String {
    let body: Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("json error body");
    body["error"]["code"]
        .as_str()
        .expect("error.code")
        .to_owned()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data).as_ref())
}

#[tokio::test]
async fn a_streamed_upload_is_stored_whole() {
    let fixture = Fixture::new().await;
    let recording = RecordingId::new();
    let data = audio(3 * MB);
    let response = fixture.put(&fixture.upload_url(recording), &data).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let uploaded: UploadedObject =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("json answer");
    assert_eq!(
        uploaded,
        UploadedObject {
            size: data.len() as u64,
            sha256: sha256_hex(&data),
            key_ref: fixture.key_ref.clone(),
        }
    );
    assert!(
        fixture.read_back(recording).await == data,
        "stored bytes differ"
    );
}

#[tokio::test]
async fn a_second_upload_of_a_recording_is_a_conflict_and_keeps_the_first() {
    let fixture = Fixture::new().await;
    let recording = RecordingId::new();
    let first = audio(200_000);
    let response = fixture.put(&fixture.upload_url(recording), &first).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // Large enough that the server answers before it could have read it.
    let second = vec![0xAB; 3 * MB];
    let response = fixture.put(&fixture.upload_url(recording), &second).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(response).await, "already_exists");
    assert!(
        fixture.read_back(recording).await == first,
        "the first upload was changed"
    );
    assert_eq!(fixture.blob_files(), 1);
}

#[tokio::test]
async fn an_expired_url_stores_nothing() {
    let fixture = Fixture::new().await;
    let recording = RecordingId::new();
    let path = upload_path(
        &signer(),
        fixture.tenant,
        recording,
        &fixture.key_ref,
        now() - 1,
    );
    let response = fixture
        .put(&format!("{}{path}", fixture.base), &audio(100_000))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(response).await, "url_expired");
    fixture.assert_absent(fixture.tenant, recording).await;
    assert_eq!(fixture.blob_files(), 0);
}

#[tokio::test]
async fn an_altered_url_stores_nothing() {
    let fixture = Fixture::new().await;
    let recording = RecordingId::new();
    let good = fixture.upload_url(recording);

    let (head, sig) = good.rsplit_once("sig=").expect("a signature");
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let altered_sig = format!("{head}sig={flipped}{}", &sig[1..]);

    let other_key = fixture.harness.tenant_key(TenantId::new()).await.0;
    let encoded: String = form_urlencoded::byte_serialize(fixture.key_ref.as_bytes()).collect();
    let other_encoded: String = form_urlencoded::byte_serialize(other_key.as_bytes()).collect();
    let altered_key = good.replace(&encoded, &other_encoded);
    assert_ne!(altered_key, good);

    // Tenant B's genuine URL, used on tenant A's path.
    let tenant_b = TenantId::new();
    let b_path = upload_path(
        &signer(),
        tenant_b,
        recording,
        &fixture.key_ref,
        in_minutes(1),
    );
    let cross_tenant = format!("{}{b_path}", fixture.base)
        .replace(&tenant_b.to_string(), &fixture.tenant.to_string());

    let unsigned = good.split_once("&exp=").map(|(h, _)| h.to_owned());
    let no_key_ref = good.replace(&format!("key_ref={encoded}&"), "");

    for (url, status, code) in [
        (altered_sig, StatusCode::FORBIDDEN, "invalid_signature"),
        (altered_key, StatusCode::FORBIDDEN, "invalid_signature"),
        (cross_tenant, StatusCode::FORBIDDEN, "invalid_signature"),
        (
            unsigned.expect("a query"),
            StatusCode::UNAUTHORIZED,
            "unsigned_url",
        ),
        (no_key_ref, StatusCode::BAD_REQUEST, "missing_key_ref"),
    ] {
        let response = fixture.put(&url, &audio(100_000)).await;
        assert_eq!(response.status(), status, "{url}");
        assert_eq!(error_code(response).await, code, "{url}");
    }
    fixture.assert_absent(fixture.tenant, recording).await;
    fixture.assert_absent(tenant_b, recording).await;
    assert_eq!(fixture.blob_files(), 0);
}

#[tokio::test]
async fn a_body_cut_midway_stores_nothing() {
    let fixture = Fixture::new().await;
    let recording = RecordingId::new();
    let path = upload_path(
        &signer(),
        fixture.tenant,
        recording,
        &fixture.key_ref,
        in_minutes(1),
    );
    let address = fixture.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: {address}\r\ncontent-length: {}\r\n\r\n",
        2 * MB
    );
    socket.write_all(head.as_bytes()).await.expect("head");
    socket
        .write_all(&audio(MB + 12_345))
        .await
        .expect("part of the body");
    // Half-close: the server sees the body end early, and can still answer.
    socket.shutdown().await.expect("shutdown");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), socket.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server never finished with the connection"
    );
    let answer = String::from_utf8_lossy(&answer);
    // Only the write half is closed, so the answer still arrives.
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"bad_body\""), "{answer}");
    fixture.assert_absent(fixture.tenant, recording).await;
    assert_eq!(fixture.blob_files(), 0, "no object and no temporary file");
}

#[tokio::test]
async fn delete_discards_and_the_id_can_be_stored_again() {
    let fixture = Fixture::new().await;
    let recording = RecordingId::new();
    let response = fixture
        .put(&fixture.upload_url(recording), &audio(300_000))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let url = format!(
        "{}{}",
        fixture.base,
        discard_path(&signer(), fixture.tenant, recording, in_minutes(1))
    );
    let response = fixture.client.delete(&url).send().await.expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    fixture.assert_absent(fixture.tenant, recording).await;
    assert_eq!(fixture.blob_files(), 0);

    // Discarding what is not there is not an error.
    let response = fixture.client.delete(&url).send().await.expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let again = audio(1_000);
    let response = fixture.put(&fixture.upload_url(recording), &again).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(fixture.read_back(recording).await == again);
}

#[tokio::test]
async fn delete_needs_a_discard_url() {
    let fixture = Fixture::new().await;
    let recording = RecordingId::new();
    let data = audio(300_000);
    let response = fixture.put(&fixture.upload_url(recording), &data).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    let playback = playback_path(&signer(), fixture.tenant, recording, in_minutes(1));
    let playback_as_delete =
        format!("{}{}", fixture.base, playback).replace("/v1/playback/", "/v1/objects/");
    // An upload URL without its key_ref carries exactly a discard URL's
    // fields; its signature must still not pass.
    let upload_as_delete = fixture
        .upload_url(recording)
        .split_once("key_ref=")
        .and_then(|(head, rest)| {
            rest.split_once('&')
                .map(|(_, tail)| format!("{head}{tail}"))
        })
        .expect("an upload url");
    for url in [playback_as_delete, upload_as_delete] {
        let response = fixture.client.delete(&url).send().await.expect("delete");
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{url}");
        assert_eq!(error_code(response).await, "invalid_signature");
    }
    let expired = discard_path(&signer(), fixture.tenant, recording, now() - 1);
    let response = fixture
        .client
        .delete(format!("{}{expired}", fixture.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(response).await, "url_expired");
    assert!(
        fixture.read_back(recording).await == data,
        "the recording survives"
    );
}

#[tokio::test]
async fn storage_starts_writing_before_the_body_ends() {
    // A body that trickles in: the store must see the first chunks before
    // the last is sent, i.e. it streams rather than buffering the request.
    let fixture = Fixture::new().await;
    let recording = RecordingId::new();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(1);
    let body = reqwest::Body::wrap_stream(
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .boxed(),
    );
    let request = tokio::spawn(
        fixture
            .client
            .put(fixture.upload_url(recording))
            .body(body)
            .send(),
    );
    let chunk = Bytes::from(audio(256 * 1024));
    for _ in 0..8 {
        tx.send(Ok(chunk.clone())).await.expect("send a chunk");
    }
    // The server has the first 2 MiB and no end: the tmp file is growing.
    let tmp = fixture.harness.dir.path().join("blobs");
    let mut seen = false;
    for _ in 0..100 {
        if files_under(&tmp) == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen, "storage started writing before the body ended");
    drop(tx);
    let response = request.await.expect("task").expect("put");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(fixture.read_back(recording).await.len(), 8 * 256 * 1024);
}
