//! The local keyring: the conformance suite plus what only a file-backed
//! keyring has (permissions, persistence, what the file may contain).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_keys::local::LocalKeyring;
use callvault_keys::{EncryptionContext, KeyError, KeyProvider};

use crate::conformance;

pub(crate) fn keyring_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("data").join("keyring.json")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("keyring file exists")
        .permissions()
        .mode()
        & 0o777
}

/// Every master key the file holds, decoded.
pub(crate) fn master_keys_in_file(path: &Path) -> Vec<Vec<u8>> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read keyring")).expect("keyring json");
    let mut keys = Vec::new();
    for entry in json["keys"].as_object().expect("keys object").values() {
        for version in entry["versions"].as_array().expect("versions array") {
            let material = version["material"].as_str().expect("material string");
            keys.push(BASE64.decode(material).expect("base64 material"));
        }
    }
    keys
}

#[tokio::test]
async fn local_keyring_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keyring = LocalKeyring::open(keyring_path(&dir)).expect("open keyring");
    conformance::run_suite(&keyring).await;
}

#[tokio::test]
async fn keyring_file_is_private_from_creation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let keyring = LocalKeyring::open(path.clone()).expect("open keyring");
    assert!(path.exists(), "open creates the file");
    assert_eq!(mode(&path), 0o600);

    // Each change replaces the file: the replacement must be private too.
    let key = keyring.create_tenant_key("acme").await.expect("create key");
    keyring.rotate(&key).await.expect("rotate");
    assert_eq!(mode(&path), 0o600);

    // The lock file the instances sharing the keyring lock: private and
    // empty.
    let lock = path.with_file_name("keyring.json.lock");
    assert_eq!(mode(&lock), 0o600);
    assert_eq!(std::fs::metadata(&lock).expect("lock file").len(), 0);

    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
        .expect("list data dir")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .filter(|name| name != "keyring.json" && name != "keyring.json.lock")
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

#[tokio::test]
async fn keys_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let ctx = EncryptionContext::for_recording("acme", "rec-1");

    let keyring = LocalKeyring::open(path.clone()).expect("open keyring");
    let key = keyring.create_tenant_key("acme").await.expect("create key");
    let (data_key, before_rotation) = keyring
        .generate_data_key(&key, &ctx)
        .await
        .expect("generate");
    keyring.rotate(&key).await.expect("rotate");
    let (_, after_rotation) = keyring
        .generate_data_key(&key, &ctx)
        .await
        .expect("generate");
    drop(keyring);

    let reopened = LocalKeyring::open(path).expect("reopen keyring");
    assert_eq!(
        reopened
            .create_tenant_key("acme")
            .await
            .expect("create again"),
        key
    );
    let unwrapped = reopened
        .decrypt(&before_rotation, &ctx)
        .await
        .expect("decrypt after reopen");
    assert_eq!(unwrapped.as_bytes(), data_key.as_bytes());
    reopened
        .decrypt(&after_rotation, &ctx)
        .await
        .expect("the rotated version survives reopen");
}

#[tokio::test]
async fn file_holds_master_keys_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let keyring = LocalKeyring::open(path.clone()).expect("open keyring");
    let key = keyring.create_tenant_key("acme").await.expect("create key");
    let ctx = EncryptionContext::for_recording("acme", "rec-1");
    let (data_key, _) = keyring
        .generate_data_key(&key, &ctx)
        .await
        .expect("generate");
    keyring.rotate(&key).await.expect("rotate");

    let contents = std::fs::read(&path).expect("read keyring");
    let raw = data_key.as_bytes();
    let encoded = BASE64.encode(raw);
    let hex: String = raw.iter().map(|byte| format!("{byte:02x}")).collect();
    assert!(!contents.windows(raw.len()).any(|window| window == raw));
    assert!(
        !contents
            .windows(encoded.len())
            .any(|window| window == encoded.as_bytes())
    );
    assert!(
        !contents
            .windows(hex.len())
            .any(|window| window == hex.as_bytes())
    );

    let masters = master_keys_in_file(&path);
    assert_eq!(masters.len(), 2, "one key, two versions");
    assert!(masters.iter().all(|master| master.len() == 32));
    assert_ne!(masters[0], masters[1], "rotation reused the master key");
}

#[tokio::test]
async fn debug_output_leaks_no_key_material() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let keyring = LocalKeyring::open(path.clone()).expect("open keyring");
    let key = keyring.create_tenant_key("acme").await.expect("create key");
    let ctx = EncryptionContext::for_recording("acme", "rec-1");
    let (data_key, wrapped) = keyring
        .generate_data_key(&key, &ctx)
        .await
        .expect("generate");

    let printed = format!("{data_key:?} {wrapped:?} {keyring:?} {data_key:#?} {wrapped:#?}");
    let mut secrets = vec![data_key.as_bytes().to_vec(), wrapped.ciphertext.clone()];
    secrets.extend(master_keys_in_file(&path));
    for secret in secrets {
        let decimal = format!("{:?}", &secret[..4])
            .trim_end_matches(']')
            .to_owned();
        let hex: String = secret[..4]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let encoded = BASE64.encode(&secret);
        for needle in [decimal, hex, encoded] {
            assert!(
                !printed.contains(&needle),
                "debug output contains {needle}: {printed}"
            );
        }
    }
}

#[tokio::test]
async fn corrupt_keyring_is_refused_not_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, b"{ not json").expect("write");
    match LocalKeyring::open(path.clone()) {
        Err(KeyError::Other(message)) => assert!(message.contains("keyring"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), b"{ not json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_onboarding_creates_one_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let keyring = LocalKeyring::open(path.clone()).expect("open keyring");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let keyring = keyring.clone();
            tokio::spawn(async move { keyring.create_tenant_key("acme").await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("create key");
    }
    assert_eq!(master_keys_in_file(&path).len(), 1);
}
