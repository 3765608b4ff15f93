//! Key providers: where the data keys that seal recordings come from, and
//! how they are wrapped (encrypted under a tenant's master key) for storage.
//!
//! Two implementations of one trait: AWS KMS ([`kms::KmsKeyProvider`]) for
//! the distributed mode and a local keyring file ([`local::LocalKeyring`])
//! for the embedded mode. Both are checked by the same conformance suite.
//! [`Traced`] wraps either with a span per call.

use std::collections::BTreeMap;

use async_trait::async_trait;
pub use callvault_envelope::DataKey;
use serde::{Deserialize, Serialize};

pub mod kms;
pub mod local;
mod traced;

pub use traced::Traced;

/// Names the master key a tenant's data keys are wrapped under: a KMS key id,
/// ARN or alias, or a local keyring key name. A name, never key material:
/// it is logged and recorded on spans.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyRef(pub String);

/// A data key encrypted under a master key. Safe to store next to the
/// recording's storage record: without the master key it is useless.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// The master key (and, where the provider has one, its version) that
    /// wrapped this data key.
    pub key_ref: KeyRef,
    /// The provider's opaque ciphertext blob.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedKey")
            .field("key_ref", &self.key_ref)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// The encryption context bound to a wrapped key: unwrapping with any other
/// context fails. Always names the tenant and the purpose, and for a
/// recording's data key the recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn for_recording(tenant: &str, recording: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert("tenant".to_owned(), tenant.to_owned());
        map.insert("recording".to_owned(), recording.to_owned());
        map.insert("purpose".to_owned(), "recording-body".to_owned());
        Self(map)
    }

    /// The tenant's catalogue data key, which seals the personal fields of
    /// its catalogue (phone numbers) and keys their blind index: one per
    /// tenant, so no recording is named.
    pub fn for_catalogue(tenant: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert("tenant".to_owned(), tenant.to_owned());
        map.insert("purpose".to_owned(), "catalogue-pii".to_owned());
        Self(map)
    }

    /// A data-subject request's data key, which seals the requester's
    /// contact details and the subject's numbers (disclosure service).
    pub fn for_disclosure_request(tenant: &str, request: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert("tenant".to_owned(), tenant.to_owned());
        map.insert("request".to_owned(), request.to_owned());
        map.insert("purpose".to_owned(), "disclosure-request".to_owned());
        Self(map)
    }

    /// An export bundle's data key (disclosure service): the bundle is
    /// sealed like a recording, under its own key.
    pub fn for_disclosure_bundle(tenant: &str, bundle: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert("tenant".to_owned(), tenant.to_owned());
        map.insert("bundle".to_owned(), bundle.to_owned());
        map.insert("purpose".to_owned(), "disclosure-bundle".to_owned());
        Self(map)
    }

    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// A canonical byte encoding (sorted, length-prefixed), used as AAD by
    /// the local keyring.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (key, value) in &self.0 {
            for part in [key, value] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key doesn't exist (or the caller may not use it).
    #[error("master key not found: {0}")]
    NotFound(String),
    /// The master key exists but is disabled or pending deletion.
    #[error("master key is disabled: {0}")]
    Disabled(String),
    /// The wrapped key doesn't decrypt under this context: wrong tenant,
    /// wrong recording, or altered ciphertext.
    #[error("wrapped key does not verify under this context")]
    InvalidCiphertext,
    /// The provider couldn't be reached; callers answer 503 and retry.
    #[error("key provider unavailable: {0}")]
    Unavailable(String),
    #[error("key provider error: {0}")]
    Other(String),
}

impl KeyError {
    /// What kind of failure this is, for spans: a fixed name, never the
    /// message, which may quote the provider.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyError::NotFound(_) => "not_found",
            KeyError::Disabled(_) => "disabled",
            KeyError::InvalidCiphertext => "invalid_ciphertext",
            KeyError::Unavailable(_) => "unavailable",
            KeyError::Other(_) => "other",
        }
    }
}

#[async_trait]
pub trait KeyProvider: Send + Sync + 'static {
    /// Creates a master key for a tenant (KMS: a key and an alias; local: a
    /// keyring entry) and returns its reference. Idempotent per tenant.
    async fn create_tenant_key(&self, tenant: &str) -> Result<KeyRef, KeyError>;

    /// A fresh data key, with its copy wrapped under `key` and bound to `context`.
    async fn generate_data_key(
        &self,
        key: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError>;

    /// Unwraps a data key; fails unless `context` is the one it was wrapped with.
    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError>;

    /// Re-wraps a data key under `new_key` (which may be the same key after a
    /// rotation) without exposing it to the caller and without touching the
    /// object body.
    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        new_key: &KeyRef,
    ) -> Result<WrappedKey, KeyError>;

    /// Confirms `key` exists and can wrap new data keys (for a key the tenant
    /// brings: it is enabled and usable by us). `NotFound` or `Disabled` otherwise.
    async fn check_key(&self, key: &KeyRef) -> Result<(), KeyError>;

    /// Rotates the master key's backing material; keys wrapped before stay
    /// readable.
    async fn rotate(&self, key: &KeyRef) -> Result<(), KeyError>;

    /// Destroys the master key, every version of it, so nothing wrapped
    /// under it ever unwraps again (a tenant's offboarding: crypto-shredding
    /// by key). KMS: `ScheduleKeyDeletion` with the shortest window KMS
    /// allows (7 days), after which KMS deletes the key and its aliases;
    /// from the call on, the key is `PendingDeletion` and refuses every
    /// use. Local keyring: the key and its versions are removed from the
    /// file at once.
    ///
    /// Idempotent: destroying a key already destroyed (or pending deletion),
    /// or one the provider never had, succeeds, so a resumed offboarding
    /// can repeat it.
    async fn destroy_key(&self, key: &KeyRef) -> Result<(), KeyError>;
}

/// Tenant ids become part of key names and KMS aliases
/// (`alias/callvault/tenant-<id>`), so they are held to the characters an
/// alias allows.
pub(crate) fn validate_tenant(tenant: &str) -> Result<(), KeyError> {
    let valid = !tenant.is_empty()
        && tenant.len() <= 128
        && tenant
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !valid {
        return Err(KeyError::Other(
            "invalid tenant id: expected 1 to 128 ascii letters, digits, '-' or '_'".to_owned(),
        ));
    }
    Ok(())
}
