//! The embedded mode's key provider: versioned master keys in a local JSON
//! file (`<data>/keyring.json`), created with mode 0600 and replaced
//! atomically on every change.
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

use self::file::{io_error, parse_file, warn_if_readable_by_others, write_file};
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
#[derive(Clone)]
pub struct LocalKeyring {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Also serializes writers, so the file always matches memory.
    keys: Mutex<Keys>,
}

impl std::fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl LocalKeyring {
    /// Opens the keyring at `path`, creating an empty one (mode 0600, parent
    /// directories included) when the file doesn't exist yet.
    pub fn open(path: PathBuf) -> Result<Self, KeyError> {
        let keys = match std::fs::read(&path) {
            Ok(bytes) => {
                warn_if_readable_by_others(&path);
                parse_file(&bytes)?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|error| io_error("cannot create the keyring directory", &error))?;
                }
                let keys = Keys::new();
                write_file(&path, &keys)?;
                info!(path = %path.display(), "created an empty local keyring");
                keys
            }
            Err(error) => return Err(io_error("cannot read the keyring", &error)),
        };
        let inner = Inner {
            path,
            keys: Mutex::new(keys),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn lock(&self) -> MutexGuard<'_, Keys> {
        // A panic while holding the lock can't leave `Keys` half-updated: it
        // is only ever replaced whole, after the file write succeeded.
        self.inner
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a change on a copy of the keys, persists it, then publishes it.
    /// File IO runs on the blocking pool; changes are rare (onboarding, rotation).
    async fn update(
        &self,
        change: impl FnOnce(&mut Keys) -> Result<(), KeyError> + Send + 'static,
    ) -> Result<(), KeyError> {
        let keyring = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut keys = keyring.lock();
            let mut updated = keys.clone();
            change(&mut updated)?;
            write_file(&keyring.inner.path, &updated)?;
            *keys = updated;
            Ok(())
        })
        .await
        .map_err(|error| KeyError::Other(format!("keyring update task failed: {error}")))?
    }

    fn wrap(
        &self,
        key: &KeyRef,
        data_key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey, KeyError> {
        let keys = self.lock();
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

    fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let name = &wrapped.key_ref.0;
        let blob = &wrapped.ciphertext;
        if blob.len() != WRAPPED_LEN {
            return Err(KeyError::InvalidCiphertext);
        }
        let (version_bytes, rest) = blob.split_at(VERSION_LEN);
        let (nonce_bytes, sealed) = rest.split_at(NONCE_LEN);
        let version_array: [u8; VERSION_LEN] = version_bytes
            .try_into()
            .map_err(|_| KeyError::InvalidCiphertext)?;
        let version = u32::from_be_bytes(version_array);
        let keys = self.lock();
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
        drop(keys);
        let nonce = Nonce::try_assume_unique_for_key(nonce_bytes)
            .map_err(|_| KeyError::InvalidCiphertext)?;
        let aad = aad(name, version, context);
        let mut in_out = Zeroizing::new(sealed.to_vec());
        let plaintext = opening_key
            .open_in_place(nonce, Aad::from(aad.as_slice()), &mut in_out)
            .map_err(|_| KeyError::InvalidCiphertext)?;
        DataKey::from_slice(plaintext).ok_or(KeyError::InvalidCiphertext)
    }
}

#[async_trait]
impl KeyProvider for LocalKeyring {
    async fn create_tenant_key(&self, tenant: &str) -> Result<KeyRef, KeyError> {
        crate::validate_tenant(tenant)?;
        let name = format!("tenant/{tenant}");
        if self.lock().contains_key(&name) {
            return Ok(KeyRef(name));
        }
        let entry = name.clone();
        self.update(move |keys| {
            // Checked again under the writer lock: two onboardings of the
            // same tenant must not both add a key.
            if keys.contains_key(&entry) {
                return Ok(());
            }
            keys.insert(entry, vec![new_master_key()?]);
            Ok(())
        })
        .await?;
        info!(tenant = %tenant, key = %name, "created local tenant key");
        Ok(KeyRef(name))
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        let data_key = DataKey::generate();
        let wrapped = self.wrap(key, &data_key, context)?;
        Ok((data_key, wrapped))
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.unwrap_key(wrapped, context)
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        new_key: &KeyRef,
    ) -> Result<WrappedKey, KeyError> {
        let data_key = self.unwrap_key(wrapped, context)?;
        self.wrap(new_key, &data_key, context)
    }

    async fn check_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        if !self.lock().contains_key(&key.0) {
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
            Ok(())
        })
        .await?;
        info!(key = %key.0, "rotated local master key");
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
