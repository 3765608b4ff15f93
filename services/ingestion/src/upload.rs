//! `POST /v1/recordings`: one call segment's audio, streamed.
//!
//! Everything that can be checked without the body (key, headers, call
//! metadata, idempotency) is checked before a byte of it is read; the
//! probe window is checked before anything is stored; storage only commits
//! a body of exactly `Content-Length` bytes (or, chunked without a length,
//! one that ended within the upload limit), and any failure after storing
//! began discards what was stored and releases the idempotency claim.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use callvault_bus::Message;
use callvault_contracts::call::CallMetadata;
use callvault_contracts::events::RecordingIngestedV1;
use callvault_contracts::metadata_api::{ApiKeyGrant, ErrorCode};
use callvault_contracts::ops::recording_policy::DecideUpload;
use callvault_contracts::recording_policy_api::{NotRecordedReason, UploadDecision};
use callvault_contracts::{RecordingId, TenantId};
use chrono::Utc;
use futures_util::{FutureExt, StreamExt};
use sea_orm::{DbErr, TransactionTrait};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use uuid::Uuid;

use crate::body::{self, Body, BodyFailure, BodyLength, Heartbeat};
use crate::error::IngestError;
use crate::headers::{audio_headers, authenticate, call_metadata};
use crate::metrics::Outcome;
use crate::probe::{self, Container, ProbeError};
use crate::silence::Silencer;
use crate::sink::SinkError;
use crate::state::{IngestionState, PROBE_WINDOW};
use crate::uploads::{Claim, UploadKey, Uploads};

/// The answer to an accepted upload (201), and to its retries (200, with
/// `replayed: true`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadReceipt {
    pub recording_id: RecordingId,
    pub tenant_id: TenantId,
    pub size: u64,
    /// Hex SHA-256 of the audio as received.
    pub sha256: String,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    /// 0 when the format does not say (an MP3 without a Xing header).
    pub duration_ms: u64,
    pub replayed: bool,
    /// Set when the tenant's policy silenced pause spans: the SHA-256 of
    /// the audio as received (`sha256` is of the audio as stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_sha256: Option<String>,
}

/// The answer to an upload whose call the tenant's recording policy keeps
/// as metadata only (200): nothing was stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotStoredReceipt {
    pub tenant_id: TenantId,
    pub stored: bool,
    pub reason: NotRecordedReason,
}

/// What an accepted upload came to.
pub(crate) enum Accepted {
    Stored(UploadReceipt),
    MetadataOnly(NotStoredReceipt),
}

/// Mounts the upload route on an actix-web app or scope.
pub fn configure(state: web::Data<IngestionState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        let resumable = state.tus.is_some();
        config
            .app_data(state)
            .service(web::resource("/v1/recordings").route(web::post().to(upload)));
        if resumable {
            crate::tus::configure(config);
        }
    }
}

async fn upload(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<IngestionState>,
) -> HttpResponse {
    let started = Instant::now();
    let result = ingest(&request, payload, &state).await;
    let (outcome, stored) = match &result {
        Ok(Accepted::Stored(receipt)) if receipt.replayed => (Outcome::Replayed, 0),
        Ok(Accepted::Stored(receipt)) => (Outcome::Stored, receipt.size),
        Ok(Accepted::MetadataOnly(_)) => (Outcome::Refused, 0),
        Err(error) if error.status().is_client_error() => (Outcome::Refused, 0),
        Err(_) => (Outcome::Failed, 0),
    };
    state.metrics.record(outcome, stored, started.elapsed());
    match result {
        Ok(Accepted::Stored(receipt)) if receipt.replayed => HttpResponse::Ok().json(receipt),
        Ok(Accepted::Stored(receipt)) => HttpResponse::Created().json(receipt),
        Ok(Accepted::MetadataOnly(receipt)) => HttpResponse::Ok().json(receipt),
        Err(error) => error.to_response(),
    }
}

