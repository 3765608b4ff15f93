//! [`RecordingSink`] over HTTP, for the distributed mode where storage runs
//! in another process: `store` streams the audio as the body of a `PUT` to
//! storage's object endpoint, `discard` sends a `DELETE`, `list_stored` a
//! `GET /v1/objects`, each to a freshly signed URL.
//!
//! Ingestion does not depend on the storage crate (services never import
//! one another), so the URL format is reproduced here from
//! `callvault_storage::upload::{upload_path, discard_path}` and
//! `callvault_storage::listing::list_path`; a test checks they agree.
//!
//! Each request is a client span whose W3C trace context travels in the
//! request's headers, so storage's server span continues the upload's
//! trace. The URL is never recorded: it carries a signature.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use callvault_auth::signed_url::{Grant, Operation, UrlSigner};
use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use futures_util::TryStreamExt;
use reqwest::StatusCode;
use serde::Deserialize;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::sink::{AudioStream, RecordingSink, SinkError, StoredAudio, StoredObject};

/// How long a URL is valid for. Storage checks the expiry only when a
/// request starts, so this bounds the wait for the connection, not the
/// length of an upload.
pub const URL_TTL_SECS: u64 = 60;

/// The path (with query) of a signed upload URL, exactly as storage's
/// `upload::upload_path` builds it: the recording field of the grant is
/// `"<recording>|<key_ref>"`, so the key reference can't be altered.
pub fn upload_path(
    signer: &UrlSigner,
    tenant: TenantId,
    recording: RecordingId,
    key_ref: &str,
    expires_at: u64,
) -> String {
    let grant = Grant {
        operation: Operation::Upload,
        tenant: tenant.to_string(),
        recording: format!("{recording}|{key_ref}"),
        expires_at,
    };
    let key_ref: String = form_urlencoded::byte_serialize(key_ref.as_bytes()).collect();
    format!(
        "/v1/objects/{tenant}/{recording}?key_ref={key_ref}&{}",
        signer.query(&grant)
    )
}

/// The path (with query) of a signed discard URL, exactly as storage's
/// `upload::discard_path` builds it.
pub fn discard_path(
    signer: &UrlSigner,
    tenant: TenantId,
    recording: RecordingId,
    expires_at: u64,
) -> String {
    let grant = Grant {
        operation: Operation::Discard,
        tenant: tenant.to_string(),
        recording: recording.to_string(),
        expires_at,
    };
    format!("/v1/objects/{tenant}/{recording}?{}", signer.query(&grant))
}

/// Where a listing resumes after `object`, exactly as storage's
/// `listing::cursor` writes it.
fn cursor(object: &StoredObject) -> String {
    format!(
        "{}_{}_{}",
        object.created_at.timestamp_micros(),
        object.tenant,
        object.recording
    )
}

/// The path (with query) of a signed listing URL, exactly as storage's
/// `listing::list_path` builds it: signed for `Operation::Reconcile` over
/// every tenant (`*`) and `"<before µs>|<after>|<limit>"`.
pub fn list_path(
    signer: &UrlSigner,
    before: DateTime<Utc>,
    after: Option<&StoredObject>,
    limit: u32,
    expires_at: u64,
) -> String {
    let before = before.trunc_subsecs(6);
    let after = after.map(cursor);
    let grant = Grant {
        operation: Operation::Reconcile,
        tenant: "*".to_owned(),
        recording: format!(
            "{}|{}|{limit}",
            before.timestamp_micros(),
            after.as_deref().unwrap_or_default()
        ),
        expires_at,
    };
    let before_text: String = form_urlencoded::byte_serialize(
        before
            .to_rfc3339_opts(SecondsFormat::Micros, true)
            .as_bytes(),
    )
    .collect();
    let after = after.map(|a| format!("&after={a}")).unwrap_or_default();
    format!(
        "/v1/objects?before={before_text}{after}&limit={limit}&{}",
        signer.query(&grant)
    )
}

/// Storage's answer to a listing.
#[derive(Deserialize)]
struct Listing {
    objects: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    tenant_id: TenantId,
    recording_id: RecordingId,
    created_at: DateTime<Utc>,
}

/// Storage's 201 answer.
#[derive(Deserialize)]
struct Uploaded {
    size: u64,
    sha256: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// Storage in another process, reached over HTTP.
pub struct RemoteStorageSink {
    base_url: String,
    signer: UrlSigner,
    client: reqwest::Client,
}

impl RemoteStorageSink {
    /// `base_url` is where storage's object endpoint is reached, e.g.
    /// `http://storage:8080`. The client's own settings (connect timeout,
    /// TLS) apply; no overall timeout should be set, as uploads are long.
    pub fn new(base_url: String, signer: UrlSigner, client: reqwest::Client) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            signer,
            client,
        }
    }

    fn expires_at() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_add(URL_TTL_SECS)
    }
}

/// The client span of one request to storage.
fn client_span(method: &'static str, operation: &'static str) -> Span {
    tracing::info_span!(
        "storage request",
        otel.name = %format!("{method} storage {operation}"),
        otel.kind = "client",
        http.request.method = method,
        http.response.status_code = Empty,
    )
}

