//! Object upload and discard over HTTP, for an ingestion service running in
//! another process:
//!
//! - `PUT /v1/objects/{tenant}/{recording}?key_ref=…&exp=…&sig=…` streams the
//!   request body into [`RecordingStore::store`] (201 with its size and
//!   SHA-256), never holding more than a few chunks of it;
//! - `DELETE /v1/objects/{tenant}/{recording}?exp=…&sig=…` calls
//!   [`RecordingStore::discard`] (204).
//!
//! As for playback, the URL is the authorisation. An upload URL is signed
//! for `Operation::Upload` over the tenant, the expiry and the recording
//! *joined with the key reference* (`"<recording>|<key_ref>"`): the key
//! reference travels in the clear but can't be swapped for another, and
//! because the signed recording field never equals a bare recording id, an
//! upload grant issued for any other endpoint can't be replayed here. A
//! discard URL is signed for `Operation::Discard`, so no URL able to write a
//! recording can delete one, and the other way round.
//!
//! `GET /v1/objects?before=…` lists stored objects for ingestion's
//! reconciler; it lives in [`crate::listing`] and is mounted here.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use callvault_auth::signed_url::{Grant, Operation, UrlError, UrlSigner};
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::KeyRef;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use tracing::{debug, error};

use crate::{RecordingStore, StorageError};

/// Chunks in flight between the request and the store: memory stays at a
/// few chunks whatever the recording's size.
const CHANNEL_CHUNKS: usize = 4;

/// A body silent for this long is given up on, so a stalled client can't
/// hold a store open forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Seconds a client should wait before retrying after a 503.
const RETRY_AFTER_SECS: &str = "5";

pub struct UploadState {
    pub store: Arc<RecordingStore>,
    pub signer: UrlSigner,
}

/// The 201 answer to an upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedObject {
    /// Plaintext (audio) bytes stored.
    pub size: u64,
    /// Hex SHA-256 of the audio as received.
    pub sha256: String,
    /// The master key the data key is wrapped under.
    pub key_ref: String,
}

/// Mounts the upload, discard and listing routes on an actix-web app or
/// scope.
pub fn configure(state: web::Data<UploadState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(state)
            .service(web::resource("/v1/objects").route(web::get().to(crate::listing::list)))
            .service(
                web::resource("/v1/objects/{tenant}/{recording}")
                    .route(web::put().to(upload))
                    .route(web::delete().to(discard)),
            );
    }
}

pub(crate) fn upload_grant(
    tenant: TenantId,
    recording: RecordingId,
    key_ref: &str,
    expires_at: u64,
) -> Grant {
    Grant {
        operation: Operation::Upload,
        tenant: tenant.to_string(),
        // A uuid has no `|`, so the split is unambiguous.
        recording: format!("{recording}|{key_ref}"),
        expires_at,
    }
}

pub(crate) fn discard_grant(tenant: TenantId, recording: RecordingId, expires_at: u64) -> Grant {
    Grant {
        operation: Operation::Discard,
        tenant: tenant.to_string(),
        recording: recording.to_string(),
        expires_at,
    }
}

/// The path (with query) of a signed upload URL. Clients build it with this
/// function (or a copy checked against it), never by hand.
pub fn upload_path(
    signer: &UrlSigner,
    tenant: TenantId,
    recording: RecordingId,
    key_ref: &str,
    expires_at: u64,
) -> String {
    let grant = upload_grant(tenant, recording, key_ref, expires_at);
    let key_ref: String = form_urlencoded::byte_serialize(key_ref.as_bytes()).collect();
    format!(
        "/v1/objects/{tenant}/{recording}?key_ref={key_ref}&{}",
        signer.query(&grant)
    )
}

/// The path (with query) of a signed discard URL.
pub fn discard_path(
    signer: &UrlSigner,
    tenant: TenantId,
    recording: RecordingId,
    expires_at: u64,
) -> String {
    let grant = discard_grant(tenant, recording, expires_at);
    format!("/v1/objects/{tenant}/{recording}?{}", signer.query(&grant))
}

