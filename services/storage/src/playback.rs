//! HTTP playback: `GET /v1/playback/{tenant}/{recording}?exp=…&sig=…` with
//! `Range` support, so a browser `<audio>` element can seek in an encrypted
//! recording. The URL is the authorisation (see `callvault_auth::signed_url`):
//! the gateway signs it after its own role and tenant checks.
//!
//! The gateway also signs the link's [`PlaybackTerms`]: the recording's
//! byte rate (`byte_rate=…`, from the catalogue) and whether it is a
//! download (`as=download`, answered with `Content-Disposition:
//! attachment`). Every GET that sends audio is metered: one
//! `recording.served` with the bytes that went out, written to the outbox
//! when the body ends or is dropped. A link signed without a byte rate
//! (before the gateway signed one, or storage's own reads for disclosure
//! bundles) is served but not metered: its seconds can't be told.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use callvault_auth::signed_url::{Grant, Operation, PlaybackTerms, UrlError, UrlSigner};
use callvault_contracts::events::{RecordingServedV1, ServedAs};
use callvault_contracts::media::Container;
use callvault_contracts::{RecordingId, TenantId};
use chrono::{SubsecRound, Utc};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;
use tracing::{debug, error, warn};

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
pub fn playback_path(
    signer: &UrlSigner,
    tenant: TenantId,
    recording: RecordingId,
    expires_at: u64,
) -> String {
    let grant = Grant {
        operation: Operation::Playback,
        tenant: tenant.to_string(),
        recording: recording.to_string(),
        expires_at,
    };
    format!("/v1/playback/{tenant}/{recording}?{}", signer.query(&grant))
}

/// Text fields, read by hand: a malformed query gets this endpoint's JSON
/// answer rather than the framework's plain-text 400.
#[derive(Deserialize)]
struct Signature {
    exp: Option<String>,
    sig: Option<String>,
    /// The signed [`PlaybackTerms`], when the link has them.
    byte_rate: Option<String>,
    #[serde(rename = "as")]
    served_as: Option<String>,
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

/// Reads a `Range` header (RFC 9110 §14, parsed by `http_range_header`)
/// and serves one `bytes` range (`a-b`, `a-` or `-n`). A header this server
/// does not take — another unit, several ranges, a malformed range — is
/// ignored and the whole body is served, as the RFC allows; a well-formed
/// range that selects nothing of the body is unsatisfiable.
pub fn parse_range(value: Option<&str>, len: u64) -> RangeRequest {
    let Some(value) = value else {
        return RangeRequest::Whole;
    };
    // One range at most: a player asks for one, and a multipart/byteranges
    // body isn't worth its weight here. A second makes the parse fail.
    let Ok(ranges) =
        http_range_header::parse_range_header_with_max_ranges(value.trim(), NonZeroUsize::MIN)
    else {
        return RangeRequest::Whole;
    };
    match ranges.validate(len).as_deref() {
        // Validated: `end` < `len`, so `end + 1` can't overflow.
        Ok([range]) => RangeRequest::Part(*range.start()..*range.end() + 1),
        // A suffix range of an empty body: there is no byte to send.
        Ok([]) => RangeRequest::Unsatisfiable,
        // Several ranges: not served (the parse already refuses a second).
        Ok(_) => RangeRequest::Whole,
        Err(_) => RangeRequest::Unsatisfiable,
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
    state: web::Data<PlaybackState>,
) -> HttpResponse {
    let (tenant_raw, recording_raw) = path.into_inner();
    let (Ok(tenant), Ok(recording)) = (
        tenant_raw.parse::<TenantId>(),
        recording_raw.parse::<RecordingId>(),
    ) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "tenant and recording must be uuids",
        );
    };
    let Ok(query) = web::Query::<Signature>::from_query(request.query_string()) else {
        return json_error(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            "the playback url is malformed",
        );
    };
    let (Some(expires_at), Some(signature)) = (query.exp.as_deref(), query.sig.as_deref()) else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "unsigned_url",
            "playback urls must be signed",
        );
    };
    let Ok(expires_at) = expires_at.parse::<u64>() else {
        return json_error(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            "the playback url signature is invalid",
        );
    };
    let Ok(terms) =
        PlaybackTerms::from_query(query.byte_rate.as_deref(), query.served_as.as_deref())
    else {
        return json_error(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            "the playback url is malformed",
        );
    };
    let grant = terms.grant(&tenant.to_string(), &recording.to_string(), expires_at);
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

    // GET and HEAD alike: the object's length, header, key commitment and
    // the first frame the response needs are checked before the status
    // line goes out, so a damaged recording is a 500 with a code, never a
    // 200 cut off mid-body, and HEAD never promises what GET refuses.
    let plaintext = match state.store.read(tenant, recording, range.clone()).await {
        Ok(plaintext) => plaintext,
        Err(error) => return storage_error(&error),
    };
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::CONTENT_TYPE, plaintext.media_type));
    if let Some(range) = &range {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", range.start, range.end - 1, info.size),
        ));
    }
    if terms.download {
        response.insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{recording}.{}\"",
                extension(plaintext.media_type)
            ),
        ));
    }
    let body_len = range.as_ref().map_or(info.size, |r| r.end - r.start);
    response.no_chunking(body_len);
    if request.method() == actix_web::http::Method::HEAD || body_len == 0 {
        // A sized body that is never polled: actix sends its length as
        // Content-Length and, for HEAD, no bytes. Nothing is served, so
        // nothing is metered.
        return response.streaming(futures_util::stream::empty::<
            Result<bytes::Bytes, actix_web::Error>,
        >());
    }
    let body = match terms.byte_rate {
        Some(byte_rate) => Metered::new(
            plaintext.body,
            Meter {
                store: state.store.clone(),
                tenant,
                recording,
                served_as: if terms.download {
                    ServedAs::Download
                } else {
                    ServedAs::Playback
                },
                byte_rate,
            },
        )
        .boxed(),
        None => {
            debug!(%tenant, %recording, "playback not metered: the link carries no byte rate");
            plaintext.body
        }
    };
    // A failure further on (a later frame, the digest at the end) can only
    // abort the connection: the status line is gone, and a short body is
    // what the client must see. It is raised on the integrity alarm.
    response.streaming(body.map_err(|error| {
        error!(code = error.code(), %error, "playback stream failed");
        actix_web::error::ErrorInternalServerError(error.code())
    }))
}

