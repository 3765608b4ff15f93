//! A request's bytes: sealed to a part file and committed once synced, or,
//! for a request carrying the whole upload, stored as they arrive; then the
//! recording, once the last byte is in.

use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use callvault_contracts::call::CallMetadata;
use callvault_contracts::media::Container;
use callvault_contracts::metadata_api::ApiKeyGrant;
use chrono::Utc;
use futures_util::StreamExt;
use tracing::{info, warn};
use uuid::Uuid;

use crate::body::{Body, BodyLength};
use crate::error::IngestError;
use crate::state::IngestionState;
use crate::upload::{Accepted, UploadReceipt, admit};

use super::requests::http_date;
use super::staging::{self};
use super::{RECORDING_HEADER, Tus, database, entity, internal, store};

/// Where an upload stands after a request.
pub(super) struct Progress {
    offset: u64,
    expires_at: chrono::DateTime<Utc>,
    recording: Option<String>,
}

impl Progress {
    pub(super) fn headers(&self, response: &mut actix_web::HttpResponseBuilder) {
        response
            .insert_header(("upload-offset", self.offset.to_string()))
            .insert_header(("upload-expires", http_date(self.expires_at)));
        if let Some(recording) = &self.recording {
            response.insert_header((RECORDING_HEADER, recording.clone()));
        }
    }
}

/// `Upload-Checksum: <algorithm> <base64 digest>` of this request's bytes.
fn checksum(
    headers: &HeaderMap,
) -> Result<Option<(aws_lc_rs::digest::Context, Vec<u8>)>, IngestError> {
    let Some(raw) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let invalid = || {
        IngestError::InvalidHeader(
            "upload-checksum must be `sha1 <base64>` or `sha256 <base64>`".into(),
        )
    };
    let (algorithm, digest) = raw
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .ok_or_else(invalid)?;
    let algorithm = match algorithm {
        "sha1" => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        "sha256" => &aws_lc_rs::digest::SHA256,
        _ => return Err(invalid()),
    };
    let digest = STANDARD.decode(digest.trim()).map_err(|_| invalid())?;
    Ok(Some((aws_lc_rs::digest::Context::new(algorithm), digest)))
}

/// Takes this request's bytes at the upload's offset: sealed to a part
/// file, committed once synced; then, if they were the last, stores the
/// recording.
pub(super) async fn write(
    state: &IngestionState,
    tus: &Tus,
    grant: &ApiKeyGrant,
    row: entity::Model,
    headers: &HeaderMap,
    mut payload: Body,
) -> Result<Progress, IngestError> {
    let id = row.id;
    let length = u64::try_from(row.upload_length).unwrap_or_default();
    let from = u64::try_from(row.upload_offset).unwrap_or_default();
    if row.receipt.is_some() {
        // Done already: a retry of the last PATCH.
        return Ok(Progress {
            offset: length,
            expires_at: row.expires_at,
            recording: recording_of(&row)?,
        });
    }
    let mut checksum = checksum(headers)?;
    let seal = tus
        .keys
        .open_upload(id, &row.wrapped_key)
        .map_err(internal)?;
    let mut part = tus.dir.start_part(id, from).await.map_err(internal)?;
    let whole = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        == Some(length);
    if from == 0 && whole && checksum.is_none() {
        return write_through(state, tus, grant, &row, payload, &seal, part).await;
    }
    let remaining = length - from;
    let mut failure = None;
    loop {
        let chunk = match tokio::time::timeout(state.idle_timeout, payload.next()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(None) => break,
            // The client went away: what arrived whole is kept (tus lets
            // it resume from there), unless a checksum was to vouch for it.
            Ok(Some(Err(error))) => {
                failure = Some(IngestError::BodyFailed(error.to_string()));
                break;
            }
            Err(_) => {
                failure = Some(IngestError::BodyFailed(format!(
                    "no data for {}s",
                    state.idle_timeout.as_secs()
                )));
                break;
            }
        };
        let received = part.written() + chunk.len() as u64;
        if received > remaining {
            part.discard().await;
            return Err(IngestError::LengthMismatch {
                expected: remaining,
                received,
            });
        }
        if let Some((digest, _)) = &mut checksum {
            digest.update(&chunk);
        }
        if let Err(error) = part.write(&seal, &chunk).await {
            part.discard().await;
            return Err(internal(error));
        }
    }
    if let Some(failure) = &failure
        && (checksum.is_some() || part.written() == 0)
    {
        part.discard().await;
        return Err(IngestError::BodyFailed(failure.to_string()));
    }
    if let Some((digest, expected)) = checksum
        && digest.finish().as_ref() != expected.as_slice()
    {
        part.discard().await;
        return Err(IngestError::ChecksumMismatch);
    }
    let to = if part.written() == 0 {
        part.discard().await;
        from
    } else {
        let to = part.commit().await.map_err(internal)?;
        let expires_at = tus.expires_at();
        let advanced = store::advance(state.uploads.connection(), id, from, to, expires_at)
            .await
            .map_err(database)?;
        if !advanced {
            return Err(IngestError::OffsetMismatch {
                expected: from,
                got: from,
            });
        }
        to
    };
    if let Some(failure) = failure {
        return Err(failure);
    }
    let expires_at = tus.expires_at();
    if to < length {
        return Ok(Progress {
            offset: to,
            expires_at,
            recording: None,
        });
    }
    let receipt = complete(state, tus, grant, &row, length).await?;
    Ok(Progress {
        offset: length,
        expires_at,
        recording: Some(receipt.recording_id.to_string()),
    })
}

