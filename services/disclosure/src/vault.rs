//! Where bundles are kept: sealed exactly like a recording (the envelope
//! format of schema/recording-object-format.md, under a data key of their
//! own generated under the tenant's master key) in the blob store the
//! recordings use, under `disclosure/` where storage's listings never look.
//! Shredding deletes the object (every version) and forgets its key.

use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use callvault_blob::{BlobError, BlobStore, ByteStream, ObjectKey};
use callvault_contracts::TenantId;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_envelope::{HEADER_LEN, ObjectContext, Opener, Sealer, open_stream, seal_stream};
use callvault_keys::{EncryptionContext, KeyProvider, KeyRef, WrappedKey};
use futures_util::{StreamExt, TryStreamExt};
use uuid::Uuid;

use crate::sealing::key_error;

/// A bundle as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBundle {
    pub object_key: String,
    pub key_ref: String,
    pub wrapped_key: Vec<u8>,
    /// Plaintext (ZIP) bytes.
    pub size: u64,
    /// Hex SHA-256 of the ZIP.
    pub sha256: String,
}

pub struct BundleVault {
    blobs: Arc<dyn BlobStore>,
    keys: Arc<dyn KeyProvider>,
}

impl BundleVault {
    pub fn new(blobs: Arc<dyn BlobStore>, keys: Arc<dyn KeyProvider>) -> Self {
        Self { blobs, keys }
    }

    /// Seals `body` as it arrives into a new object.
    pub async fn put(
        &self,
        tenant: TenantId,
        bundle: Uuid,
        master_key: &str,
        body: ByteStream,
    ) -> ApiResult<StoredBundle> {
        let (data_key, wrapped) = self
            .keys
            .generate_data_key(&KeyRef(master_key.to_owned()), &context(tenant, bundle))
            .await
            .map_err(key_error)?;
        let (tenant_text, bundle_text) = (tenant.to_string(), bundle.to_string());
        let sealer = Sealer::new(
            &data_key,
            ObjectContext::new(&tenant_text, &bundle_text),
            callvault_envelope::DEFAULT_FRAME_SIZE,
        )
        .map_err(|_| internal("sealing a bundle"))?;
        drop(data_key);
        let digest = Arc::new(Mutex::new((digest::Context::new(&digest::SHA256), 0u64)));
        let hashing = {
            let digest = digest.clone();
            body.inspect_ok(move |chunk| {
                if let Ok(mut state) = digest.lock() {
                    state.0.update(chunk);
                    state.1 += chunk.len() as u64;
                }
            })
        };
        let sealed: ByteStream = seal_stream(sealer, hashing)
            .map_err(|error| match error {
                callvault_envelope::EnvelopeError::Source(io) => io,
                other => std::io::Error::other(other),
            })
            .boxed();
        let object_key = object_key(tenant, bundle)?;
        self.blobs
            .put(&object_key, sealed)
            .await
            .map_err(blob_error)?;
        let (hash, size) = {
            let state = digest.lock().map_err(|_| internal("hashing a bundle"))?;
            (hex::encode(state.0.clone().finish().as_ref()), state.1)
        };
        Ok(StoredBundle {
            object_key: object_key.to_string(),
            key_ref: wrapped.key_ref.0,
            wrapped_key: wrapped.ciphertext,
            size,
            sha256: hash,
        })
    }

    /// The whole bundle, decrypted as it streams (each frame authenticated).
    pub async fn open(
        &self,
        tenant: TenantId,
        bundle: Uuid,
        stored: &StoredBundle,
    ) -> ApiResult<ByteStream> {
        let object_key =
            ObjectKey::parse(&stored.object_key).map_err(|_| internal("bundle object key"))?;
        let meta = self.blobs.head(&object_key).await.map_err(blob_error)?;
        let wrapped = WrappedKey {
            key_ref: KeyRef(stored.key_ref.clone()),
            ciphertext: stored.wrapped_key.clone(),
        };
        let data_key = self
            .keys
            .decrypt(&wrapped, &context(tenant, bundle))
            .await
            .map_err(key_error)?;
        let header: Vec<bytes::Bytes> = self
            .blobs
            .get_range(&object_key, 0..HEADER_LEN as u64)
            .await
            .map_err(blob_error)?
            .try_collect()
            .await
            .map_err(|_| unavailable())?;
        let (tenant_text, bundle_text) = (tenant.to_string(), bundle.to_string());
        let opener = Arc::new(
            Opener::new(
                &data_key,
                ObjectContext::new(&tenant_text, &bundle_text),
                &header.concat(),
                meta.size,
            )
            .map_err(|_| internal("bundle object does not verify"))?,
        );
        let plan = opener.plan_all();
        let ciphertext = self
            .blobs
            .get_range(&object_key, plan.ciphertext.clone())
            .await
            .map_err(blob_error)?;
        Ok(open_stream(opener, plan, ciphertext)
            .map_err(std::io::Error::other)
            .boxed())
    }

    /// Deletes the object and every version of it.
    pub async fn shred(&self, object_key: &str) -> ApiResult<()> {
        let key = ObjectKey::parse(object_key).map_err(|_| internal("bundle object key"))?;
        self.blobs.delete(&key).await.map_err(blob_error)
    }

    /// Versions the blob store still holds (0 once shredded).
    pub async fn versions(&self, object_key: &str) -> ApiResult<usize> {
        let key = ObjectKey::parse(object_key).map_err(|_| internal("bundle object key"))?;
        self.blobs.version_count(&key).await.map_err(blob_error)
    }
}

fn context(tenant: TenantId, bundle: Uuid) -> EncryptionContext {
    EncryptionContext::for_disclosure_bundle(&tenant.to_string(), &bundle.to_string())
}

/// A fresh key per build: a retried build never meets its earlier object.
fn object_key(tenant: TenantId, bundle: Uuid) -> ApiResult<ObjectKey> {
    ObjectKey::parse(&format!(
        "disclosure/tenants/{tenant}/bundles/{bundle}.{}.cvro",
        Uuid::new_v4()
    ))
    .map_err(|_| internal("bundle object key"))
}

fn blob_error(err: BlobError) -> ApiError {
    tracing::warn!(error = %err, "bundle blob store error");
    match err {
        BlobError::NotFound(_) => ApiError::new(ErrorCode::NotFound, "the bundle is gone"),
        _ => unavailable(),
    }
}

fn unavailable() -> ApiError {
    ApiError::new(ErrorCode::Unavailable, "bundle store unavailable")
}

fn internal(what: &'static str) -> ApiError {
    tracing::error!(what, "bundle vault failure");
    ApiError::new(ErrorCode::Internal, "internal error")
}
