//! The request headers of an upload: the recorder key, the declared audio
//! type and length, and the call metadata. All checked before a byte of the
//! body is read.

use actix_web::http::header::{self, HeaderMap};
use callvault_contracts::call::CallMetadata;
use callvault_contracts::metadata_api::{ApiKeyGrant, ErrorCode};
use callvault_contracts::ops::tenancy::VerifyApiKey;

use crate::call;
use crate::error::IngestError;
use crate::probe::Container;
use crate::state::IngestionState;

/// The request header carrying the call metadata, as one-line JSON.
pub const CALL_HEADER: &str = "callvault-call";

pub(crate) async fn authenticate(
    headers: &HeaderMap,
    state: &IngestionState,
) -> Result<ApiKeyGrant, IngestError> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim())
        .filter(|secret| !secret.is_empty())
        .ok_or(IngestError::Unauthenticated)?;
    let verify = VerifyApiKey {
        secret: secret.to_owned(),
    };
    state
        .metadata
        .call(verify)
        .await
        .map_err(|error| match error.code {
            ErrorCode::Unavailable => {
                IngestError::Unavailable(format!("metadata service: {error}"))
            }
            ErrorCode::Internal | ErrorCode::Conflict => {
                IngestError::Internal(format!("verifying an api key: {error}"))
            }
            ErrorCode::TenantOffboarded => IngestError::TenantOffboarded,
            _ => IngestError::Unauthenticated,
        })
}

/// The audio's container and the body's `Content-Length`, or None for a
/// chunked body without one.
pub(crate) fn audio_headers(headers: &HeaderMap) -> Result<(Container, Option<u64>), IngestError> {
    let container = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(Container::from_content_type)
        .ok_or_else(|| {
            IngestError::UnsupportedMedia(
                "content-type must be audio/wav, audio/x-wav, audio/wave, audio/mpeg, audio/flac or audio/ogg"
                    .into(),
            )
        })?;
    // The HTTP layer has already refused `Transfer-Encoding` beside
    // `Content-Length`, or other than `chunked` (400 malformed_request):
    // a chunked body here is one without a length.
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Ok((container, None));
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .ok_or(IngestError::LengthRequired(
            "content-length is required, or a body sent with transfer-encoding: chunked",
        ))?
        .to_str()
        .ok()
        .and_then(|value| value.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            IngestError::InvalidHeader("content-length must be a number of bytes".into())
        })?;
    Ok((container, Some(length)))
}

pub(crate) fn call_metadata(headers: &HeaderMap) -> Result<CallMetadata, IngestError> {
    let value = headers.get(CALL_HEADER).ok_or_else(|| {
        IngestError::InvalidMetadata(format!("the {CALL_HEADER} header is required"))
    })?;
    call::parse(value.as_bytes()).map_err(|error| IngestError::InvalidMetadata(error.0))
}
