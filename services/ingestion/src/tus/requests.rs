//! The tus requests: checking the protocol's headers, then creating,
//! describing, extending and terminating uploads (`receiving` takes their
//! bytes).

use std::time::SystemTime;

use actix_web::http::header::{self, HeaderMap, HeaderValue, HttpDate};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use callvault_contracts::RecordingId;
use callvault_contracts::call::CallMetadata;
use callvault_contracts::media::Container;
use callvault_contracts::metadata_api::ApiKeyGrant;
use callvault_contracts::recording_policy_api::UploadDecision;
use chrono::Utc;
use futures_util::StreamExt;
use tracing::info;
use uuid::Uuid;

use crate::body::Body;
use crate::call;
use crate::error::IngestError;
use crate::headers::authenticate;
use crate::state::IngestionState;
use crate::upload::{NotStoredReceipt, UploadReceipt, decide};

use super::receiving::write;
use super::{
    PATCH_CONTENT_TYPE, RECORDING_HEADER, TUS_EXTENSIONS, TUS_VERSION, Tus, database, entity,
    internal, store,
};

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

pub(super) fn http_date(at: chrono::DateTime<Utc>) -> String {
    HttpDate::from(SystemTime::from(at)).to_string()
}

fn upload_id(path: &web::Path<String>) -> Result<Uuid, IngestError> {
    Uuid::try_parse(path.as_str()).map_err(|_| IngestError::UploadNotFound)
}

pub(super) async fn options(state: web::Data<IngestionState>) -> HttpResponse {
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

pub(super) async fn create(
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

pub(super) async fn head(
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

pub(super) async fn patch(
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

pub(super) async fn terminate(
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