#[derive(Deserialize)]
struct SignedQuery {
    key_ref: Option<String>,
    exp: Option<u64>,
    sig: Option<String>,
}

fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
    }
    response.json(json!({ "error": { "code": code, "message": message } }))
}

pub(crate) fn storage_error(error: &StorageError) -> HttpResponse {
    let status = match error {
        StorageError::Body(_) => StatusCode::BAD_REQUEST,
        StorageError::AlreadyExists => StatusCode::CONFLICT,
        // The request is well formed but names a key that can't be used
        // (missing, disabled): not a body failure, not an outage of ours.
        StorageError::Key(_) => StatusCode::UNPROCESSABLE_ENTITY,
        StorageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        StorageError::NotFound => StatusCode::NOT_FOUND,
        StorageError::Shredded { .. } => StatusCode::GONE,
        // Neither store nor discard reads a range: a range error here is a
        // bug, like an integrity failure.
        StorageError::InvalidRange { .. }
        | StorageError::Integrity(_)
        | StorageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status.is_server_error() {
        error!(code = error.code(), %error, "object request failed");
    } else {
        debug!(code = error.code(), %error, "object request refused");
    }
    // Internal details stay in the log; clients get the code and a summary.
    let message = match error {
        StorageError::Integrity(_) => "the recording failed its integrity check".to_owned(),
        StorageError::Unavailable(_)
        | StorageError::Internal(_)
        | StorageError::InvalidRange { .. } => "try again later".to_owned(),
        StorageError::Key(_) => "the key reference can't be used".to_owned(),
        other => other.to_string(),
    };
    json_error(status, error.code(), &message)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A request refused before the store is touched: small, unlike a response.
pub(crate) struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message,
        }
    }

    pub(crate) fn response(&self) -> HttpResponse {
        json_error(self.status, self.code, self.message)
    }
}

/// An object request's ids and signature, not yet verified.
pub(crate) struct Signed {
    pub(crate) tenant: TenantId,
    pub(crate) recording: RecordingId,
    pub(crate) key_ref: Option<String>,
    pub(crate) expires_at: u64,
    pub(crate) signature: String,
}

pub(crate) fn parse(request: &HttpRequest, path: (String, String)) -> Result<Signed, Refusal> {
    let (Ok(tenant), Ok(recording)) = (path.0.parse::<TenantId>(), path.1.parse::<RecordingId>())
    else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "tenant and recording must be uuids",
        ));
    };
    let Ok(query) = web::Query::<SignedQuery>::from_query(request.query_string()) else {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            "the object url is malformed",
        ));
    };
    let SignedQuery { key_ref, exp, sig } = query.into_inner();
    let (Some(expires_at), Some(signature)) = (exp, sig) else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "unsigned_url",
            "object urls must be signed",
        ));
    };
    Ok(Signed {
        tenant,
        recording,
        key_ref,
        expires_at,
        signature,
    })
}

/// Checks the signature, then the expiry: only here, at the start, as a
/// long upload may outlive its URL.
pub(crate) fn verify(signer: &UrlSigner, grant: &Grant, signature: &str) -> Result<(), Refusal> {
    match signer.verify(grant, signature, now()) {
        Ok(()) => Ok(()),
        Err(UrlError::Expired) => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "url_expired",
            "the object url has expired",
        )),
        Err(UrlError::BadSignature | UrlError::Malformed(_)) => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            "the object url signature is invalid",
        )),
    }
}