/// Sends `request` inside `span`, the span's trace context in its headers.
async fn send_traced(
    request: reqwest::RequestBuilder,
    span: Span,
) -> Result<reqwest::Response, reqwest::Error> {
    let request = callvault_telemetry::inject(&span)
        .into_iter()
        .fold(request, |request, (name, value)| {
            request.header(name, value)
        });
    let sent = request.send().instrument(span.clone()).await;
    if let Ok(response) = &sent {
        span.record(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        );
    }
    sent
}

/// A transport failure: storage unreachable or gone mid-request. The URL is
/// dropped from the message, as it carries a signature.
fn transport(error: reqwest::Error) -> SinkError {
    SinkError::Unavailable(format!("storage request failed: {}", error.without_url()))
}

/// Maps a refusal to the sink's errors from the status; the JSON body's
/// code and message only go into the error text, for the log.
async fn refusal(response: reqwest::Response) -> SinkError {
    let status = response.status();
    let detail = match response.bytes().await {
        Ok(body) => match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(body) => format!("{}: {}", body.error.code, body.error.message),
            Err(_) => format!("status {status}"),
        },
        Err(error) => format!("status {status} ({})", error.without_url()),
    };
    match status {
        StatusCode::CONFLICT => SinkError::Conflict,
        StatusCode::BAD_REQUEST => SinkError::Body(detail),
        // 422 is a key reference storage can't use (missing or disabled),
        // as the key provider answered after looking again: permanent, so
        // never passed on as a retryable 503.
        StatusCode::UNPROCESSABLE_ENTITY => SinkError::KeyUnusable(detail),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
            SinkError::Unavailable(detail)
        }
        _ => SinkError::Internal(format!("storage answered {status}: {detail}")),
    }
}

#[async_trait]
impl RecordingSink for RemoteStorageSink {
    async fn store(
        &self,
        tenant: TenantId,
        recording: RecordingId,
        key_ref: &str,
        body: AudioStream,
    ) -> Result<StoredAudio, SinkError> {
        let path = upload_path(&self.signer, tenant, recording, key_ref, Self::expires_at());
        // The body's own failure (the recorder went away) aborts the
        // request; remembered here so it is reported as what it is, not as
        // storage being unreachable.
        let body_failure = Arc::new(Mutex::new(None::<String>));
        let watched = {
            let body_failure = body_failure.clone();
            body.inspect_err(move |error| {
                if let Ok(mut failure) = body_failure.lock() {
                    failure.get_or_insert_with(|| error.to_string());
                }
            })
        };
        let request = self
            .client
            .put(format!("{}{path}", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(watched));
        let sent = send_traced(request, client_span("PUT", "store")).await;
        let failed_body = body_failure.lock().ok().and_then(|mut f| f.take());
        if let Some(why) = failed_body {
            return Err(SinkError::Body(why));
        }
        let response = sent.map_err(transport)?;
        if response.status() != StatusCode::CREATED {
            return Err(refusal(response).await);
        }
        let answer = response.bytes().await.map_err(transport)?;
        let uploaded: Uploaded = serde_json::from_slice(&answer)
            .map_err(|e| SinkError::Internal(format!("storage's answer: {e}")))?;
        let sha256: [u8; 32] = hex::decode(&uploaded.sha256)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| SinkError::Internal("storage's sha256 is not 32 hex bytes".into()))?;
        Ok(StoredAudio {
            size: uploaded.size,
            sha256,
        })
    }

    async fn discard(&self, tenant: TenantId, recording: RecordingId) -> Result<(), SinkError> {
        let path = discard_path(&self.signer, tenant, recording, Self::expires_at());
        let request = self.client.delete(format!("{}{path}", self.base_url));
        let response = send_traced(request, client_span("DELETE", "discard"))
            .await
            .map_err(transport)?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(refusal(response).await)
    }

    async fn list_stored(
        &self,
        before: DateTime<Utc>,
        after: Option<StoredObject>,
        limit: u32,
    ) -> Result<Vec<StoredObject>, SinkError> {
        let path = list_path(
            &self.signer,
            before,
            after.as_ref(),
            limit,
            Self::expires_at(),
        );
        let request = self.client.get(format!("{}{path}", self.base_url));
        let response = send_traced(request, client_span("GET", "list"))
            .await
            .map_err(transport)?;
        if response.status() != StatusCode::OK {
            return Err(match refusal(response).await {
                // A listing has no body: a 400 is a query we built wrong.
                SinkError::Body(why) => SinkError::Internal(why),
                other => other,
            });
        }
        let answer = response.bytes().await.map_err(transport)?;
        let listing: Listing = serde_json::from_slice(&answer)
            .map_err(|e| SinkError::Internal(format!("storage's listing: {e}")))?;
        Ok(listing
            .objects
            .into_iter()
            .map(|object| StoredObject {
                created_at: object.created_at,
                tenant: object.tenant_id,
                recording: object.recording_id,
            })
            .collect())
    }
}
