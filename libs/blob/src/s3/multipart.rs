//! Multipart uploads, for bodies of at least one part: parts go up one at a
//! time, so memory stays at about one part whatever the object size. And
//! the clean-up of those a killed process never completed nor aborted.

use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream as S3ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tracing::{debug, warn};

use super::{S3BlobStore, sdk_error};
use crate::{BlobError, ByteStream, ObjectKey, ObjectMeta};

/// S3 accepts at most this many parts per upload.
const MAX_PARTS: usize = 10_000;

/// Reads `body` into `buffer` until it holds at least `part_size` bytes.
/// Returns whether the body ended.
pub(super) async fn fill(
    body: &mut ByteStream,
    buffer: &mut BytesMut,
    part_size: usize,
) -> Result<bool, BlobError> {
    while buffer.len() < part_size {
        match body.next().await {
            None => return Ok(true),
            Some(Err(error)) => return Err(BlobError::Body(error)),
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
        }
    }
    Ok(false)
}

/// Uploads `buffer` then the rest of `body`. The object only appears on
/// CompleteMultipartUpload, so a failure before it leaves nothing under the
/// key; the parts are aborted so they aren't billed forever.
pub(super) async fn put_multipart(
    store: &S3BlobStore,
    key: &ObjectKey,
    buffer: BytesMut,
    body: ByteStream,
) -> Result<ObjectMeta, BlobError> {
    // Declaring the checksum up front makes S3 verify each part and the
    // whole, and is what S3 expects when the SDK sends part checksums.
    let created = store
        .client
        .create_multipart_upload()
        .bucket(&store.bucket)
        .key(key.as_str())
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .map_err(|error| sdk_error(key, "create_multipart_upload", error))?;
    let Some(upload_id) = created.upload_id() else {
        return Err(BlobError::Unavailable(
            "s3 create_multipart_upload: no upload id in the response".to_owned(),
        ));
    };
    let mut upload = Upload {
        client: store.client.clone(),
        bucket: store.bucket.clone(),
        key: key.clone(),
        upload_id: upload_id.to_owned(),
        finished: false,
    };
    match upload.run(store.part_size, buffer, body).await {
        Ok(meta) => {
            upload.finished = true;
            Ok(meta)
        }
        Err(error) => {
            upload.abort().await;
            Err(error)
        }
    }
}

struct Upload {
    client: Client,
    bucket: String,
    key: ObjectKey,
    upload_id: String,
    /// Completed or aborted: nothing left for `Drop` to clean up.
    finished: bool,
}

impl Upload {
    async fn run(
        &self,
        part_size: usize,
        mut buffer: BytesMut,
        mut body: ByteStream,
    ) -> Result<ObjectMeta, BlobError> {
        let mut parts = Vec::new();
        let mut size: u64 = 0;
        loop {
            while buffer.len() >= part_size {
                let part = buffer.split_to(part_size).freeze();
                size += part.len() as u64;
                parts.push(self.upload_part(parts.len() + 1, part).await?);
            }
            if fill(&mut body, &mut buffer, part_size).await? {
                break;
            }
        }
        if !buffer.is_empty() {
            let part = buffer.freeze();
            size += part.len() as u64;
            parts.push(self.upload_part(parts.len() + 1, part).await?);
        }
        let part_count = parts.len();
        // If-None-Match here is what makes a multipart put write-once: the
        // check happens when the object would appear, so a key taken while
        // the parts were uploading is still refused.
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key.as_str())
            .upload_id(&self.upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|error| sdk_error(&self.key, "complete_multipart_upload", error))?;
        debug!(bucket=%self.bucket, key=%self.key, size, parts=part_count, "stored object");
        Ok(ObjectMeta { size })
    }

    async fn upload_part(
        &self,
        part_number: usize,
        part: Bytes,
    ) -> Result<CompletedPart, BlobError> {
        if part_number > MAX_PARTS {
            return Err(BlobError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("object needs more than {MAX_PARTS} parts: raise the part size"),
            )));
        }
        let part_number = part_number as i32;
        let output = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.key.as_str())
            .upload_id(&self.upload_id)
            .part_number(part_number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .content_length(part.len() as i64)
            .body(S3ByteStream::from(part))
            .send()
            .await
            .map_err(|error| sdk_error(&self.key, "upload_part", error))?;
        Ok(CompletedPart::builder()
            .part_number(part_number)
            .set_e_tag(output.e_tag().map(str::to_owned))
            .set_checksum_crc32(output.checksum_crc32().map(str::to_owned))
            .build())
    }

    async fn abort(&mut self) {
        self.finished = true;
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key.as_str())
            .upload_id(&self.upload_id)
            .send()
            .await;
        if let Err(error) = result {
            // The parts stay billed until a bucket lifecycle rule removes
            // incomplete uploads; the object itself was never created.
            warn!(
                bucket=%self.bucket,
                key=%self.key,
                upload_id=%self.upload_id,
                error=%DisplayErrorContext(&error),
                "failed to abort multipart upload"
            );
        }
    }
}

impl Drop for Upload {
    /// The `put` future was dropped mid-upload (client gone, timeout): abort
    /// in the background rather than leak the parts.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            warn!(bucket=%self.bucket, key=%self.key, upload_id=%self.upload_id, "multipart upload dropped outside a runtime, not aborted");
            return;
        };
        let mut upload = Upload {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            upload_id: std::mem::take(&mut self.upload_id),
            finished: false,
        };
        self.finished = true;
        runtime.spawn(async move { upload.abort().await });
    }
}

/// Aborts every multipart upload of the bucket initiated before `before`:
/// those a process killed mid-`put` left open, billed until aborted. One
/// still running that long is cut off; its `put` fails and publishes
/// nothing.
pub(super) async fn abort_incomplete(
    store: &S3BlobStore,
    before: SystemTime,
) -> Result<u64, BlobError> {
    let mut aborted = 0;
    let mut key_marker: Option<String> = None;
    let mut upload_id_marker: Option<String> = None;
    loop {
        let page = store
            .client
            .list_multipart_uploads()
            .bucket(&store.bucket)
            .set_key_marker(key_marker.take())
            .set_upload_id_marker(upload_id_marker.take())
            .send()
            .await
            .map_err(|error| {
                BlobError::Unavailable(format!(
                    "s3 list_multipart_uploads: {}",
                    DisplayErrorContext(&error)
                ))
            })?;
        for upload in page.uploads() {
            let (Some(key), Some(upload_id), Some(initiated)) =
                (upload.key(), upload.upload_id(), upload.initiated())
            else {
                continue;
            };
            if SystemTime::try_from(*initiated).is_ok_and(|at| at >= before) {
                continue;
            }
            let result = store
                .client
                .abort_multipart_upload()
                .bucket(&store.bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await;
            match result {
                Ok(_) => aborted += 1,
                // Completed or aborted by its own `put` since the listing.
                Err(error) if error.code() == Some("NoSuchUpload") => {}
                Err(error) => {
                    return Err(BlobError::Unavailable(format!(
                        "s3 abort_multipart_upload: {}",
                        DisplayErrorContext(&error)
                    )));
                }
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        upload_id_marker = page.next_upload_id_marker().map(str::to_owned);
        if key_marker.is_none() {
            return Err(BlobError::Unavailable(
                "s3 list_multipart_uploads: truncated page without a next marker".to_owned(),
            ));
        }
    }
    if aborted > 0 {
        debug!(bucket=%store.bucket, aborted, "aborted incomplete multipart uploads");
    }
    Ok(aborted)
}