/// The file extension a download of `media_type` is saved with.
fn extension(media_type: &str) -> &'static str {
    match Container::from_content_type(media_type) {
        Some(Container::Wav) => "wav",
        Some(Container::Mpeg) => "mp3",
        Some(Container::Flac) => "flac",
        Some(Container::Ogg) => "ogg",
        None => "bin",
    }
}

/// Who is served what, for the `recording.served` of one response.
struct Meter {
    store: Arc<RecordingStore>,
    tenant: TenantId,
    recording: RecordingId,
    served_as: ServedAs,
    byte_rate: u64,
}

/// A response body that counts the audio bytes it hands to the server and,
/// once, when it ends, fails or is dropped (the client went away), writes
/// the response's `recording.served` to the outbox on a task of its own.
///
/// The server polls a body only as its socket drains, so a response cut
/// short counts what went out, give or take the chunk (one frame, 64 KiB
/// at most) waiting in the server's write buffer when the connection died.
/// Writing the event never fails the response: a failure is logged.
struct Metered {
    body: BoxStream<'static, Result<Bytes, StorageError>>,
    sent: u64,
    meter: Option<Meter>,
}

impl Metered {
    fn new(body: BoxStream<'static, Result<Bytes, StorageError>>, meter: Meter) -> Self {
        Self {
            body,
            sent: 0,
            meter: Some(meter),
        }
    }

    /// Writes the event, the first time only, if any byte went out.
    fn finish(&mut self) {
        let Some(meter) = self.meter.take() else {
            return;
        };
        if self.sent == 0 {
            return;
        }
        let Meter {
            store,
            tenant,
            recording,
            served_as,
            byte_rate,
        } = meter;
        let event = RecordingServedV1 {
            tenant_id: tenant,
            recording_id: recording,
            served_as,
            bytes: self.sent,
            byte_rate,
            served_at: Utc::now().trunc_subsecs(6),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            warn!(%tenant, %recording, bytes = event.bytes, "served audio not metered: no runtime to write it");
            return;
        };
        runtime.spawn(async move {
            if let Err(error) = store.record_served(&event).await {
                warn!(
                    %tenant,
                    %recording,
                    bytes = event.bytes,
                    code = error.code(),
                    %error,
                    "served audio not metered"
                );
            }
        });
    }
}

impl Stream for Metered {
    type Item = Result<Bytes, StorageError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this.body.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => this.sent += chunk.len() as u64,
            // The end, or a failure that aborts the response: what went
            // out so far is all that will.
            Poll::Ready(Some(Err(_)) | None) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish();
    }
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

    #[test]
    fn rfc_9110_forms_beyond_the_browsers() {
        // The unit is case-insensitive; an empty list element is allowed.
        for header in ["BYTES=10-19", "Bytes=10-19", "bytes=10-19,", "bytes= 10-19"] {
            assert_eq!(
                parse_range(Some(header), 100),
                RangeRequest::Part(10..20),
                "{header}"
            );
        }
        // Positions past u64 are past the end: clamped like any other.
        assert_eq!(
            parse_range(Some("bytes=0-99999999999999999999999"), 100),
            RangeRequest::Part(0..100)
        );
        assert_eq!(
            parse_range(Some("bytes=-99999999999999999999999"), 100),
            RangeRequest::Part(0..100)
        );
        // The last byte alone, and one byte bodies.
        assert_eq!(
            parse_range(Some("bytes=99-99"), 100),
            RangeRequest::Part(99..100)
        );
        assert_eq!(parse_range(Some("bytes=-1"), 1), RangeRequest::Part(0..1));
        // An empty body: even a suffix range selects nothing.
        assert_eq!(
            parse_range(Some("bytes=-5"), 0),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range(None, 0), RangeRequest::Whole);
    }

    #[test]
    fn malformed_or_multiple_ranges_are_ignored() {
        for ignored in [
            // No whitespace or sign inside a range.
            "bytes=10 - 19",
            "bytes=+5-9",
            "bytes=0x10-0x20",
            // Several ranges, even when only one is satisfiable.
            "bytes=200-300,0-1",
            "bytes=0-1,0-1",
            "bytes=,,",
            "bytes=",
            "",
        ] {
            assert_eq!(
                parse_range(Some(ignored), 100),
                RangeRequest::Whole,
                "{ignored}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever a client sends, a part served is a non-empty slice of
        /// the body.
        #[test]
        fn a_part_is_always_inside_the_body(
            header in "(bytes|BYTES|items)=[0-9 ,+-]{0,12}|.{0,24}",
            len in 0u64..1_000,
        ) {
            if let RangeRequest::Part(range) = parse_range(Some(&header), len) {
                proptest::prop_assert!(range.start < range.end, "{header}: {range:?}");
                proptest::prop_assert!(range.end <= len, "{header}: {range:?}");
            }
        }
    }
}