async fn ingest(
    request: &HttpRequest,
    payload: web::Payload,
    state: &IngestionState,
) -> Result<Accepted, IngestError> {
    let grant = authenticate(request.headers(), state).await?;
    callvault_telemetry::http::record_tenant(request, &grant.tenant_id);
    let (container, declared) = audio_headers(request.headers())?;
    let length = match declared {
        Some(length) if length > state.max_upload_bytes => {
            return Err(IngestError::TooLarge {
                length,
                limit: state.max_upload_bytes,
            });
        }
        Some(length) => BodyLength::Exact(length),
        None => BodyLength::AtMost(state.max_upload_bytes),
    };
    let call = call_metadata(request.headers())?;
    admit(
        state,
        &grant,
        container,
        length,
        call,
        payload.boxed_local(),
        None,
    )
    .await
}

/// An upload whose key, audio type, length and call metadata are checked:
/// the tenant's policy decides on it, then it is claimed, probed, stored and
/// announced. Its body is a request's, or a resumable upload's: then
/// `resumable` names it, and it is marked stored in the transaction that
/// commits the recording.
pub(crate) async fn admit(
    state: &IngestionState,
    grant: &ApiKeyGrant,
    container: Container,
    length: BodyLength,
    call: CallMetadata,
    payload: Body,
    resumable: Option<Uuid>,
) -> Result<Accepted, IngestError> {
    let recording = RecordingId::new();
    let silence_pauses = match decide(state, grant, recording, &call).await? {
        UploadDecision::Keep { silence_pauses } => silence_pauses,
        UploadDecision::Refuse { reason } => return Err(IngestError::NotRecorded { reason }),
        UploadDecision::MetadataOnly { reason } => {
            return Ok(Accepted::MetadataOnly(NotStoredReceipt {
                tenant_id: grant.tenant_id,
                stored: false,
                reason,
            }));
        }
    };
    // The grant decides the tenant: nothing in the request can.
    let key = UploadKey {
        tenant: grant.tenant_id,
        external_call_id: call.external_call_id.clone(),
        segment: call.segment,
    };
    match state
        .uploads
        .claim(&key, recording, state.stale_after)
        .await
        .map_err(database)?
    {
        Claim::Claimed => {}
        Claim::TookOver { previous } => {
            warn!(tenant = %key.tenant, %previous, %recording, "took over an abandoned upload");
            discard(state, key.tenant, previous).await;
        }
        Claim::Done { response } => {
            return replay(&response, length, payload, state)
                .await
                .map(Accepted::Stored);
        }
        Claim::InProgress => return Err(IngestError::UploadInProgress),
    }
    let upload = Upload {
        state,
        grant,
        key: &key,
        recording,
        container,
        length,
        call,
        silence_pauses,
        resumable,
    };
    let Ok((result, leftover)) = AssertUnwindSafe(upload.receive(payload))
        .catch_unwind()
        .await
    else {
        // A bug, logged by the panic hook. What the request held goes now,
        // not when the claim goes stale: the claim if it is still ours
        // (never a done upload's), then the recording it may have stored.
        match state.uploads.release(&key, recording).await {
            Ok(true) => discard(state, key.tenant, recording).await,
            Ok(false) => {}
            Err(error) => {
                warn!(tenant = %key.tenant, %recording, %error, "could not release an upload claim");
            }
        }
        return Err(IngestError::Panicked);
    };
    if result.is_err() && leftover != Leftover::InDoubt {
        if leftover == Leftover::Stored {
            discard(state, key.tenant, recording).await;
        }
        if let Err(error) = state.uploads.release(&key, recording).await {
            // The claim goes stale and a retry takes it over, later.
            warn!(tenant = %key.tenant, %recording, %error, "could not release an upload claim");
        }
    }
    result.map(Accepted::Stored)
}

/// Whether the tenant's recording policy keeps this call: asked only of a
/// tenant that has one (the grant says), so the others pay no round trip.
pub(crate) async fn decide(
    state: &IngestionState,
    grant: &ApiKeyGrant,
    recording: RecordingId,
    call: &CallMetadata,
) -> Result<UploadDecision, IngestError> {
    if !grant.recording_policy {
        return Ok(UploadDecision::Keep {
            silence_pauses: false,
        });
    }
    let question = DecideUpload {
        tenant: grant.tenant_id,
        recording,
        call: call.clone(),
    };
    state
        .metadata
        .call(question)
        .await
        .map_err(|error| match error.code {
            ErrorCode::Unavailable => {
                IngestError::Unavailable(format!("metadata service: {error}"))
            }
            ErrorCode::TenantOffboarded => IngestError::TenantOffboarded,
            ErrorCode::TenantKeyUnusable => IngestError::TenantKeyUnusable(error.to_string()),
            _ => IngestError::Internal(format!("deciding an upload: {error}")),
        })
}

