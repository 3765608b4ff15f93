//! Several local keyrings over one file, as when each service runs in its
//! own process on the local keyring: each sees the others' keys, rotations
//! and removals at once, and none loses another's changes.
//!
//! Instances in one test process stand for processes: each instance opens
//! the file (and takes the lock) through its own file descriptions, which
//! is what `flock` orders, in one process as across several.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use callvault_keys::local::LocalKeyring;
use callvault_keys::{DataKey, EncryptionContext, KeyError, KeyProvider, KeyRef, WrappedKey};

use crate::conformance;
use crate::local::{keyring_path, master_keys_in_file};

/// Sends each call to the next of several instances over one file: any
/// sequence of calls must behave as on one keyring.
struct RoundRobin {
    instances: Vec<LocalKeyring>,
    next: AtomicUsize,
}

impl RoundRobin {
    fn pick(&self) -> &LocalKeyring {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.instances.len();
        &self.instances[index]
    }
}

#[async_trait]
impl KeyProvider for RoundRobin {
    async fn create_tenant_key(&self, tenant: &str) -> Result<KeyRef, KeyError> {
        self.pick().create_tenant_key(tenant).await
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        self.pick().generate_data_key(key, context).await
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.pick().decrypt(wrapped, context).await
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        new_key: &KeyRef,
    ) -> Result<WrappedKey, KeyError> {
        self.pick().rewrap(wrapped, context, new_key).await
    }

    async fn check_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        self.pick().check_key(key).await
    }

    async fn rotate(&self, key: &KeyRef) -> Result<(), KeyError> {
        self.pick().rotate(key).await
    }

    async fn destroy_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        self.pick().destroy_key(key).await
    }
}

fn open(path: &Path) -> LocalKeyring {
    LocalKeyring::open(path.to_path_buf()).expect("open keyring")
}

fn ctx(tenant: &str) -> EncryptionContext {
    EncryptionContext::for_recording(tenant, "rec-1")
}

/// The master key version a local wrapped key was made under.
fn version_of(wrapped: &WrappedKey) -> u32 {
    let bytes: [u8; 4] = wrapped.ciphertext[..4].try_into().expect("4 bytes");
    u32::from_be_bytes(bytes)
}

/// The names of the keys the file holds.
fn names_in_file(path: &Path) -> Vec<String> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read keyring")).expect("keyring json");
    json["keys"]
        .as_object()
        .expect("keys object")
        .keys()
        .cloned()
        .collect()
}

fn assert_not_found<T>(result: Result<T, KeyError>, what: &str) {
    match result {
        Err(KeyError::NotFound(_)) => {}
        Err(other) => panic!("{what}: expected NotFound, got {other:?}"),
        Ok(_) => panic!("{what}: expected NotFound, but it worked"),
    }
}

#[tokio::test]
async fn three_instances_over_one_file_conform_as_one_keyring() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let provider = RoundRobin {
        instances: vec![open(&path), open(&path), open(&path)],
        next: AtomicUsize::new(0),
    };
    conformance::run_suite(&provider).await;
}

/// The bug this fixes: storage opened the keyring before the metadata
/// service onboarded a tenant, and never saw its key.
#[tokio::test]
async fn a_key_another_instance_created_is_usable_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let storage = open(&path);
    let metadata = open(&path);

    let key = metadata
        .create_tenant_key("late")
        .await
        .expect("create key");
    storage.check_key(&key).await.expect("storage sees the key");
    let (data_key, wrapped) = storage
        .generate_data_key(&key, &ctx("late"))
        .await
        .expect("storage wraps under it");
    let unwrapped = metadata
        .decrypt(&wrapped, &ctx("late"))
        .await
        .expect("and the other instance unwraps");
    assert_eq!(unwrapped.as_bytes(), data_key.as_bytes());
    assert_eq!(
        storage.create_tenant_key("late").await.expect("idempotent"),
        key
    );
    assert_eq!(master_keys_in_file(&path).len(), 1, "no second key");
}

#[tokio::test]
async fn keys_two_instances_create_are_all_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let first = open(&path);
    let second = open(&path);

    // Each writes while its copy in memory lacks the other's key.
    let a = first.create_tenant_key("a").await.expect("a");
    let b = second.create_tenant_key("b").await.expect("b");
    let c = first.create_tenant_key("c").await.expect("c");
    assert_eq!(names_in_file(&path), ["tenant/a", "tenant/b", "tenant/c"]);
    for instance in [&first, &second] {
        for key in [&a, &b, &c] {
            instance.check_key(key).await.expect("every key is seen");
        }
    }
}

#[tokio::test]
async fn a_rotation_by_another_instance_is_used_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let storage = open(&path);
    let metadata = open(&path);
    let key = metadata.create_tenant_key("rot").await.expect("create");
    let (old_key, before) = storage
        .generate_data_key(&key, &ctx("rot"))
        .await
        .expect("generate");
    assert_eq!(version_of(&before), 1);

    metadata.rotate(&key).await.expect("rotate");
    let (new_key, after) = storage
        .generate_data_key(&key, &ctx("rot"))
        .await
        .expect("generate after the rotation");
    assert_eq!(version_of(&after), 2, "storage wraps under the new version");
    let rewrapped = storage
        .rewrap(&before, &ctx("rot"), &key)
        .await
        .expect("rewrap onto the rotated key");
    assert_eq!(version_of(&rewrapped), 2);
    for (wrapped, expected) in [
        (&before, &old_key),
        (&after, &new_key),
        (&rewrapped, &old_key),
    ] {
        let unwrapped = metadata
            .decrypt(wrapped, &ctx("rot"))
            .await
            .expect("the other instance unwraps");
        assert_eq!(unwrapped.as_bytes(), expected.as_bytes());
    }

    // Rotated from both sides: every version is kept, in order.
    storage.rotate(&key).await.expect("rotate from storage");
    metadata.rotate(&key).await.expect("rotate from metadata");
    assert_eq!(master_keys_in_file(&path).len(), 4);
    let (_, latest) = storage
        .generate_data_key(&key, &ctx("rot"))
        .await
        .expect("generate");
    assert_eq!(version_of(&latest), 4);
}

