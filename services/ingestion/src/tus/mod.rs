//! Resumable uploads: the tus 1.0 protocol (core, creation,
//! creation-with-upload, termination, expiration and checksum), for
//! recorders whose network drops mid-upload. docs/integrations.md §5.
//!
//! An upload is announced with its length and, in `Upload-Metadata`, its
//! call metadata (`call`, the same JSON as the `Callvault-Call` header) and
//! audio type (`filetype`). Its bytes arrive in PATCHes at the offset the
//! upload stands at, each sealed to disk as it arrives (`staging`) and
//! committed once synced, so a restarted process answers HEAD with every
//! byte it acknowledged. When the last byte is in, the staged parts are
//! read back and go through exactly the path a `POST /v1/recordings` body
//! takes: the recording policy, the idempotency claim, the probe, storage,
//! the outbox.

mod entity;
mod staging;
mod store;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue, HttpDate};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use callvault_contracts::RecordingId;
use callvault_contracts::call::CallMetadata;
use callvault_contracts::media::Container;
use callvault_contracts::metadata_api::ApiKeyGrant;
use callvault_contracts::recording_policy_api::UploadDecision;
use chrono::Utc;
use futures_util::StreamExt;
use sea_orm::{DatabaseConnection, DbErr};
use tracing::{info, warn};
use uuid::Uuid;

use crate::body::{Body, BodyLength};
use crate::call;
use crate::error::IngestError;
use crate::headers::authenticate;
use crate::state::IngestionState;
use crate::upload::{Accepted, NotStoredReceipt, UploadReceipt, admit, decide};
pub use staging::{StagingDir, StagingKeys};

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
const PATCH_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// The response header naming the stored recording, once the last byte is
/// in (on that PATCH and on every HEAD after it).
pub const RECORDING_HEADER: &str = "callvault-recording-id";

/// The resumable uploads of one ingestion process.
pub struct Tus {
    dir: StagingDir,
    keys: StagingKeys,
    /// An upload left alone this long expires (each PATCH moves it).
    expiry: Duration,
    /// Uploads a request is writing now: one at a time each.
    busy: Mutex<HashSet<Uuid>>,
}

impl Tus {
    /// `dir` holds the staged parts (on the process's data directory);
    /// `root` derives their keys (`secrets.pii`).
    pub fn new(dir: impl Into<PathBuf>, root: &[u8; 32], expiry: Duration) -> Self {
        Tus {
            dir: StagingDir::new(dir),
            keys: StagingKeys::derive(root),
            expiry,
            busy: Mutex::default(),
        }
    }

    fn lock(&self, upload: Uuid) -> Result<Busy<'_>, IngestError> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if !busy.insert(upload) {
            return Err(IngestError::UploadLocked);
        }
        Ok(Busy { tus: self, upload })
    }

    fn expires_at(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.expiry).unwrap_or(chrono::Duration::days(1))
    }

    /// Removes expired uploads (rows and parts) and part directories no row
    /// knows: the sweep timer's pass. How many it removed.
    pub async fn sweep(&self, db: &DatabaseConnection) -> Result<usize, DbErr> {
        let mut removed = 0;
        loop {
            let expired = store::expired(db, Utc::now(), 100).await?;
            if expired.is_empty() {
                break;
            }
            for upload in expired {
                let Ok(_busy) = self.lock(upload) else {
                    continue;
                };
                if let Err(error) = self.dir.remove(upload).await {
                    warn!(%upload, %error, "could not remove an expired upload's parts");
                    continue;
                }
                store::delete(db, upload).await?;
                removed += 1;
            }
        }
        let known: HashSet<Uuid> = store::all_ids(db).await?.into_iter().collect();
        match self.dir.orphans(&|upload| known.contains(&upload)).await {
            Ok(orphans) => {
                for upload in orphans {
                    if self.dir.remove(upload).await.is_ok() {
                        removed += 1;
                    }
                }
            }
            Err(error) => warn!(%error, "could not list the staging directory"),
        }
        if removed > 0 {
            info!(removed, "expired resumable uploads removed");
        }
        Ok(removed)
    }
}

