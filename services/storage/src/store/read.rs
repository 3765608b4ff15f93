//! Reading: a recording's record, its data key unwrapped, and the frames a
//! range needs fetched and decrypted.

use std::ops::Range;
use std::sync::Arc;

use aws_lc_rs::digest;
use bytes::Bytes;
use callvault_blob::ObjectKey;
use callvault_contracts::events::IntegrityCheck;
use callvault_contracts::media::{Container, sniff};
use callvault_contracts::{RecordingId, TenantId};
use callvault_envelope::{HEADER_LEN, ObjectContext, Opener, open_stream};
use callvault_keys::{KeyRef, WrappedKey};
use futures_util::{StreamExt, TryStreamExt};

use super::{PlaintextStream, RecordingStore, context};
use crate::StorageError;
use crate::records::{RecordState, StorageRecord};

impl RecordingStore {
    /// The record of a recording that can still be read, and its wrapped
    /// data key.
    pub(super) async fn readable(
        &self,
        tenant: TenantId,
        recording: RecordingId,
    ) -> Result<(StorageRecord, Vec<u8>), StorageError> {
        let record = self
            .records
            .get(tenant.0, recording.0)
            .await?
            .ok_or(StorageError::NotFound)?;
        match record.state.clone() {
            RecordState::Stored { wrapped_key } => Ok((record, wrapped_key)),
            RecordState::Shredded { at } => Err(StorageError::Shredded { at }),
        }
    }

    /// [`RecordingStore::read`]'s work, outside its span: every integrity
    /// failure, before the stream starts or in it, is raised on the alarm
    /// as found by `check`.
    pub(super) async fn open_plaintext(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        range: Option<Range<u64>>,
        check: IntegrityCheck,
    ) -> Result<PlaintextStream, StorageError> {
        let (record, wrapped_key) = self.readable(tenant, recording).await?;
        let alarm = self.alarm.clone();
        let object_key = record.object_key.clone();
        let raise = move |error: &StorageError| {
            if let StorageError::Integrity(detail) = error {
                alarm.raise(tenant, recording, &object_key, check, detail);
            }
        };
        let mut stream = self
            .open_record(tenant, recording, &record, wrapped_key, range)
            .await
            .inspect_err(&raise)?;
        stream.body = stream.body.inspect_err(raise).boxed();
        Ok(stream)
    }

    async fn open_record(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        record: &StorageRecord,
        wrapped_key: Vec<u8>,
        range: Option<Range<u64>>,
    ) -> Result<PlaintextStream, StorageError> {
        let object_key = ObjectKey::parse(&record.object_key)
            .map_err(|e| StorageError::Internal(e.to_string()))?;
        // The stored-length check: a truncated or extended object is caught
        // before a byte is decrypted, whatever range is asked for.
        let meta = self.blobs.head(&object_key).await?;
        if meta.size != record.ciphertext_len {
            return Err(StorageError::Integrity(format!(
                "object is {} bytes, its record says {}",
                meta.size, record.ciphertext_len
            )));
        }
        let wrapped = WrappedKey {
            key_ref: KeyRef(record.key_ref.clone()),
            ciphertext: wrapped_key,
        };
        let data_key = self
            .keys
            .decrypt(&wrapped, &context(tenant, recording))
            .await?;
        let header: Vec<Bytes> = self
            .blobs
            .get_range(&object_key, 0..HEADER_LEN as u64)
            .await?
            .try_collect()
            .await
            .map_err(|e| StorageError::Unavailable(format!("reading object header: {e}")))?;
        let (tenant_text, recording_text) = (tenant.to_string(), recording.to_string());
        let opener = Arc::new(Opener::new(
            &data_key,
            ObjectContext::new(&tenant_text, &recording_text),
            &header.concat(),
            meta.size,
        )?);
        if opener.layout().frame_size() != u64::from(record.frame_size) {
            return Err(StorageError::Integrity(
                "object frame size disagrees with its record".into(),
            ));
        }
        if opener.plaintext_len() != record.plaintext_len {
            return Err(StorageError::Integrity(
                "object length disagrees with its record".into(),
            ));
        }
        let total_len = record.plaintext_len;
        let (plan, range) = match range {
            Some(range) => (opener.plan_range(range.clone())?, range),
            None => (opener.plan_all(), 0..total_len),
        };
        let whole = range == (0..total_len);
        let ciphertext = self
            .blobs
            .get_range(&object_key, plan.ciphertext.clone())
            .await?;
        let plaintext = open_stream(opener.clone(), plan, ciphertext).map_err(StorageError::from);
        let mut body = if whole {
            verify_sha256(plaintext, record.sha256).boxed()
        } else {
            plaintext.boxed()
        };
        // The first frame the caller needs is fetched and authenticated
        // now, so a damaged object fails with an error the caller can still
        // answer with a status, not as a response cut off after its headers.
        let first = body.next().await.transpose()?;
        let media_type = match &first {
            Some(chunk) if range.start == 0 => media_type(chunk),
            _ if total_len == 0 => media_type(&[]),
            // The range starts past the container's magic: read it from
            // the first frame.
            _ => {
                let head = 0..total_len.min(MEDIA_SNIFF_LEN);
                let plan = opener.plan_range(head)?;
                let ciphertext = self
                    .blobs
                    .get_range(&object_key, plan.ciphertext.clone())
                    .await?;
                let head: Vec<Bytes> = open_stream(opener, plan, ciphertext)
                    .map_err(StorageError::from)
                    .try_collect()
                    .await?;
                media_type(&head.concat())
            }
        };
        let body = futures_util::stream::iter(first.map(Ok))
            .chain(body)
            .boxed();
        Ok(PlaintextStream {
            total_len,
            range,
            media_type,
            body,
        })
    }
}

/// Plaintext bytes enough to tell the container (an ID3 tag before an MP3
/// stream can be longer: that stream is served as MP3 by its `ID3` magic).
const MEDIA_SNIFF_LEN: u64 = 64;

/// The media type a playback serves, from the audio's own leading bytes (the
/// container ingestion probed); `application/octet-stream` when unknown.
fn media_type(head: &[u8]) -> &'static str {
    match sniff(head) {
        Some(container) => container.mime(),
        None if head.starts_with(b"ID3") => Container::Mpeg.mime(),
        None => "application/octet-stream",
    }
}

/// Passes plaintext through, hashing it, and fails at the end if the digest
/// is not the one recorded at ingest.
fn verify_sha256(
    plaintext: impl futures_util::Stream<Item = Result<Bytes, StorageError>> + Send + 'static,
    expected: [u8; 32],
) -> impl futures_util::Stream<Item = Result<Bytes, StorageError>> + Send + 'static {
    let hashing = digest::Context::new(&digest::SHA256);
    futures_util::stream::unfold(
        Some((plaintext.boxed(), hashing)),
        move |state| async move {
            let (mut plaintext, mut hashing) = state?;
            match plaintext.next().await {
                Some(Ok(chunk)) => {
                    hashing.update(&chunk);
                    Some((Ok(chunk), Some((plaintext, hashing))))
                }
                Some(Err(error)) => Some((Err(error), None)),
                None if hashing.finish().as_ref() == expected => None,
                None => Some((
                    Err(StorageError::Integrity(
                        "sha-256 differs from ingest".into(),
                    )),
                    None,
                )),
            }
        },
    )
}