/// Removes `name` from the keyring the way a writer does: under the lock,
/// a new file renamed over the old one.
fn remove_from_file(path: &Path, name: &str) {
    let lock_path = path.with_file_name("keyring.json.lock");
    let lock = File::open(&lock_path).expect("lock file exists");
    lock.lock().expect("exclusive lock");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read keyring")).expect("json");
    json["keys"]
        .as_object_mut()
        .expect("keys object")
        .remove(name)
        .expect("the key was there");
    let temp = path.with_file_name("keyring.json.edit");
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .expect("temp file");
    file.write_all(&serde_json::to_vec(&json).expect("encode"))
        .expect("write");
    file.sync_all().expect("sync");
    std::fs::rename(&temp, path).expect("rename");
    drop(lock);
}

/// A master key destroyed by another process (crypto-shredding everything
/// under it) is gone for every instance: none still wraps or unwraps with a
/// copy in memory, and none writes it back into the file with its next
/// change.
#[tokio::test]
async fn a_key_removed_from_the_file_never_comes_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let storage = open(&path);
    let metadata = open(&path);
    let doomed = metadata.create_tenant_key("doomed").await.expect("create");
    let kept = metadata.create_tenant_key("kept").await.expect("create");
    let (_, wrapped) = storage
        .generate_data_key(&doomed, &ctx("doomed"))
        .await
        .expect("generate");
    storage
        .decrypt(&wrapped, &ctx("doomed"))
        .await
        .expect("readable before");

    remove_from_file(&path, "tenant/doomed");

    assert_not_found(storage.decrypt(&wrapped, &ctx("doomed")).await, "decrypt");
    assert_not_found(
        storage.generate_data_key(&doomed, &ctx("doomed")).await,
        "generate",
    );
    assert_not_found(storage.check_key(&doomed).await, "check_key");
    assert_not_found(
        storage.rewrap(&wrapped, &ctx("doomed"), &kept).await,
        "rewrap",
    );
    // Both instances write after the removal; neither restores the key.
    storage.create_tenant_key("other").await.expect("create");
    metadata.rotate(&kept).await.expect("rotate");
    assert_eq!(names_in_file(&path), ["tenant/kept", "tenant/other"]);
    assert_not_found(metadata.decrypt(&wrapped, &ctx("doomed")).await, "decrypt");
    assert_not_found(metadata.rotate(&doomed).await, "rotate");
}

/// A keyring file deleted under a running instance is not silently
/// replaced by what that instance holds, or by an empty one.
#[tokio::test]
async fn a_deleted_keyring_file_is_an_error_not_recreated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let keyring = open(&path);
    let key = keyring.create_tenant_key("a").await.expect("create");
    std::fs::remove_file(&path).expect("delete");
    match keyring.create_tenant_key("b").await {
        Err(KeyError::Other(message)) => assert!(message.contains("keyring"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(keyring.check_key(&key).await.is_err());
    assert!(!path.exists(), "the keyring was recreated");
}

/// Four instances on four threads create keys and rotate a shared one at
/// the same time: every key and every version ends up in the file, and
/// every instance sees them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_nothing() {
    const INSTANCES: usize = 4;
    const EACH: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = keyring_path(&dir);
    let shared = open(&path)
        .create_tenant_key("shared")
        .await
        .expect("create");
    let instances: Vec<LocalKeyring> = (0..INSTANCES).map(|_| open(&path)).collect();
    let tasks: Vec<_> = instances
        .iter()
        .enumerate()
        .map(|(index, instance)| {
            let (instance, shared) = (instance.clone(), shared.clone());
            tokio::spawn(async move {
                for n in 0..EACH {
                    instance
                        .create_tenant_key(&format!("t-{index}-{n}"))
                        .await
                        .expect("create");
                    instance.rotate(&shared).await.expect("rotate");
                    // Everyone onboards the same tenant too: one key only.
                    instance
                        .create_tenant_key("everyone")
                        .await
                        .expect("create");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let names = names_in_file(&path);
    assert_eq!(names.len(), INSTANCES * EACH + 2, "{names:?}");
    assert_eq!(
        master_keys_in_file(&path).len(),
        INSTANCES * EACH + 2 + INSTANCES * EACH,
        "a key or a rotation was lost"
    );
    for instance in &instances {
        for name in &names {
            instance
                .check_key(&KeyRef(name.clone()))
                .await
                .expect("every instance sees every key");
        }
        let (_, wrapped) = instance
            .generate_data_key(&shared, &ctx("shared"))
            .await
            .expect("generate");
        assert_eq!(version_of(&wrapped) as usize, 1 + INSTANCES * EACH);
    }
}