struct Busy<'a> {
    tus: &'a Tus,
    upload: Uuid,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.tus
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.upload);
    }
}

/// Mounts the tus routes (only when the state has a [`Tus`]).
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/v1/uploads")
                .route(web::method(actix_web::http::Method::OPTIONS).to(options))
                .route(web::post().to(create)),
        )
        .service(
            web::resource("/v1/uploads/{id}")
                .route(web::head().to(head))
                .route(web::patch().to(patch))
                .route(web::delete().to(terminate)),
        );
}

fn tus(state: &IngestionState) -> Result<&Tus, IngestError> {
    state.tus.as_ref().ok_or(IngestError::UploadNotFound)
}

/// Every answer but OPTIONS' carries the protocol version.
fn answer(result: Result<HttpResponse, IngestError>) -> HttpResponse {
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            let mut response = error.to_response();
            if matches!(error, IngestError::TusVersion) {
                response
                    .headers_mut()
                    .insert(name("tus-version"), HeaderValue::from_static(TUS_VERSION));
            }
            response
        }
    };
    response
        .headers_mut()
        .insert(name("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
    response
}

fn name(value: &'static str) -> header::HeaderName {
    header::HeaderName::from_static(value)
}

fn check_version(headers: &HeaderMap) -> Result<(), IngestError> {
    match headers.get("tus-resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(IngestError::TusVersion),
    }
}

fn number(headers: &HeaderMap, header: &'static str) -> Result<u64, IngestError> {
    headers
        .get(header)
        .ok_or_else(|| IngestError::InvalidHeader(format!("{header} is required")))?
        .to_str()
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| IngestError::InvalidHeader(format!("{header} must be a number of bytes")))
}

fn http_date(at: chrono::DateTime<Utc>) -> String {
    HttpDate::from(SystemTime::from(at)).to_string()
}

fn upload_id(path: &web::Path<String>) -> Result<Uuid, IngestError> {
    Uuid::try_parse(path.as_str()).map_err(|_| IngestError::UploadNotFound)
}

async fn options(state: web::Data<IngestionState>) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    response
        .insert_header(("tus-resumable", TUS_VERSION))
        .insert_header(("tus-version", TUS_VERSION))
        .insert_header(("tus-extension", TUS_EXTENSIONS))
        .insert_header(("tus-max-size", state.max_upload_bytes.to_string()))
        .insert_header(("tus-checksum-algorithm", "sha1,sha256"));
    response.finish()
}

/// `Upload-Metadata`: `key base64,key base64…`; a key may come without a
/// value.
fn upload_metadata(headers: &HeaderMap) -> Result<Vec<(String, Vec<u8>)>, IngestError> {
    let Some(raw) = headers.get("upload-metadata") else {
        return Err(IngestError::InvalidMetadata(
            "upload-metadata is required, with the call metadata as `call`".into(),
        ));
    };
    let raw = raw
        .to_str()
        .map_err(|_| IngestError::InvalidHeader("upload-metadata must be ascii".into()))?;
    raw.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
            let value = STANDARD.decode(value.trim()).map_err(|_| {
                IngestError::InvalidHeader(format!("upload-metadata {key}: not base64"))
            })?;
            Ok((key.to_owned(), value))
        })
        .collect()
}

async fn create(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<IngestionState>,
) -> HttpResponse {
    answer(creating(&request, payload.boxed_local(), &state).await)
}

