//! Every way an upload can be refused or fail, each with one HTTP status
//! and one machine-readable code: the JSON error body recorders see.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use serde_json::json;
use tracing::error;

/// Every status the upload endpoint can answer with; the OpenAPI document
/// must describe each (its test checks).
pub const STATUSES: &[u16] = &[200, 201, 400, 401, 403, 409, 411, 413, 415, 422, 500, 503];

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("a valid recorder api key is required (authorization: bearer <key>)")]
    Unauthenticated,
    #[error("{0}")]
    LengthRequired(&'static str),
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("{0}")]
    InvalidMetadata(String),
    #[error("{0}")]
    InvalidHeader(String),
    #[error("body has {received} bytes but content-length says {expected}")]
    LengthMismatch { expected: u64, received: u64 },
    #[error("upload body failed: {0}")]
    BodyFailed(String),
    #[error("{0}")]
    NotAudio(String),
    #[error("{0}")]
    InvalidAudio(String),
    #[error("the audio lasts {audio_ms} ms but the call's started_at..ended_at spans {call_ms} ms")]
    DurationMismatch { audio_ms: u64, call_ms: u64 },
    #[error(
        "agent_channel or customer_channel names the {side} channel but the audio has {channels} channel"
    )]
    ChannelMismatch { side: &'static str, channels: u16 },
    /// The tenant's recording policy does not keep this call.
    #[error("the tenant's recording policy does not keep this call ({})", reason.as_str())]
    NotRecorded {
        reason: callvault_contracts::recording_policy_api::NotRecordedReason,
    },
    /// The policy silences pause spans, which only WAV PCM and G.711 allow.
    #[error(
        "the tenant silences pause spans in stored audio, which needs WAV with PCM or G.711 audio; this is {codec}"
    )]
    PausesNotSilenceable { codec: String },
    #[error("the recording is {length} bytes; this site accepts at most {limit}")]
    TooLarge { length: u64, limit: u64 },
    /// A body without a length went past the limit while it streamed.
    #[error("the recording is longer than this site accepts ({limit} bytes)")]
    StreamTooLarge { limit: u64 },
    #[error("the wav header declares {declared} bytes but the body has {received}")]
    TruncatedAudio { declared: u64, received: u64 },
    #[error("this call segment is being uploaded by another request; retry later")]
    UploadInProgress,
    #[error("this call segment was already uploaded with other audio")]
    KeyReused,
    #[error("another upload of this call segment took over")]
    Superseded,
    #[error("storage already holds this recording")]
    RecordingConflict,
    /// The tenant's master key is missing, disabled or revoked: no retry
    /// succeeds until an administrator fixes it. The detail is for the log
    /// only.
    #[error(
        "the tenant's master key can't be used (missing, disabled or revoked); uploads fail until an administrator fixes it"
    )]
    TenantKeyUnusable(String),
    /// The key's tenant is being offboarded, or was: it takes nothing in
    /// any more. Final, not retryable.
    #[error("the tenant is offboarded: it accepts no more recordings")]
    TenantOffboarded,
    /// The detail is for the log only.
    #[error("{0}")]
    Unavailable(String),
    /// The detail is for the log only.
    #[error("{0}")]
    Internal(String),
    /// The request's code panicked; the panic hook has logged it.
    #[error("internal error")]
    Panicked,
    /// Resumable uploads: the request's `Tus-Resumable` is not 1.0.0.
    #[error("tus-resumable must be 1.0.0")]
    TusVersion,
    /// Resumable uploads: no such upload for this key's tenant.
    #[error("no such upload")]
    UploadNotFound,
    /// Resumable uploads: it expired and was (or is about to be) removed.
    #[error("the upload expired")]
    UploadExpired,
    /// Resumable uploads: `Upload-Offset` is not where the upload stands.
    #[error("upload-offset is {got} but the upload is at {expected}")]
    OffsetMismatch { expected: u64, got: u64 },
    /// Resumable uploads: `Upload-Checksum` does not match the bytes sent;
    /// they were not kept.
    #[error("upload-checksum does not match the bytes sent; they were not kept")]
    ChecksumMismatch,
    /// Resumable uploads: another request is writing this upload now.
    #[error("another request is writing this upload")]
    UploadLocked,
}

