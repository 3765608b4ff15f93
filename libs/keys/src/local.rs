//! The embedded mode's key provider: versioned master keys in a local JSON
//! file (`<data>/keyring.json`), created with mode 0600 and replaced
//! atomically on every change. Processes on one host may share the file
//! (one service per process on the local keyring): see [`LocalKeyring`].
//!
//! Wrapped data key layout (64 bytes):
//!
//! ```text
//! version: u32 big-endian | nonce: 12 random bytes | AES-256-GCM(data key) || tag (32 + 16 bytes)
//! ```
//!
//! The AAD binds the blob to its master key name, its version and the
//! encryption context (see `aad()`), so a blob presented under another
//! tenant's key, another recording's context or with an edited version
//! header fails to open.

mod file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use callvault_envelope::DATA_KEY_LEN;
use tracing::info;
use zeroize::Zeroizing;

use self::file::{
    FileLock, Stamp, io_error, read_file, stamp, warn_if_readable_by_others, write_file,
};
use crate::{DataKey, EncryptionContext, KeyError, KeyProvider, KeyRef, WrappedKey};

const MASTER_KEY_LEN: usize = 32;
const VERSION_LEN: usize = 4;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = VERSION_LEN + NONCE_LEN + DATA_KEY_LEN + TAG_LEN;
/// Domain separation: these AADs can never collide with another use of the
/// same master key.
const AAD_LABEL: &[u8] = b"callvault-keyring-v1";

type MasterKey = Zeroizing<[u8; MASTER_KEY_LEN]>;

/// Master keys by name; a name's versions are 1..=n in order.
type Keys = BTreeMap<String, Vec<MasterKey>>;

/// A keyring file. Cheap to clone: clones share the keys and the file.
///
/// The file is the truth, and any number of instances, in one process or
/// several, may share it:
///
/// - every operation first compares the file's stamp (inode, length, times)
///   with the one it last read, and re-reads the file when it changed, so a
///   key another process added, rotated or removed is seen at once;
/// - a key or version that isn't in memory is looked up in the file again
///   before the answer is `NotFound`, which is then final;
/// - every change is a read-modify-write of the file under an exclusive
///   lock on `<keyring>.lock` (reads take it shared), so two processes
///   adding keys never lose each other's, and a key removed from the file
///   never comes back from a stale copy in memory.
#[derive(Clone)]
pub struct LocalKeyring {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    lock_path: PathBuf,
    /// The keys as last read from (or written to) the file.
    loaded: Mutex<Loaded>,
    /// Serializes this instance's file IO, reloads and writes alike, so
    /// what it publishes to `loaded` only ever moves forward in the file's
    /// history. Only taken on the blocking pool.
    io: Mutex<()>,
}

struct Loaded {
    keys: Arc<Keys>,
    /// Which version of the file `keys` came from.
    stamp: Stamp,
}

impl std::fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Recovers a poisoned lock: what it guards is only ever replaced whole.
fn guard<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs file IO on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, KeyError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| KeyError::Other(format!("keyring task failed: {error}")))?
}