/// What a failed upload leaves behind, and so what cleaning up may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leftover {
    /// Nothing was stored.
    Nothing,
    /// Stored and certainly not committed: discard it, release the claim.
    Stored,
    /// The commit's outcome is unknown (the connection failed during
    /// COMMIT), so the upload may be done and catalogued: touch nothing. A
    /// retry then finds it done, or finds the claim and, once it is stale,
    /// takes it over and discards the recording, as the reconciler would.
    InDoubt,
}

/// One claimed upload, from its first byte to its outbox message.
struct Upload<'a> {
    state: &'a IngestionState,
    grant: &'a ApiKeyGrant,
    key: &'a UploadKey,
    recording: RecordingId,
    container: Container,
    length: BodyLength,
    call: CallMetadata,
    /// The tenant's policy: write pause spans as silence before storing.
    silence_pauses: bool,
    /// The resumable upload this is the end of.
    resumable: Option<Uuid>,
}

impl Upload<'_> {
    /// The receipt, or the error and what it left behind.
    async fn receive(self, mut payload: Body) -> (Result<UploadReceipt, IngestError>, Leftover) {
        let state = self.state;
        let window = match body::read_window(&mut payload, PROBE_WINDOW, state.idle_timeout).await {
            Ok(window) => window,
            Err(failure) => return (Err(body_error(failure, self.length)), Leftover::Nothing),
        };
        let received = window.bytes.len() as u64;
        match self.length {
            BodyLength::Exact(length)
                if (window.complete && received != length) || received > length =>
            {
                let error = IngestError::LengthMismatch {
                    expected: length,
                    received,
                };
                return (Err(error), Leftover::Nothing);
            }
            BodyLength::AtMost(limit) if received > limit => {
                return (
                    Err(IngestError::StreamTooLarge { limit }),
                    Leftover::Nothing,
                );
            }
            _ => {}
        }
        let probed = match probe::probe(&window.bytes, self.container) {
            Ok(probed) => probed,
            Err(error @ ProbeError::Mismatch { .. }) => {
                return (
                    Err(IngestError::UnsupportedMedia(error.to_string())),
                    Leftover::Nothing,
                );
            }
            Err(ProbeError::NotAudio(why)) => {
                return (Err(IngestError::NotAudio(why)), Leftover::Nothing);
            }
            Err(ProbeError::InvalidFormat(why)) => {
                return (Err(IngestError::InvalidAudio(why)), Leftover::Nothing);
            }
        };
        if let Err(error) = check_duration(probed.info.duration_ms, &self.call)
            .and_then(|()| check_channels(probed.info.channels, &self.call))
        {
            return (Err(error), Leftover::Nothing);
        }
        // Checked against Content-Length up front, so a truncated WAV is
        // refused before anything is stored; storage then only commits
        // exactly Content-Length bytes, so the audio that lands is whole.
        // A body without a length is checked once it has ended.
        let known_length = self.length.exact().or(window.complete.then_some(received));
        if let (Some(declared), Some(length)) = (probed.declared_len, known_length)
            && declared > length
        {
            let error = IngestError::TruncatedAudio {
                declared,
                received: length,
            };
            return (Err(error), Leftover::Nothing);
        }
        let mut silencer = None;
        if self.silence_pauses && !self.call.pauses.is_empty() {
            let layout = probed.wav.as_ref();
            silencer = layout.and_then(|layout| Silencer::new(layout, &self.call.pauses));
            if silencer.is_none() {
                let codec = probed.info.codec.clone();
                return (
                    Err(IngestError::PausesNotSilenceable { codec }),
                    Leftover::Nothing,
                );
            }
        }

        let (tx, stream) = body::channel();
        let heartbeat = Heartbeat {
            uploads: &state.uploads,
            key: self.key,
            recording: self.recording,
            every: state.heartbeat_every,
        };
        let pump = body::pump(
            window.bytes,
            payload,
            self.length,
            state.idle_timeout,
            heartbeat,
            silencer.as_mut(),
            tx,
        );
        let store = state
            .sink
            .store(self.key.tenant, self.recording, &self.grant.key_ref, stream);
        let (pumped, stored) = tokio::join!(pump, store);
        // A body failure explains a storage failure, not the other way round.
        let received = match pumped {
            Ok(received) => received,
            Err(failure) => return (Err(body_error(failure, self.length)), Leftover::Stored),
        };
        let stored = match stored {
            Ok(stored) => stored,
            Err(error) => return (Err(sink_error(error)), Leftover::Stored),
        };
        if stored.size != received {
            let error = format!("storage kept {} bytes of {received}", stored.size);
            return (Err(IngestError::Internal(error)), Leftover::Stored);
        }
        if let Some(declared) = probed.declared_len
            && declared > received
        {
            let error = IngestError::TruncatedAudio { declared, received };
            return (Err(error), Leftover::Stored);
        }

        let receipt = UploadReceipt {
            recording_id: self.recording,
            tenant_id: self.key.tenant,
            size: stored.size,
            sha256: hex::encode(stored.sha256),
            codec: probed.info.codec.clone(),
            sample_rate: probed.info.sample_rate,
            channels: probed.info.channels,
            duration_ms: probed.info.duration_ms,
            replayed: false,
            received_sha256: silencer.map(Silencer::received_sha256),
        };
        let event = RecordingIngestedV1 {
            tenant_id: self.key.tenant,
            recording_id: self.recording,
            call: self.call,
            audio: probed.info,
            size: stored.size,
            sha256: receipt.sha256.clone(),
            key_ref: self.grant.key_ref.clone(),
            ingested_at: Utc::now(),
        };
        let committed = match commit(
            &state.uploads,
            self.key,
            self.recording,
            &receipt,
            &event,
            self.resumable,
        )
        .await
        {
            Ok(committed) => committed,
            Err((error, leftover)) => return (Err(error), leftover),
        };
        if !committed {
            return (Err(IngestError::Superseded), Leftover::Stored);
        }
        if let Some(notify) = &state.notify {
            notify();
        }
        info!(
            tenant = %self.key.tenant,
            recording = %self.recording,
            segment = self.key.segment,
            size = stored.size,
            codec = %receipt.codec,
            "recording ingested"
        );
        (Ok(receipt), Leftover::Stored)
    }
}

