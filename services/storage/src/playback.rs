//! HTTP playback: `GET /v1/playback/{tenant}/{recording}?exp=…&sig=…` with
//! `Range` support, so a browser `<audio>` element can seek in an encrypted
//! recording. The URL is the authorisation (see `callvault_auth::signed_url`):
//! the gateway signs it after its own role and tenant checks.

use std::ops::Range;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use callvault_auth::signed_url::{Grant, Operation, UrlError, UrlSigner};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::json;
use tracing::{debug, error};
use uuid::Uuid;

use crate::{RecordingStore, StorageError};

pub struct PlaybackState {
    pub store: Arc<RecordingStore>,
    pub signer: UrlSigner,
}

/// Mounts the playback routes on an actix-web app or scope.
pub fn configure(state: web::Data<PlaybackState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config.app_data(state).service(
            web::resource("/v1/playback/{tenant}/{recording}")
                .route(web::get().to(play))
                .route(web::head().to(play)),
        );
    }
}

/// The path (with query) of a signed playback URL, for the gateway.
pub fn playback_path(signer: &UrlSigner, tenant: Uuid, recording: Uuid, expires_at: u64) -> String {
    let grant = Grant {
        operation: Operation::Playback,
        tenant: tenant.to_string(),
        recording: recording.to_string(),
        expires_at,
    };
    format!("/v1/playback/{tenant}/{recording}?{}", signer.query(&grant))
}

#[derive(Deserialize)]
struct Signature {
    exp: Option<u64>,
    sig: Option<String>,
}

fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": { "code": code, "message": message } }))
}

fn storage_error(error: &StorageError) -> HttpResponse {
    let status = match error {
        StorageError::NotFound => StatusCode::NOT_FOUND,
        StorageError::Shredded { .. } => StatusCode::GONE,
        StorageError::AlreadyExists => StatusCode::CONFLICT,
        StorageError::InvalidRange { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        StorageError::Body(_) | StorageError::Key(_) => StatusCode::BAD_REQUEST,
        StorageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        StorageError::Integrity(_) | StorageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        error!(code = error.code(), %error, "playback failed");
    }
    // Internal details stay in the log; clients get the code and a summary.
    let message = match error {
        StorageError::Integrity(_) => "the recording failed its integrity check".to_owned(),
        StorageError::Internal(_) | StorageError::Unavailable(_) => "try again later".to_owned(),
        other => other.to_string(),
    };
    json_error(status, error.code(), &message)
}

/// What the `Range` header asks for, once the length is known.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    Whole,
    Part(Range<u64>),
    Unsatisfiable,
}