async fn creating(
    request: &HttpRequest,
    payload: Body,
    state: &IngestionState,
) -> Result<HttpResponse, IngestError> {
    let headers = request.headers();
    check_version(headers)?;
    let tus = tus(state)?;
    let grant = authenticate(headers, state).await?;
    callvault_telemetry::http::record_tenant(request, &grant.tenant_id);
    if headers.contains_key("upload-defer-length") {
        return Err(IngestError::InvalidHeader(
            "upload-defer-length is not supported: give upload-length".into(),
        ));
    }
    let length = number(headers, "upload-length")?;
    if length == 0 {
        return Err(IngestError::InvalidHeader(
            "upload-length must be above 0".into(),
        ));
    }
    if length > state.max_upload_bytes {
        return Err(IngestError::TooLarge {
            length,
            limit: state.max_upload_bytes,
        });
    }
    let metadata = upload_metadata(headers)?;
    let value = |key: &str| metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let call_json = value("call").ok_or_else(|| {
        IngestError::InvalidMetadata(
            "upload-metadata must carry the call metadata as `call`".into(),
        )
    })?;
    let call: CallMetadata =
        call::parse(call_json).map_err(|error| IngestError::InvalidMetadata(error.0))?;
    let content_type = value("filetype")
        .or_else(|| value("content-type"))
        .and_then(|v| std::str::from_utf8(v).ok())
        .filter(|v| Container::from_content_type(v).is_some())
        .ok_or_else(|| {
            IngestError::UnsupportedMedia(
                "upload-metadata filetype must be audio/wav, audio/mpeg, audio/flac or audio/ogg"
                    .into(),
            )
        })?
        .to_owned();
    // The policy first: a call it won't keep gets no upload at all.
    match decide(state, &grant, RecordingId::new(), &call).await? {
        UploadDecision::Keep { .. } => {}
        UploadDecision::Refuse { reason } => return Err(IngestError::NotRecorded { reason }),
        UploadDecision::MetadataOnly { reason } => {
            return Ok(HttpResponse::Ok().json(NotStoredReceipt {
                tenant_id: grant.tenant_id,
                stored: false,
                reason,
            }));
        }
    }

    let id = Uuid::new_v4();
    let (seal, wrapped_key) = tus.keys.new_upload(id).map_err(internal)?;
    let call_json = serde_json::to_vec(&call).map_err(|e| IngestError::Internal(e.to_string()))?;
    let row = entity::Model {
        id,
        tenant_id: grant.tenant_id.0,
        content_type,
        upload_length: store::signed(length),
        upload_offset: 0,
        sealed_call: seal.seal_call(&call_json).map_err(internal)?,
        wrapped_key,
        receipt: None,
        created_at: Utc::now(),
        expires_at: tus.expires_at(),
    };
    store::insert(state.uploads.connection(), row.clone())
        .await
        .map_err(database)?;
    info!(tenant = %grant.tenant_id, upload = %id, length, "resumable upload created");
    let location = format!("/v1/uploads/{}", id.simple());
    let with_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == PATCH_CONTENT_TYPE);
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, location));
    if !with_body {
        response
            .insert_header(("upload-offset", "0"))
            .insert_header(("upload-expires", http_date(row.expires_at)));
        return Ok(response.finish());
    }
    // creation-with-upload: the first bytes come with the creation.
    let _busy = tus.lock(id)?;
    let progress = write(state, tus, &grant, row, headers, payload).await?;
    progress.headers(&mut response);
    Ok(response.finish())
}

async fn head(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<IngestionState>,
) -> HttpResponse {
    match heading(&request, &path, &state).await {
        Ok(response) => answer(Ok(response)),
        // An answer to HEAD has no body, so not its type either.
        Err(error) => {
            let mut response = HttpResponse::build(error.status());
            response.insert_header(("tus-resumable", TUS_VERSION));
            if matches!(error, IngestError::TusVersion) {
                response.insert_header(("tus-version", TUS_VERSION));
            }
            response.finish()
        }
    }
}

async fn heading(
    request: &HttpRequest,
    path: &web::Path<String>,
    state: &IngestionState,
) -> Result<HttpResponse, IngestError> {
    check_version(request.headers())?;
    tus(state)?;
    let id = upload_id(path)?;
    let grant = authenticate(request.headers(), state).await?;
    let row = current(state, &grant, id).await?;
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("upload-offset", row.upload_offset.to_string()))
        .insert_header(("upload-length", row.upload_length.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("upload-expires", http_date(row.expires_at)));
    if let Some(receipt) = &row.receipt {
        let receipt: UploadReceipt =
            serde_json::from_str(receipt).map_err(|e| IngestError::Internal(e.to_string()))?;
        response.insert_header((RECORDING_HEADER, receipt.recording_id.to_string()));
    }
    Ok(response.finish())
}