impl LocalKeyring {
    /// Opens the keyring at `path`, creating an empty one (mode 0600, parent
    /// directories included) when the file doesn't exist yet.
    pub fn open(path: PathBuf) -> Result<Self, KeyError> {
        let file_name = path
            .file_name()
            .ok_or_else(|| KeyError::Other("keyring path has no file name".to_owned()))?;
        let lock_path = path.with_file_name(format!("{}.lock", file_name.to_string_lossy()));
        let exists =
            std::fs::exists(&path).map_err(|error| io_error("cannot read the keyring", &error))?;
        if !exists {
            if let Some(parent) = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent)
                    .map_err(|error| io_error("cannot create the keyring directory", &error))?;
            }
            let _lock = FileLock::exclusive(&lock_path)?;
            // Checked again under the lock: another process starting at
            // the same time may have created it, and added keys, since.
            let exists = std::fs::exists(&path)
                .map_err(|error| io_error("cannot read the keyring", &error))?;
            if !exists {
                write_file(&path, &Keys::new())?;
                info!(path = %path.display(), "created an empty local keyring");
            }
        }
        let (keys, stamp) = {
            let _lock = FileLock::shared(&lock_path)?;
            read_file(&path)?
        };
        warn_if_readable_by_others(&path);
        let inner = Inner {
            path,
            lock_path,
            loaded: Mutex::new(Loaded {
                keys: Arc::new(keys),
                stamp,
            }),
            io: Mutex::new(()),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn publish(&self, keys: Keys, stamp: Stamp) -> Arc<Keys> {
        let keys = Arc::new(keys);
        *guard(&self.inner.loaded) = Loaded {
            keys: keys.clone(),
            stamp,
        };
        keys
    }

    /// The keys as the file holds them now: re-read when the file changed
    /// since it was last read or, with `force`, in any case (a key or a
    /// version may be missing from memory while the file looks the same,
    /// on a filesystem with coarse timestamps).
    async fn keys(&self, force: bool) -> Result<Arc<Keys>, KeyError> {
        if !force {
            let now = stamp(&self.inner.path)?;
            let loaded = guard(&self.inner.loaded);
            if loaded.stamp == now {
                return Ok(loaded.keys.clone());
            }
        }
        let keyring = self.clone();
        blocking(move || {
            let _io = guard(&keyring.inner.io);
            let _lock = FileLock::shared(&keyring.inner.lock_path)?;
            if !force {
                // Another task may have re-read it while this one waited.
                let now = stamp(&keyring.inner.path)?;
                let loaded = guard(&keyring.inner.loaded);
                if loaded.stamp == now {
                    return Ok(loaded.keys.clone());
                }
            }
            let (keys, stamp) = read_file(&keyring.inner.path)?;
            Ok(keyring.publish(keys, stamp))
        })
        .await
    }

    /// The keys, holding master key `name` (and its `version`, if given)
    /// unless the file itself doesn't: then `NotFound` (or, for a version,
    /// `InvalidCiphertext`) is the final answer.
    async fn keys_holding(&self, name: &str, version: Option<u32>) -> Result<Arc<Keys>, KeyError> {
        let holds = |keys: &Keys| {
            keys.get(name).is_some_and(|versions| {
                version.is_none_or(|version| version >= 1 && version as usize <= versions.len())
            })
        };
        let keys = self.keys(false).await?;
        if holds(&keys) {
            return Ok(keys);
        }
        self.keys(true).await
    }

    /// Runs a change on the keys as the file holds them, under the file's
    /// exclusive lock, persists it when `change` says it changed anything
    /// (and then returns true), and publishes it. Changes are rare
    /// (onboarding, rotation).
    async fn update(
        &self,
        change: impl FnOnce(&mut Keys) -> Result<bool, KeyError> + Send + 'static,
    ) -> Result<bool, KeyError> {
        let keyring = self.clone();
        blocking(move || {
            let _io = guard(&keyring.inner.io);
            let _lock = FileLock::exclusive(&keyring.inner.lock_path)?;
            // From the file, never from memory: another process may have
            // changed it since this one last read, and its changes (keys
            // added, rotated or removed) must survive this one. A file
            // that disappeared is an error, not an empty keyring.
            let path = &keyring.inner.path;
            let (mut keys, mut current) = read_file(path)?;
            let changed = change(&mut keys)?;
            if changed {
                write_file(path, &keys)?;
                current = stamp(path)?;
            }
            keyring.publish(keys, current);
            Ok(changed)
        })
        .await
    }
}

/// Wraps `data_key` under the newest version of master key `key`.
fn wrap(
    keys: &Keys,
    key: &KeyRef,
    data_key: &DataKey,
    context: &EncryptionContext,
) -> Result<WrappedKey, KeyError> {
    let versions = keys
        .get(&key.0)
        .ok_or_else(|| KeyError::NotFound(key.0.clone()))?;
    let Some(master) = versions.last() else {
        return Err(KeyError::Other(format!(
            "keyring entry {} has no versions",
            key.0
        )));
    };
    let version = versions.len() as u32;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce)
        .map_err(|_| KeyError::Other("system random source failed".to_owned()))?;
    let mut in_out = Vec::with_capacity(WRAPPED_LEN);
    in_out.extend_from_slice(&version.to_be_bytes());
    in_out.extend_from_slice(&nonce);
    in_out.extend_from_slice(data_key.as_bytes());
    let sealing_key = aead_key(master)?;
    let aad = aad(&key.0, version, context);
    let tag = sealing_key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_slice()),
            &mut in_out[VERSION_LEN + NONCE_LEN..],
        )
        .map_err(|_| KeyError::Other("cannot seal the data key".to_owned()))?;
    in_out.extend_from_slice(tag.as_ref());
    Ok(WrappedKey {
        key_ref: key.clone(),
        ciphertext: in_out,
    })
}

/// The master key version a wrapped key names, once its length is right.
fn wrapped_version(wrapped: &WrappedKey) -> Result<u32, KeyError> {
    let blob = &wrapped.ciphertext;
    if blob.len() != WRAPPED_LEN {
        return Err(KeyError::InvalidCiphertext);
    }
    let version: [u8; VERSION_LEN] = blob[..VERSION_LEN]
        .try_into()
        .map_err(|_| KeyError::InvalidCiphertext)?;
    Ok(u32::from_be_bytes(version))
}