/// A request that carries the whole upload: its bytes are staged as usual
/// (for a request cut short, which then leaves what arrived) and, at the
/// same time, stored as the recording, so they are not read back. The
/// staged copy is synced only if it has to be kept.
async fn write_through(
    state: &IngestionState,
    tus: &Tus,
    grant: &ApiKeyGrant,
    row: &entity::Model,
    mut payload: Body,
    seal: &staging::UploadSeal,
    mut part: staging::PartWriter,
) -> Result<Progress, IngestError> {
    let length = u64::try_from(row.upload_length).unwrap_or_default();
    let (call, container) = staged_call(tus, row)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, PayloadError>>(4);
    let body: Body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed_local();
    let storing = admit(
        state,
        grant,
        container,
        BodyLength::Exact(length),
        call,
        body,
        Some(row.id),
    );
    let receiving = async {
        let mut failure = None;
        loop {
            let chunk = match tokio::time::timeout(state.idle_timeout, payload.next()).await {
                Ok(Some(Ok(chunk))) => chunk,
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    failure = Some(error.to_string());
                    break;
                }
                Err(_) => {
                    failure = Some(format!("no data for {}s", state.idle_timeout.as_secs()));
                    break;
                }
            };
            if let Err(error) = part.write(seal, &chunk).await {
                failure = Some(format!("staging: {error}"));
                break;
            }
            // Storage stopped reading: it failed, and says why itself.
            if tx.send(Ok(chunk)).await.is_err() {
                break;
            }
        }
        if let Some(failure) = &failure {
            let _ = tx
                .send(Err(PayloadError::Io(std::io::Error::other(
                    failure.clone(),
                ))))
                .await;
        }
        drop(tx);
        failure
    };
    let (stored, failure) = tokio::join!(storing, receiving);
    let keep = |part: staging::PartWriter| async move {
        // What arrived is acknowledged: synced, then the offset moves.
        if part.written() == 0 {
            part.discard().await;
            return Ok(0);
        }
        let to = part.commit().await.map_err(internal)?;
        store::advance(state.uploads.connection(), row.id, 0, to, tus.expires_at())
            .await
            .map_err(database)?;
        Ok::<u64, IngestError>(to)
    };
    if let Some(failure) = failure {
        keep(part).await?;
        return Err(IngestError::BodyFailed(failure));
    }
    match stored {
        Ok(Accepted::Stored(receipt)) => {
            part.discard().await;
            let expires_at = tus.expires_at();
            // A new recording marked the upload stored as it committed; a
            // replay (the call was in already) did not.
            if receipt.replayed {
                let json = serde_json::to_string(&receipt)
                    .map_err(|e| IngestError::Internal(e.to_string()))?;
                store::finish(state.uploads.connection(), row.id, &json)
                    .await
                    .map_err(database)?;
            }
            if let Err(error) = tus.dir.remove(row.id).await {
                warn!(upload = %row.id, %error, "could not remove a stored upload's parts");
            }
            Ok(Progress {
                offset: length,
                expires_at,
                recording: Some(receipt.recording_id.to_string()),
            })
        }
        Ok(Accepted::MetadataOnly(receipt)) => {
            part.discard().await;
            remove(state, tus, row.id, "kept as metadata only").await;
            Err(IngestError::NotRecorded {
                reason: receipt.reason,
            })
        }
        Err(error) if never_stored(&error) => {
            part.discard().await;
            remove(state, tus, row.id, "refused").await;
            Err(error)
        }
        // A passing failure: every byte is kept, and a PATCH at the
        // upload's length tries again.
        Err(error) => {
            keep(part).await?;
            Err(error)
        }
    }
}