/// Marks the upload done and enqueues its event, in one transaction. False
/// if the claim was lost to a take-over. A failure says what it left: only
/// a failed COMMIT leaves the outcome in doubt.
async fn commit(
    uploads: &Uploads,
    key: &UploadKey,
    recording: RecordingId,
    receipt: &UploadReceipt,
    event: &RecordingIngestedV1,
    resumable: Option<Uuid>,
) -> Result<bool, (IngestError, Leftover)> {
    let not_committed = |error: IngestError| (error, Leftover::Stored);
    let response = serde_json::to_string(receipt)
        .map_err(|e| not_committed(IngestError::Internal(e.to_string())))?;
    let message =
        Message::new(event).map_err(|e| not_committed(IngestError::Internal(e.to_string())))?;
    let txn = uploads
        .connection()
        .begin()
        .await
        .map_err(|e| not_committed(database(e)))?;
    let finished = Uploads::finish(&txn, key, recording, &response)
        .await
        .map_err(|e| not_committed(database(e)))?;
    if !finished {
        txn.rollback()
            .await
            .map_err(|e| not_committed(database(e)))?;
        return Ok(false);
    }
    callvault_bus::outbox::enqueue(&txn, &message)
        .await
        .map_err(|e| not_committed(database(e)))?;
    if let Some(upload) = resumable {
        crate::tus::finish_in(&txn, upload, &response)
            .await
            .map_err(|e| not_committed(database(e)))?;
    }
    txn.commit()
        .await
        .map_err(|e| (database(e), Leftover::InDoubt))?;
    Ok(true)
}

