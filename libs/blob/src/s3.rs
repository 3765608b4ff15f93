//! S3 backend (AWS S3, or any peer speaking its protocol: moto, MinIO).
//!
//! Write-once comes from conditional writes: `If-None-Match: *` on PutObject
//! and on CompleteMultipartUpload, so S3 itself refuses to replace a key
//! that exists, even between racing writers.

use std::io;
use std::ops::Range;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as S3ByteStream;
use bytes::Bytes;
use futures_util::StreamExt;
use tracing::debug;

use crate::{BlobError, BlobStore, ByteStream, ObjectKey, ObjectMeta};

mod multipart;

/// S3 refuses parts smaller than this, except the last one.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// Builds a client from the default credential chain (environment, profile,
/// web identity, IMDS). `endpoint` points at a non-AWS peer (moto, MinIO),
/// which only speak path-style addressing; AWS itself gets virtual-hosted
/// style.
pub async fn client_for(endpoint: Option<&str>, region: &str) -> Client {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .load()
        .await;
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint).force_path_style(true);
    }
    Client::from_conf(config.build())
}

/// A client with fixed credentials for a local peer, without reading the
/// environment: what tests against moto or s3s need.
pub fn client_with_static_credentials(
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> Client {
    let credentials = Credentials::new(access_key_id, secret_access_key, None, None, "static");
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    part_size: usize,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: String) -> Self {
        Self {
            client,
            bucket,
            part_size: DEFAULT_PART_SIZE,
        }
    }

    /// Bodies of at least `part_size` bytes go up as multipart uploads of
    /// `part_size` parts; `put` buffers about one part. Raised to
    /// `MIN_PART_SIZE` if smaller, which S3 would reject.
    pub fn with_part_size(mut self, part_size: usize) -> Self {
        self.part_size = part_size.max(MIN_PART_SIZE);
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put_single(&self, key: &ObjectKey, body: Bytes) -> Result<ObjectMeta, BlobError> {
        let size = body.len() as u64;
        // A retry of a PutObject that did succeed (response lost) comes back
        // 412 and is reported as `AlreadyExists`: the caller can't tell it
        // from a real conflict, which errs on the side of never overwriting.
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .if_none_match("*")
            .content_length(size as i64)
            .body(S3ByteStream::from(body))
            .send()
            .await
            .map_err(|error| sdk_error(key, "put_object", error))?;
        debug!(bucket=%self.bucket, key=%key, size, "stored object");
        Ok(ObjectMeta { size })
    }

    /// The version ids of every version and delete marker of exactly `key`.
    async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<String>, BlobError> {
        let mut version_ids = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key.as_str())
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|error| sdk_error(key, "list_object_versions", error))?;
            let entries = page
                .versions()
                .iter()
                .map(|version| (version.key(), version.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|marker| (marker.key(), marker.version_id())),
                );
            // The prefix also matches longer keys (`a/b` matches `a/b.x`);
            // those sort after `key`, so seeing one means `key` is done.
            let mut past_key = false;
            for (entry_key, version_id) in entries {
                if entry_key != Some(key.as_str()) {
                    past_key = true;
                    continue;
                }
                // Unversioned buckets list their objects with version "null".
                version_ids.push(version_id.unwrap_or("null").to_owned());
            }
            if past_key || page.is_truncated() != Some(true) {
                return Ok(version_ids);
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                return Err(BlobError::Unavailable(
                    "s3 list_object_versions: truncated page without a next marker".to_owned(),
                ));
            }
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &ObjectKey, mut body: ByteStream) -> Result<ObjectMeta, BlobError> {
        let mut buffer = bytes::BytesMut::new();
        let ended = multipart::fill(&mut body, &mut buffer, self.part_size).await?;
        if ended {
            return self.put_single(key, buffer.freeze()).await;
        }
        multipart::put_multipart(self, key, buffer, body).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, BlobError> {
        let output = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|error| sdk_error(key, "head_object", error))?;
        let Some(size) = output
            .content_length()
            .and_then(|len| u64::try_from(len).ok())
        else {
            return Err(BlobError::Unavailable(
                "s3 head_object: no valid content length".to_owned(),
            ));
        };
        Ok(ObjectMeta { size })
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<ByteStream, BlobError> {
        // S3 answers a past-the-end range with a shortened body and an empty
        // one with 416 or the whole object, depending on the peer; checking
        // against the size gives every backend the same contract.
        let size = self.head(key).await?.size;
        if range.start >= range.end || range.end > size {
            return Err(BlobError::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await
            .map_err(|error| sdk_error(key, "get_object", error))?;
        let stream = futures_util::stream::unfold(output.body, |mut body| async move {
            let chunk = body.next().await?;
            Some((chunk.map_err(io::Error::from), body))
        });
        Ok(stream.boxed())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        // Deleting by version id removes the data for good; a plain delete
        // on a versioned bucket would only add a delete marker and keep the
        // recording readable, which defeats shredding.
        let version_ids = self.list_versions(key).await?;
        for version_id in &version_ids {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .version_id(version_id)
                .send()
                .await
                .map_err(|error| sdk_error(key, "delete_object", error))?;
        }
        debug!(bucket=%self.bucket, key=%key, versions=version_ids.len(), "deleted object");
        Ok(())
    }

    async fn version_count(&self, key: &ObjectKey) -> Result<usize, BlobError> {
        Ok(self.list_versions(key).await?.len())
    }

    async fn remove_incomplete_uploads(&self, before: SystemTime) -> Result<u64, BlobError> {
        multipart::abort_incomplete(self, before).await
    }
}

/// Maps an SDK error to the store's contract. `op` names the S3 call in
/// messages; object contents never appear in them.
pub(crate) fn sdk_error<E>(
    key: &ObjectKey,
    op: &'static str,
    error: SdkError<E, HttpResponse>,
) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let SdkError::ServiceError(service_error) = &error else {
        // Timeouts, connection and dispatch failures, unparsable responses.
        return BlobError::Unavailable(format!("s3 {op}: {}", DisplayErrorContext(&error)));
    };
    let status = service_error.raw().status().as_u16();
    let code = service_error.err().code();
    // 412 is If-None-Match losing to an existing object; 409
    // ConditionalRequestConflict is it losing to a concurrent conditional
    // write of the same key, whose winner is the object that will exist.
    if status == 412
        || code == Some("PreconditionFailed")
        || code == Some("ConditionalRequestConflict")
    {
        return BlobError::AlreadyExists(key.clone());
    }
    // HEAD has no body, hence no error code: only its status says 404. A
    // missing bucket or upload is a deployment fault, not a missing object.
    if matches!(code, Some("NoSuchKey" | "NotFound")) || (status == 404 && code.is_none()) {
        return BlobError::NotFound(key.clone());
    }
    BlobError::Unavailable(format!(
        "s3 {op}: status {status}: {}",
        DisplayErrorContext(&error)
    ))
}