/// Parses a `Range` header per RFC 9110 §14: one `bytes` range (`a-b`, `a-`
/// or `-n`). A header this server does not understand — another unit,
/// several ranges, garbage — is ignored and the whole body is served, as the
/// RFC requires.
pub fn parse_range(value: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // Suffix: the last n bytes.
        (true, false) => match parse(last) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Part(len.saturating_sub(n)..len),
            None => RangeRequest::Whole,
        },
        (false, true) => match parse(first) {
            Some(start) if start >= len => RangeRequest::Unsatisfiable,
            Some(start) => RangeRequest::Part(start..len),
            None => RangeRequest::Whole,
        },
        (false, false) => match (parse(first), parse(last)) {
            (Some(start), Some(end)) if start > end => RangeRequest::Whole,
            (Some(start), Some(_)) if start >= len => RangeRequest::Unsatisfiable,
            (Some(start), Some(end)) => RangeRequest::Part(start..end.saturating_add(1).min(len)),
            _ => RangeRequest::Whole,
        },
        (true, true) => RangeRequest::Whole,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn play(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<Signature>,
    state: web::Data<PlaybackState>,
) -> HttpResponse {
    let (tenant_raw, recording_raw) = path.into_inner();
    let (Ok(tenant), Ok(recording)) = (
        Uuid::parse_str(&tenant_raw),
        Uuid::parse_str(&recording_raw),
    ) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "tenant and recording must be uuids",
        );
    };
    let (Some(expires_at), Some(signature)) = (query.exp, query.sig.as_deref()) else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "unsigned_url",
            "playback urls must be signed",
        );
    };
    let grant = Grant {
        operation: Operation::Playback,
        tenant: tenant.to_string(),
        recording: recording.to_string(),
        expires_at,
    };
    match state.signer.verify(&grant, signature, now()) {
        Ok(()) => {}
        Err(UrlError::Expired) => {
            return json_error(
                StatusCode::FORBIDDEN,
                "url_expired",
                "the playback url has expired",
            );
        }
        Err(UrlError::BadSignature | UrlError::Malformed(_)) => {
            return json_error(
                StatusCode::FORBIDDEN,
                "invalid_signature",
                "the playback url signature is invalid",
            );
        }
    }

    let info = match state.store.info(tenant, recording).await {
        Ok(info) => info,
        Err(error) => return storage_error(&error),
    };
    let range_header = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let wanted = parse_range(range_header, info.size);
    let (status, range) = match wanted {
        RangeRequest::Whole => (StatusCode::OK, None),
        RangeRequest::Part(range) => (StatusCode::PARTIAL_CONTENT, Some(range)),
        RangeRequest::Unsatisfiable => {
            let mut response = json_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                &format!("the recording is {} bytes", info.size),
            );
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", info.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
    };
    debug!(%tenant, %recording, ?range, "playback");

    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"));
    if let Some(range) = &range {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", range.start, range.end - 1, info.size),
        ));
    }
    let body_len = range.as_ref().map_or(info.size, |r| r.end - r.start);
    if request.method() == actix_web::http::Method::HEAD || body_len == 0 {
        // A sized body that is never polled: actix sends its length as
        // Content-Length and, for HEAD, no bytes.
        response.no_chunking(body_len);
        return response.streaming(futures_util::stream::empty::<
            Result<bytes::Bytes, actix_web::Error>,
        >());
    }
    let plaintext = match state.store.read(tenant, recording, range).await {
        Ok(plaintext) => plaintext,
        Err(error) => return storage_error(&error),
    };
    response.no_chunking(body_len);
    // A failure mid-stream (integrity, backend) aborts the connection: the
    // status line is gone, and a short body is what the client must see.
    response.streaming(plaintext.body.map_err(|error| {
        error!(code = error.code(), %error, "playback stream failed");
        actix_web::error::ErrorInternalServerError(error.code())
    }))
}

#[cfg(test)]
mod tests {
    use super::{RangeRequest, parse_range};

    #[test]
    fn parses_the_range_forms_browsers_send() {
        assert_eq!(
            parse_range(Some("bytes=0-"), 100),
            RangeRequest::Part(0..100)
        );
        assert_eq!(
            parse_range(Some("bytes=10-19"), 100),
            RangeRequest::Part(10..20)
        );
        assert_eq!(
            parse_range(Some("bytes=90-500"), 100),
            RangeRequest::Part(90..100)
        );
        assert_eq!(
            parse_range(Some("bytes=-10"), 100),
            RangeRequest::Part(90..100)
        );
        assert_eq!(
            parse_range(Some("bytes=-500"), 100),
            RangeRequest::Part(0..100)
        );
        assert_eq!(parse_range(None, 100), RangeRequest::Whole);
    }

    #[test]
    fn unsatisfiable_and_ignored_ranges() {
        assert_eq!(
            parse_range(Some("bytes=100-"), 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=100-200"), 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-0"), 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            RangeRequest::Unsatisfiable
        );
        for ignored in [
            "items=0-1",
            "bytes=5-1",
            "bytes=0-1,5-6",
            "bytes=x-y",
            "bytes=-",
            "garbage",
        ] {
            assert_eq!(
                parse_range(Some(ignored), 100),
                RangeRequest::Whole,
                "{ignored}"
            );
        }
    }
}
