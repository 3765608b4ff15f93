//! A stranger can decrypt from the spec: a multi-frame recording stored by
//! the real storage code on moto's S3 and KMS is read back by
//! schema/recording-object/decode.py, a decoder written from
//! schema/recording-object-format.md with only the Python standard
//! library, `cryptography` and boto3. It reads the storage record from
//! storage's own SQLite database (and, as an export, from JSON), fetches
//! the object from S3, unwraps the data key with KMS under the documented
//! encryption context and checks every frame.
//!
//! Also here, because they need the same Python: the decoder passes every
//! vector, and the vectors are exactly what schema/recording-object/reference.py
//! generates. These tests fail, never skip, when the venv is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use callvault_blob::BlobStore;
use callvault_blob::s3::{S3BlobStore, client_with_static_credentials};
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::KeyProvider;
use callvault_keys::kms::{KmsKeyProvider, client_for};
use callvault_storage::RecordingStore;
use callvault_storage::records::{self, RecordState, StorageRecords};
use callvault_testkit::MotoServer;
use sea_orm::{ConnectionTrait, Statement};

use crate::support::{audio, body};

const BUCKET: &str = "callvault-recordings";

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/recording-object")
}

/// The python of the venv `scripts/test` creates (`$MOTO_VENV`, else the
/// one `$MOTO_SERVER` is in, else `~/.cache/callvault-venv`): moto brings
/// boto3 and `cryptography`.
fn python() -> PathBuf {
    let beside_moto = std::env::var_os("MOTO_SERVER").and_then(|server| {
        let bin = PathBuf::from(server).parent()?.to_path_buf();
        Some(bin.parent()?.to_path_buf())
    });
    let venv = std::env::var_os("MOTO_VENV")
        .map(PathBuf::from)
        .or(beside_moto)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/callvault-venv"))
        })
        .expect("HOME or MOTO_VENV is set");
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "no python at {}: run scripts/test, which creates the venv with moto, boto3 and \
         cryptography, or set MOTO_VENV",
        python.display()
    );
    python
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("python runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stderr}",
        output.status
    );
    output
}

/// decode.py's `recording` command against moto, with moto's placeholder
/// credentials in the environment as boto3 expects them.
fn decode(moto: &MotoServer, record_args: &[&str], out: &Path) -> Output {
    let mut command = Command::new(python());
    command
        .arg(spec_dir().join("decode.py"))
        .arg("recording")
        .args(record_args)
        .args(["--s3-endpoint", &moto.endpoint(), "--bucket", BUCKET])
        .args(["--kms", "--kms-endpoint", &moto.endpoint()])
        .args(["--region", "us-east-1", "--out"])
        .arg(out)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    command.output().expect("python runs")
}