/// An upload that failed so can never be stored: refused, not a conflict
/// with itself nor an outage.
fn never_stored(error: &IngestError) -> bool {
    error.status().is_client_error() && error.status() != StatusCode::CONFLICT
}

async fn remove(state: &IngestionState, tus: &Tus, upload: Uuid, why: &'static str) {
    info!(%upload, why, "resumable upload removed");
    if let Err(error) = tus.dir.remove(upload).await {
        warn!(%upload, %error, "could not remove an upload's parts");
    }
    if let Err(error) = store::delete(state.uploads.connection(), upload).await {
        warn!(%upload, %error, "could not remove an upload");
    }
}

/// The call metadata and audio type the upload was created with.
fn staged_call(tus: &Tus, row: &entity::Model) -> Result<(CallMetadata, Container), IngestError> {
    let seal = tus
        .keys
        .open_upload(row.id, &row.wrapped_key)
        .map_err(internal)?;
    let call: CallMetadata =
        serde_json::from_slice(&seal.open_call(&row.sealed_call).map_err(internal)?)
            .map_err(|e| IngestError::Internal(format!("a staged call: {e}")))?;
    let container = Container::from_content_type(&row.content_type)
        .ok_or_else(|| IngestError::Internal("a staged upload's type".into()))?;
    Ok((call, container))
}

fn recording_of(row: &entity::Model) -> Result<Option<String>, IngestError> {
    row.receipt
        .as_deref()
        .map(|receipt| {
            serde_json::from_str::<UploadReceipt>(receipt)
                .map(|receipt| receipt.recording_id.to_string())
                .map_err(|e| IngestError::Internal(e.to_string()))
        })
        .transpose()
}

/// Every byte is in: the staged parts, read back, are stored as one
/// upload. An upload that can never be stored (bad audio, a call the
/// policy refuses) is removed; one that failed for a passing reason
/// (storage down) stays, and a PATCH at its length retries.
async fn complete(
    state: &IngestionState,
    tus: &Tus,
    grant: &ApiKeyGrant,
    row: &entity::Model,
    length: u64,
) -> Result<UploadReceipt, IngestError> {
    let (call, container) = staged_call(tus, row)?;
    let seal = tus
        .keys
        .open_upload(row.id, &row.wrapped_key)
        .map_err(internal)?;
    let body = tus.dir.read(seal, length);
    match admit(
        state,
        grant,
        container,
        BodyLength::Exact(length),
        call,
        body,
        Some(row.id),
    )
    .await
    {
        Ok(Accepted::Stored(receipt)) => {
            // A new recording marked the upload stored as it committed; a
            // replay (the call was in already) did not.
            if receipt.replayed {
                let json = serde_json::to_string(&receipt)
                    .map_err(|e| IngestError::Internal(e.to_string()))?;
                store::finish(state.uploads.connection(), row.id, &json)
                    .await
                    .map_err(database)?;
            }
            if let Err(error) = tus.dir.remove(row.id).await {
                warn!(upload = %row.id, %error, "could not remove a stored upload's parts");
            }
            Ok(receipt)
        }
        Ok(Accepted::MetadataOnly(receipt)) => {
            remove(state, tus, row.id, "kept as metadata only").await;
            Err(IngestError::NotRecorded {
                reason: receipt.reason,
            })
        }
        Err(error) if never_stored(&error) => {
            remove(state, tus, row.id, "refused").await;
            Err(error)
        }
        Err(error) => Err(error),
    }
}
