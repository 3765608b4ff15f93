//! Glue between services that must not depend on each other, when they run
//! in one process: each service declares the trait it needs, and the binary
//! implements it over the other service's library. Across processes,
//! ingestion stores over HTTP (`RemoteStorageSink`) instead.

use std::sync::Arc;

use async_trait::async_trait;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, TenantKeys};
use callvault_contracts::{RecordingId, TenantId};
use callvault_ingestion::{AudioStream, RecordingSink, SinkError, StoredAudio, StoredObject};
use callvault_keys::{KeyError, KeyProvider, KeyRef};
use callvault_storage::{ListedRecord, RecordingStore, StorageError};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};

/// The metadata service's onboarding and key changes go to the storage
/// side's key provider for a tenant's master key.
pub struct KeyProviderTenantKeys(pub Arc<dyn KeyProvider>);

fn key_error(error: KeyError) -> ApiError {
    match error {
        KeyError::NotFound(_) => ApiError::new(
            ErrorCode::InvalidInput,
            "the key does not exist or is not usable",
        ),
        KeyError::Disabled(_) => ApiError::new(ErrorCode::InvalidInput, "the key is disabled"),
        KeyError::Unavailable(_) => {
            ApiError::new(ErrorCode::Unavailable, "the key provider is unavailable")
        }
        KeyError::InvalidCiphertext | KeyError::Other(_) => {
            ApiError::new(ErrorCode::Internal, "key provider error")
        }
    }
}

#[async_trait]
impl TenantKeys for KeyProviderTenantKeys {
    async fn create_tenant_key(&self, tenant: TenantId) -> ApiResult<String> {
        let key = self
            .0
            .create_tenant_key(&tenant.to_string())
            .await
            .map_err(key_error)?;
        Ok(key.0)
    }

    async fn check_external_key(&self, key_arn: &str) -> ApiResult<String> {
        let key = KeyRef(key_arn.to_owned());
        self.0.check_key(&key).await.map_err(key_error)?;
        Ok(key.0)
    }

    async fn rotate_tenant_key(&self, key_ref: &str) -> ApiResult<()> {
        self.0
            .rotate(&KeyRef(key_ref.to_owned()))
            .await
            .map_err(key_error)
    }
}

/// Ingestion streams accepted audio into the storage service's store.
pub struct StorageSink(pub Arc<RecordingStore>);

fn sink_error(error: StorageError) -> SinkError {
    match error {
        StorageError::Unavailable(why) => SinkError::Unavailable(why),
        StorageError::AlreadyExists => SinkError::Conflict,
        StorageError::Body(why) => SinkError::Body(why),
        // A tenant whose key is gone or disabled can't ingest until an
        // administrator fixes it: permanent, not an outage to retry.
        StorageError::Key(why) => SinkError::KeyUnusable(why),
        other => SinkError::Internal(other.to_string()),
    }
}

#[async_trait]
impl RecordingSink for StorageSink {
    async fn store(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        key_ref: &str,
        body: AudioStream,
    ) -> Result<StoredAudio, SinkError> {
        let stored = self
            .0
            .store(tenant, recording, &KeyRef(key_ref.to_owned()), body)
            .await
            .map_err(sink_error)?;
        Ok(StoredAudio {
            size: stored.size,
            sha256: stored.sha256,
        })
    }

    async fn discard(&self, tenant: TenantId, recording: RecordingId) -> Result<(), SinkError> {
        self.0.discard(tenant, recording).await.map_err(sink_error)
    }

    async fn list_stored(
        &self,
        before: DateTime<Utc>,
        after: Option<StoredObject>,
        limit: u32,
    ) -> Result<Vec<StoredObject>, SinkError> {
        let after = after.map(|object| ListedRecord {
            created_at: object.created_at,
            tenant_id: object.tenant,
            recording_id: object.recording,
        });
        let page = self
            .0
            .list_stored(before, after, limit)
            .await
            .map_err(sink_error)?;
        Ok(page
            .into_iter()
            .map(|record| StoredObject {
                created_at: record.created_at,
                tenant: record.tenant_id,
                recording: record.recording_id,
            })
            .collect())
    }
}

/// The disclosure service reads recordings' audio from the store, in the
/// storage process.
pub struct StoreAudio(pub Arc<RecordingStore>);

fn audio_error(error: StorageError) -> ApiError {
    match error {
        StorageError::NotFound | StorageError::Shredded { .. } => {
            ApiError::new(ErrorCode::NotFound, "the recording is gone")
        }
        StorageError::Key(_) => ApiError::new(
            ErrorCode::TenantKeyUnusable,
            "the tenant's master key is not usable",
        ),
        StorageError::Unavailable(_) => {
            ApiError::new(ErrorCode::Unavailable, "storage unavailable")
        }
        other => {
            tracing::warn!(error = %other, "reading a recording for a bundle failed");
            ApiError::new(ErrorCode::Internal, "reading the recording failed")
        }
    }
}

#[async_trait]
impl callvault_disclosure::AudioSource for StoreAudio {
    async fn open(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        from: u64,
    ) -> ApiResult<callvault_blob::ByteStream> {
        let info = self.0.info(tenant, recording).await.map_err(audio_error)?;
        if from >= info.size {
            return Ok(futures_util::stream::empty().boxed());
        }
        let stream = self
            .0
            .read(tenant, recording, Some(from..info.size))
            .await
            .map_err(audio_error)?;
        Ok(stream.body.map_err(std::io::Error::other).boxed())
    }
}

/// The disclosure service reads recordings' audio from the storage
/// service over HTTP, with a signed playback URL and a Range.
pub struct RemoteAudio {
    base_url: String,
    signer: callvault_auth::signed_url::UrlSigner,
    client: reqwest::Client,
}

impl RemoteAudio {
    pub fn new(
        base_url: String,
        signer: callvault_auth::signed_url::UrlSigner,
        client: reqwest::Client,
    ) -> Self {
        Self {
            base_url,
            signer,
            client,
        }
    }
}

/// Long enough for the slowest bundle build to read one recording.
const AUDIO_URL_TTL_SECS: u64 = 3600;

#[async_trait]
impl callvault_disclosure::AudioSource for RemoteAudio {
    async fn open(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        from: u64,
    ) -> ApiResult<callvault_blob::ByteStream> {
        let expires_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|now| now.as_secs() + AUDIO_URL_TTL_SECS)
            .unwrap_or(0);
        let path =
            callvault_storage::playback::playback_path(&self.signer, tenant, recording, expires_at);
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .header(reqwest::header::RANGE, format!("bytes={from}-"))
            .send()
            .await
            .map_err(|_| ApiError::new(ErrorCode::Unavailable, "storage unavailable"))?;
        match response.status() {
            reqwest::StatusCode::OK | reqwest::StatusCode::PARTIAL_CONTENT => {}
            reqwest::StatusCode::RANGE_NOT_SATISFIABLE => {
                return Ok(futures_util::stream::empty().boxed());
            }
            reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::GONE => {
                return Err(ApiError::new(ErrorCode::NotFound, "the recording is gone"));
            }
            status => {
                tracing::warn!(%status, "storage refused a bundle's audio read");
                return Err(ApiError::new(ErrorCode::Unavailable, "storage unavailable"));
            }
        }
        if response.status() == reqwest::StatusCode::OK && from > 0 {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "storage ignored the range of a bundle's audio read",
            ));
        }
        Ok(response
            .bytes_stream()
            .map_err(std::io::Error::other)
            .boxed())
    }
}