/// A retry of a finished upload: the first answer again, nothing stored.
async fn replay(
    response: &str,
    length: BodyLength,
    mut payload: Body,
    state: &IngestionState,
) -> Result<UploadReceipt, IngestError> {
    let mut receipt: UploadReceipt = serde_json::from_str(response)
        .map_err(|e| IngestError::Internal(format!("stored response: {e}")))?;
    // The same key with other audio (recycled call ids, a counter reset) is
    // not a retry: answering "replayed" would lose that recording silently.
    // The length settles most cases at once; the digest of the body settles
    // the rest, since fixed-length G.711 segments often have equal sizes.
    if length.exact().is_some_and(|length| receipt.size != length) {
        return Err(IngestError::KeyReused);
    }
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut received: u64 = 0;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(state.idle_timeout, payload.next()).await {
        received += chunk.len() as u64;
        if received > receipt.size {
            // Longer than the stored audio: not a retry, whatever follows.
            return Err(IngestError::KeyReused);
        }
        digest.update(&chunk);
    }
    // Silenced audio is compared as it was received, not as stored.
    let original = receipt.received_sha256.as_ref().unwrap_or(&receipt.sha256);
    if received != receipt.size || hex::encode(digest.finish()) != *original {
        return Err(IngestError::KeyReused);
    }
    receipt.replayed = true;
    Ok(receipt)
}

async fn discard(state: &IngestionState, tenant: TenantId, recording: RecordingId) {
    if let Err(error) = state.sink.discard(tenant, recording).await {
        // No upload references it any more: the reconciler discards it.
        warn!(%tenant, %recording, %error, "could not discard a recording");
    }
}

/// How much longer than its call a recording may be: recorders stamp
/// `started_at` and `ended_at` to the second, and their clocks drift from
/// the sample clock by a fraction of a percent.
pub const DURATION_TOLERANCE_MS: u64 = 2_000;
pub const DURATION_TOLERANCE_PERCENT: u64 = 1;

/// Audio can't be longer than the call it records (`started_at` to
/// `ended_at`), within the tolerance. It may be shorter: trigger recording
/// starts mid-call, pauses cut stretches out, a segment covers part of
/// the call. Formats that don't state a duration (0) are not checked.
fn check_duration(audio_ms: u64, call: &CallMetadata) -> Result<(), IngestError> {
    let call_ms = u64::try_from((call.ended_at - call.started_at).num_milliseconds()).unwrap_or(0);
    let tolerance = DURATION_TOLERANCE_MS.max(call_ms * DURATION_TOLERANCE_PERCENT / 100);
    if audio_ms > call_ms.saturating_add(tolerance) {
        return Err(IngestError::DurationMismatch { audio_ms, call_ms });
    }
    Ok(())
}

/// A channel map that names the left or right channel needs audio that
/// has two: on a mono file a player would split nothing, and an evaluator
/// would hear the customer as the agent. `mixed` fits any audio.
fn check_channels(channels: u16, call: &CallMetadata) -> Result<(), IngestError> {
    use callvault_contracts::call::Channel;
    for channel in [call.agent_channel, call.customer_channel]
        .into_iter()
        .flatten()
    {
        let side = match channel {
            Channel::Left => "left",
            Channel::Right => "right",
            Channel::Mixed => continue,
        };
        if channels < 2 {
            return Err(IngestError::ChannelMismatch { side, channels });
        }
    }
    Ok(())
}

fn body_error(failure: BodyFailure, expected: BodyLength) -> IngestError {
    match failure {
        BodyFailure::Short { received } | BodyFailure::Long { received } => {
            IngestError::LengthMismatch {
                expected: expected.limit(),
                received,
            }
        }
        BodyFailure::OverLimit { limit } => IngestError::StreamTooLarge { limit },
        BodyFailure::Failed(why) => IngestError::BodyFailed(why),
        BodyFailure::Superseded => IngestError::Superseded,
    }
}

fn sink_error(error: SinkError) -> IngestError {
    match error {
        SinkError::Unavailable(why) => IngestError::Unavailable(format!("storage: {why}")),
        SinkError::Conflict => IngestError::RecordingConflict,
        SinkError::Body(why) => IngestError::BodyFailed(why),
        SinkError::KeyUnusable(why) => IngestError::TenantKeyUnusable(why),
        SinkError::Internal(why) => IngestError::Internal(format!("storage: {why}")),
    }
}

fn database(error: DbErr) -> IngestError {
    IngestError::Unavailable(format!("ingestion database: {error}"))
}