impl IngestError {
    pub fn status(&self) -> StatusCode {
        match self {
            IngestError::Unauthenticated => StatusCode::UNAUTHORIZED,
            IngestError::TenantOffboarded => StatusCode::FORBIDDEN,
            IngestError::LengthRequired(_) => StatusCode::LENGTH_REQUIRED,
            IngestError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::InvalidMetadata(_)
            | IngestError::InvalidHeader(_)
            | IngestError::LengthMismatch { .. }
            | IngestError::BodyFailed(_) => StatusCode::BAD_REQUEST,
            IngestError::TooLarge { .. } | IngestError::StreamTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            IngestError::NotAudio(_)
            | IngestError::InvalidAudio(_)
            | IngestError::DurationMismatch { .. }
            | IngestError::ChannelMismatch { .. }
            | IngestError::NotRecorded { .. }
            | IngestError::PausesNotSilenceable { .. }
            | IngestError::TruncatedAudio { .. }
            | IngestError::TenantKeyUnusable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            IngestError::UploadInProgress
            | IngestError::KeyReused
            | IngestError::Superseded
            | IngestError::RecordingConflict
            | IngestError::OffsetMismatch { .. }
            | IngestError::UploadLocked => StatusCode::CONFLICT,
            IngestError::TusVersion => StatusCode::PRECONDITION_FAILED,
            IngestError::UploadNotFound => StatusCode::NOT_FOUND,
            IngestError::UploadExpired => StatusCode::GONE,
            // tus's checksum extension: 460 Checksum Mismatch.
            IngestError::ChecksumMismatch => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
            }
            IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Internal(_) | IngestError::Panicked => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Unauthenticated => "unauthenticated",
            IngestError::LengthRequired(_) => "length_required",
            IngestError::UnsupportedMedia(_) => "unsupported_media",
            IngestError::InvalidMetadata(_) => "invalid_metadata",
            IngestError::InvalidHeader(_) => "invalid_header",
            IngestError::LengthMismatch { .. } => "length_mismatch",
            IngestError::BodyFailed(_) => "body_failed",
            IngestError::NotAudio(_) => "not_audio",
            IngestError::InvalidAudio(_) => "invalid_audio",
            IngestError::DurationMismatch { .. } => "duration_mismatch",
            IngestError::ChannelMismatch { .. } => "channel_mismatch",
            IngestError::NotRecorded { .. } => "call_not_recorded",
            IngestError::TusVersion => "unsupported_tus_version",
            IngestError::UploadNotFound => "upload_not_found",
            IngestError::UploadExpired => "upload_expired",
            IngestError::OffsetMismatch { .. } => "offset_mismatch",
            IngestError::ChecksumMismatch => "checksum_mismatch",
            IngestError::UploadLocked => "upload_locked",
            IngestError::PausesNotSilenceable { .. } => "pauses_not_silenceable",
            IngestError::TooLarge { .. } | IngestError::StreamTooLarge { .. } => {
                "payload_too_large"
            }
            IngestError::TruncatedAudio { .. } => "truncated_audio",
            IngestError::UploadInProgress => "upload_in_progress",
            IngestError::KeyReused => "idempotency_key_reused",
            IngestError::Superseded => "upload_superseded",
            IngestError::RecordingConflict => "recording_conflict",
            IngestError::TenantKeyUnusable(_) => "tenant_key_unusable",
            IngestError::TenantOffboarded => "tenant_offboarded",
            IngestError::Unavailable(_) => "unavailable",
            IngestError::Internal(_) | IngestError::Panicked => "internal",
        }
    }

    /// Whether the same request may succeed later, as is.
    fn retry_after(&self) -> Option<&'static str> {
        match self {
            IngestError::Unavailable(_) => Some("5"),
            IngestError::UploadInProgress => Some("30"),
            _ => None,
        }
    }

    pub fn to_response(&self) -> HttpResponse {
        let status = self.status();
        let message = match self {
            IngestError::Unavailable(detail) => {
                error!(code = self.code(), %detail, "upload failed: dependency unavailable");
                "a dependency is unavailable; retry later".to_owned()
            }
            IngestError::Internal(detail) => {
                error!(code = self.code(), %detail, "upload failed");
                "internal error".to_owned()
            }
            IngestError::TenantKeyUnusable(detail) => {
                error!(code = self.code(), %detail, "upload refused: the tenant's key can't be used");
                self.to_string()
            }
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = self.retry_after() {
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(json!({ "error": { "code": self.code(), "message": message } }))
    }
}