#[tokio::test]
async fn a_recording_stored_on_s3_and_kms_decrypts_with_the_spec_decoder() {
    let moto = MotoServer::start();
    let s3 = client_with_static_credentials(&moto.endpoint(), "us-east-1", "test", "test");
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");
    let keys = Arc::new(KmsKeyProvider::new(client_for(
        Some(&moto.endpoint()),
        "us-east-1",
    )));
    let dir = tempfile::tempdir().expect("tempdir");
    let db_path = dir.path().join("storage.db");
    let records = StorageRecords::new(
        records::connect(&format!("sqlite://{}", db_path.display()))
            .await
            .expect("sqlite records"),
    );
    let store = RecordingStore::new(
        Arc::new(S3BlobStore::new(s3.clone(), BUCKET.to_owned())) as Arc<dyn BlobStore>,
        keys.clone() as Arc<dyn KeyProvider>,
        records.clone(),
    );
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key = keys
        .create_tenant_key(&tenant.to_string())
        .await
        .expect("tenant key");
    // Three full 64 KiB frames and a partial final one.
    let plaintext = audio(3 * 65_536 + 3_392);
    store
        .store(tenant, recording, &key, body(&plaintext, 7_919))
        .await
        .expect("stored");

    // The record straight from storage's database, whose uuid columns are
    // 16-byte blobs on SQLite, as the spec says.
    let db = records.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT typeof(tenant_id) AS kind, length(recording_id) AS len FROM storage_objects",
        ))
        .await
        .expect("query")
        .expect("one record");
    assert_eq!(row.try_get::<String>("", "kind").expect("kind"), "blob");
    assert_eq!(row.try_get::<i64>("", "len").expect("len"), 16);
    let out = dir.path().join("from-sqlite.bin");
    let (tenant_text, recording_text) = (tenant.to_string(), recording.to_string());
    let db = db_path.display().to_string();
    let sqlite_args = [
        "--sqlite",
        db.as_str(),
        "--tenant",
        tenant_text.as_str(),
        "--recording",
        recording_text.as_str(),
    ];
    let output = decode(&moto, &sqlite_args, &out);
    assert!(
        output.status.success(),
        "decode.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        std::fs::read(&out).expect("plaintext written") == plaintext,
        "the decoder's plaintext differs from what was stored"
    );

    // The record as the spec's JSON export.
    let record = records
        .get(tenant.0, recording.0)
        .await
        .expect("record read")
        .expect("record exists");
    let RecordState::Stored { wrapped_key } = &record.state else {
        panic!("record is not stored: {record:?}");
    };
    assert!(
        record.key_ref.starts_with("arn:aws:kms:"),
        "key_ref is the key arn: {}",
        record.key_ref
    );
    let json = serde_json::json!({
        "tenant_id": tenant_text,
        "recording_id": recording_text,
        "object_key": record.object_key,
        "key_ref": record.key_ref,
        "wrapped_key": hex::encode(wrapped_key),
        "frame_size": record.frame_size,
        "plaintext_len": record.plaintext_len,
        "ciphertext_len": record.ciphertext_len,
        "sha256": hex::encode(record.sha256),
        "state": "stored",
    });
    let record_path = dir.path().join("record.json");
    std::fs::write(&record_path, json.to_string()).expect("record json");
    let record_arg = record_path.display().to_string();
    let out = dir.path().join("from-json.bin");
    let output = decode(&moto, &["--record", record_arg.as_str()], &out);
    assert!(
        output.status.success(),
        "decode.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::read(&out).expect("plaintext written") == plaintext);

    // One byte of the third frame altered in the bucket: the decoder
    // refuses it at the frame's tag, and writes nothing.
    let stored = s3
        .get_object()
        .bucket(BUCKET)
        .key(&record.object_key)
        .send()
        .await
        .expect("get object")
        .body
        .collect()
        .await
        .expect("object body")
        .into_bytes();
    let mut damaged = stored.to_vec();
    damaged[75 + 2 * (65_536 + 16) + 100] ^= 0x01;
    s3.put_object()
        .bucket(BUCKET)
        .key(&record.object_key)
        .body(damaged.into())
        .send()
        .await
        .expect("overwrite object");
    let out = dir.path().join("damaged.bin");
    let output = decode(&moto, &["--record", record_arg.as_str()], &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "refused: {stderr}");
    assert!(
        stderr.contains("integrity error at check frame_tag"),
        "{stderr}"
    );
    assert!(!out.exists(), "no plaintext from a damaged object");
}

/// The embedded mode's backends: the filesystem store and the local
/// keyring file, read by the decoder as the spec describes them.
#[tokio::test]
async fn a_recording_stored_on_the_filesystem_and_keyring_decrypts_with_the_spec_decoder() {
    let harness = crate::support::Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let plaintext = audio(65_536 + 17);
    harness.store_bytes(tenant, recording, &plaintext).await;
    let root = harness.dir.path();
    let out = root.join("plaintext.bin");
    let output = run(Command::new(python())
        .arg(spec_dir().join("decode.py"))
        .arg("recording")
        .arg("--sqlite")
        .arg(root.join("storage.db"))
        .args(["--tenant", &tenant.to_string()])
        .args(["--recording", &recording.to_string()])
        .arg("--fs-root")
        .arg(root.join("blobs"))
        .arg("--keyring")
        .arg(root.join("keyring.json"))
        .arg("--out")
        .arg(&out));
    assert!(output.status.success());
    assert!(std::fs::read(&out).expect("plaintext written") == plaintext);
}

#[test]
fn the_spec_decoder_passes_every_vector() {
    let output = run(Command::new(python())
        .arg(spec_dir().join("decode.py"))
        .arg("vectors")
        .arg(spec_dir().join("vectors.json")));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(", 0 did not"), "{stdout}");
}

#[test]
fn the_vectors_are_what_the_reference_generates() {
    let output = run(Command::new(python()).arg(spec_dir().join("reference.py")));
    let checked_in = std::fs::read(spec_dir().join("vectors.json")).expect("vectors.json");
    assert!(
        output.stdout == checked_in,
        "schema/recording-object/vectors.json is stale: regenerate it with \
         `python3 schema/recording-object/reference.py > schema/recording-object/vectors.json`"
    );
}