async fn patch(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<IngestionState>,
) -> HttpResponse {
    answer(patching(&request, &path, payload.boxed_local(), &state).await)
}

async fn patching(
    request: &HttpRequest,
    path: &web::Path<String>,
    payload: Body,
    state: &IngestionState,
) -> Result<HttpResponse, IngestError> {
    let headers = request.headers();
    check_version(headers)?;
    let tus = tus(state)?;
    let id = upload_id(path)?;
    let grant = authenticate(headers, state).await?;
    callvault_telemetry::http::record_tenant(request, &grant.tenant_id);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(PATCH_CONTENT_TYPE) {
        return Err(IngestError::UnsupportedMedia(format!(
            "a patch's content-type must be {PATCH_CONTENT_TYPE}"
        )));
    }
    let offset = number(headers, "upload-offset")?;
    let _busy = tus.lock(id)?;
    // Read under the lock: the offset can't move under us now.
    let row = current(state, &grant, id).await?;
    let at = u64::try_from(row.upload_offset).unwrap_or_default();
    if offset != at {
        return Err(IngestError::OffsetMismatch {
            expected: at,
            got: offset,
        });
    }
    let progress = write(state, tus, &grant, row, headers, payload).await?;
    let mut response = HttpResponse::NoContent();
    progress.headers(&mut response);
    Ok(response.finish())
}

async fn terminate(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<IngestionState>,
) -> HttpResponse {
    answer(terminating(&request, &path, &state).await)
}

async fn terminating(
    request: &HttpRequest,
    path: &web::Path<String>,
    state: &IngestionState,
) -> Result<HttpResponse, IngestError> {
    check_version(request.headers())?;
    let tus = tus(state)?;
    let id = upload_id(path)?;
    let grant = authenticate(request.headers(), state).await?;
    let _busy = tus.lock(id)?;
    store::find(state.uploads.connection(), grant.tenant_id.0, id)
        .await
        .map_err(database)?
        .ok_or(IngestError::UploadNotFound)?;
    tus.dir.remove(id).await.map_err(internal)?;
    store::delete(state.uploads.connection(), id)
        .await
        .map_err(database)?;
    info!(tenant = %grant.tenant_id, upload = %id, "resumable upload terminated");
    Ok(HttpResponse::NoContent().finish())
}

/// The tenant's upload, not expired.
async fn current(
    state: &IngestionState,
    grant: &ApiKeyGrant,
    id: Uuid,
) -> Result<entity::Model, IngestError> {
    let row = store::find(state.uploads.connection(), grant.tenant_id.0, id)
        .await
        .map_err(database)?
        .ok_or(IngestError::UploadNotFound)?;
    if row.expires_at < Utc::now() {
        return Err(IngestError::UploadExpired);
    }
    Ok(row)
}

/// Where an upload stands after a request.
struct Progress {
    offset: u64,
    expires_at: chrono::DateTime<Utc>,
    recording: Option<String>,
}

impl Progress {
    fn headers(&self, response: &mut actix_web::HttpResponseBuilder) {
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
async fn write(
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

/// Marks an upload stored, in the transaction that commits its recording.
pub(crate) async fn finish_in<C: sea_orm::ConnectionTrait>(
    conn: &C,
    upload: Uuid,
    receipt: &str,
) -> Result<(), DbErr> {
    store::finish(conn, upload, receipt).await
}

fn internal(error: impl std::fmt::Display) -> IngestError {
    IngestError::Internal(format!("resumable upload: {error}"))
}

fn database(error: DbErr) -> IngestError {
    IngestError::Unavailable(format!("ingestion database: {error}"))
}