async fn upload(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<UploadState>,
) -> HttpResponse {
    let signed = match parse(&request, path.into_inner()) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.response(),
    };
    let (tenant, recording) = (signed.tenant, signed.recording);
    let Some(key_ref) = signed.key_ref.filter(|k| !k.is_empty()) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "missing_key_ref",
            "upload urls must name a key_ref",
        );
    };
    let grant = upload_grant(tenant, recording, &key_ref, signed.expires_at);
    if let Err(refusal) = verify(&state.signer, &grant, &signed.signature) {
        return refusal.response();
    }

    // actix's payload is not `Send` and the store wants a `Send` stream: a
    // bounded channel carries the chunks across and keeps memory constant.
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    let key = KeyRef(key_ref);
    let mut store = std::pin::pin!(state.store.store(tenant, recording, &key, body));
    // If the store finishes first (it refused, or failed), the rest of the
    // body is not worth waiting for: the pump is dropped with the payload.
    let stored = tokio::select! {
        stored = &mut store => stored,
        () = pump(payload, tx) => store.await,
    };
    match stored {
        Ok(stored) => HttpResponse::Created().json(UploadedObject {
            size: stored.size,
            sha256: hex::encode(stored.sha256),
            key_ref: stored.key_ref.0,
        }),
        Err(error) => storage_error(&error),
    }
}

/// Forwards the request body to `tx` until it ends. A failed body (the
/// connection closed before its end, a protocol error, silence) is sent as
/// an error, so the store never commits a partial recording.
async fn pump(mut payload: web::Payload, tx: mpsc::Sender<std::io::Result<Bytes>>) {
    loop {
        let item = match tokio::time::timeout(IDLE_TIMEOUT, payload.next()).await {
            Ok(None) => return,
            Ok(Some(Ok(chunk))) if chunk.is_empty() => continue,
            Ok(Some(Ok(chunk))) => Ok(chunk),
            Ok(Some(Err(error))) => Err(std::io::Error::other(error.to_string())),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no upload data for {}s", IDLE_TIMEOUT.as_secs()),
            )),
        };
        let failed = item.is_err();
        // A closed channel means the store gave up; it reports why itself.
        if tx.send(item).await.is_err() || failed {
            return;
        }
    }
}

async fn discard(
    request: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<UploadState>,
) -> HttpResponse {
    let signed = match parse(&request, path.into_inner()) {
        Ok(signed) => signed,
        Err(refusal) => return refusal.response(),
    };
    let grant = discard_grant(signed.tenant, signed.recording, signed.expires_at);
    if let Err(refusal) = verify(&state.signer, &grant, &signed.signature) {
        return refusal.response();
    }
    match state.store.discard(signed.tenant, signed.recording).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(error) => storage_error(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn signer() -> UrlSigner {
        UrlSigner::new(&[3u8; 32]).expect("secret")
    }

    #[test]
    fn upload_path_encodes_the_key_ref_and_signs_it() {
        let (tenant, recording) = (TenantId(Uuid::nil()), RecordingId(Uuid::max()));
        let path = upload_path(&signer(), tenant, recording, "local:t 1/k&x=y", 1_000);
        let grant = upload_grant(tenant, recording, "local:t 1/k&x=y", 1_000);
        assert_eq!(
            path,
            format!(
                "/v1/objects/{tenant}/{recording}?key_ref=local%3At+1%2Fk%26x%3Dy&exp=1000&sig={}",
                signer().sign(&grant)
            )
        );
        let query = path.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let parsed = web::Query::<SignedQuery>::from_query(query).expect("query parses");
        assert_eq!(parsed.key_ref.as_deref(), Some("local:t 1/k&x=y"));
    }

    #[test]
    fn upload_and_discard_grants_are_not_interchangeable() {
        let (tenant, recording) = (TenantId::new(), RecordingId::new());
        let discard = discard_grant(tenant, recording, 1_000);
        let sig = signer().sign(&discard);
        let as_upload = upload_grant(tenant, recording, "", 1_000);
        assert_eq!(
            signer().verify(&as_upload, &sig, 0),
            Err(UrlError::BadSignature)
        );
    }
}