fn unwrap_key(
    keys: &Keys,
    wrapped: &WrappedKey,
    context: &EncryptionContext,
) -> Result<DataKey, KeyError> {
    let name = &wrapped.key_ref.0;
    let version = wrapped_version(wrapped)?;
    let (nonce_bytes, sealed) = wrapped.ciphertext[VERSION_LEN..].split_at(NONCE_LEN);
    let versions = keys
        .get(name)
        .ok_or_else(|| KeyError::NotFound(name.clone()))?;
    // A version this key never had means the blob isn't ours (or was
    // edited): the same answer as a failed tag check.
    let Some(master) = (version as usize)
        .checked_sub(1)
        .and_then(|index| versions.get(index))
    else {
        return Err(KeyError::InvalidCiphertext);
    };
    let opening_key = aead_key(master)?;
    let nonce =
        Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| KeyError::InvalidCiphertext)?;
    let aad = aad(name, version, context);
    let mut in_out = Zeroizing::new(sealed.to_vec());
    let plaintext = opening_key
        .open_in_place(nonce, Aad::from(aad.as_slice()), &mut in_out)
        .map_err(|_| KeyError::InvalidCiphertext)?;
    DataKey::from_slice(plaintext).ok_or(KeyError::InvalidCiphertext)
}

impl LocalKeyring {
    async fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let version = wrapped_version(wrapped)?;
        let keys = self.keys_holding(&wrapped.key_ref.0, Some(version)).await?;
        unwrap_key(&keys, wrapped, context)
    }

    async fn wrap(
        &self,
        key: &KeyRef,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        let keys = self.keys_holding(&key.0, None).await?;
        wrap(&keys, key, data_key, context)
    }
}

#[async_trait]
impl KeyProvider for LocalKeyring {
    async fn create_tenant_key(&self, tenant: &str) -> Result<KeyRef, KeyError> {
        crate::validate_tenant(tenant)?;
        let name = format!("tenant/{tenant}");
        if self.keys(false).await?.contains_key(&name) {
            return Ok(KeyRef(name));
        }
        let entry = name.clone();
        let created = self
            .update(move |keys| {
                // Checked again in the file, under its lock: two onboardings of
                // the same tenant, in this process or another, must not both
                // add a key.
                if keys.contains_key(&entry) {
                    return Ok(false);
                }
                keys.insert(entry, vec![new_master_key()?]);
                Ok(true)
            })
            .await?;
        if created {
            info!(tenant = %tenant, key = %name, "created local tenant key");
        }
        Ok(KeyRef(name))
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        let data_key = DataKey::generate();
        let wrapped = self.wrap(key, &data_key, context).await?;
        Ok((data_key, wrapped))
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.unwrap_key(wrapped, context).await
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        new_key: &KeyRef,
    ) -> Result<WrappedKey, KeyError> {
        let data_key = self.unwrap_key(wrapped, context).await?;
        self.wrap(new_key, &data_key, context).await
    }

    async fn check_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        let keys = self.keys_holding(&key.0, None).await?;
        if !keys.contains_key(&key.0) {
            return Err(KeyError::NotFound(key.0.clone()));
        }
        Ok(())
    }

    async fn rotate(&self, key: &KeyRef) -> Result<(), KeyError> {
        let name = key.0.clone();
        self.update(move |keys| {
            let versions = keys
                .get_mut(&name)
                .ok_or_else(|| KeyError::NotFound(name.clone()))?;
            versions.push(new_master_key()?);
            Ok(true)
        })
        .await?;
        info!(key = %key.0, "rotated local master key");
        Ok(())
    }

    async fn destroy_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        let name = key.0.clone();
        // Under the file's exclusive lock, from the file: a copy of the key
        // in another process's memory never writes it back (see `update`).
        // The old file is replaced by rename, so its bytes are no longer
        // reachable through the keyring's path.
        let removed = self
            .update(move |keys| {
                let Some(mut versions) = keys.remove(&name) else {
                    return Ok(false);
                };
                // Zeroizing wipes each version as it drops.
                versions.clear();
                Ok(true)
            })
            .await?;
        if removed {
            info!(key = %key.0, "destroyed local master key");
        }
        Ok(())
    }
}

/// `label | len(name) | name | version | context`, lengths as u32 BE.
fn aad(name: &str, version: u32, context: &EncryptionContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(&(name.len() as u32).to_be_bytes());
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(&context.canonical_bytes());
    aad
}

fn aead_key(master: &MasterKey) -> Result<LessSafeKey, KeyError> {
    let unbound = UnboundKey::new(&AES_256_GCM, master.as_slice())
        .map_err(|_| KeyError::Other("invalid master key".to_owned()))?;
    Ok(LessSafeKey::new(unbound))
}

fn new_master_key() -> Result<MasterKey, KeyError> {
    let mut key = Zeroizing::new([0u8; MASTER_KEY_LEN]);
    aws_lc_rs::rand::fill(key.as_mut_slice())
        .map_err(|_| KeyError::Other("system random source failed".to_owned()))?;
    Ok(key)
}
