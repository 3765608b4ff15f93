//! A request's personal data — the requester's contact details and the
//! subject's numbers — sealed under a data key of its own, generated under
//! the tenant's master key. Deleting the wrapped key (or the tenant's
//! master key) makes it unreadable.

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use callvault_contracts::TenantId;
use callvault_contracts::disclosure_api::RequesterContact;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_keys::{EncryptionContext, KeyError, KeyProvider, KeyRef, WrappedKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What is sealed: never in a log, a span or the JSON document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PersonalData {
    pub requester: RequesterContact,
    /// E.164.
    pub numbers: Vec<String>,
}

/// Seals and opens requests' personal data through the key provider.
#[derive(Clone)]
pub(crate) struct Sealing {
    keys: Arc<dyn KeyProvider>,
}

/// A sealed body and the wrapped key that opens it.
pub(crate) struct Sealed {
    pub key_ref: String,
    pub wrapped_key: Vec<u8>,
    pub body: Vec<u8>,
}

impl Sealing {
    pub fn new(keys: Arc<dyn KeyProvider>) -> Self {
        Self { keys }
    }

    pub async fn seal(
        &self,
        tenant: TenantId,
        request: Uuid,
        master_key: &str,
        data: &PersonalData,
    ) -> ApiResult<Sealed> {
        let context = context(tenant, request);
        let (data_key, wrapped) = self
            .keys
            .generate_data_key(&KeyRef(master_key.to_owned()), &context)
            .await
            .map_err(key_error)?;
        let key = aead_key(data_key.as_bytes())?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| sealing_failed())?;
        let mut body = serde_json::to_vec(data).map_err(|_| sealing_failed())?;
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(tenant, request)),
            &mut body,
        )
        .map_err(|_| sealing_failed())?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&body);
        Ok(Sealed {
            key_ref: wrapped.key_ref.0,
            wrapped_key: wrapped.ciphertext,
            body: sealed,
        })
    }

    pub async fn open(
        &self,
        tenant: TenantId,
        request: Uuid,
        key_ref: &str,
        wrapped_key: &[u8],
        sealed: &[u8],
    ) -> ApiResult<PersonalData> {
        let wrapped = WrappedKey {
            key_ref: KeyRef(key_ref.to_owned()),
            ciphertext: wrapped_key.to_vec(),
        };
        let data_key = self
            .keys
            .decrypt(&wrapped, &context(tenant, request))
            .await
            .map_err(key_error)?;
        let key = aead_key(data_key.as_bytes())?;
        let Some((nonce, body)) = sealed.split_first_chunk::<NONCE_LEN>() else {
            return Err(unreadable());
        };
        let mut body = body.to_vec();
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad(tenant, request)),
                &mut body,
            )
            .map_err(|_| unreadable())?;
        serde_json::from_slice(plain).map_err(|_| unreadable())
    }
}

fn context(tenant: TenantId, request: Uuid) -> EncryptionContext {
    EncryptionContext::for_disclosure_request(&tenant.to_string(), &request.to_string())
}

/// Binds the ciphertext to its tenant and request, so a sealed body copied
/// onto another row does not open.
fn aad(tenant: TenantId, request: Uuid) -> Vec<u8> {
    let mut aad = b"callvault disclosure request v1".to_vec();
    aad.extend_from_slice(tenant.0.as_bytes());
    aad.extend_from_slice(request.as_bytes());
    aad
}

fn aead_key(bytes: &[u8]) -> ApiResult<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| sealing_failed())
}

fn sealing_failed() -> ApiError {
    tracing::error!("sealing a request's personal data failed");
    ApiError::new(ErrorCode::Internal, "internal error")
}

fn unreadable() -> ApiError {
    tracing::error!("a request's sealed personal data does not open");
    ApiError::new(ErrorCode::Internal, "internal error")
}

/// The tenant's key decides: disabled or gone means the request can't be
/// read until it is usable again.
pub(crate) fn key_error(err: KeyError) -> ApiError {
    match err {
        KeyError::NotFound(_) | KeyError::Disabled(_) | KeyError::InvalidCiphertext => {
            tracing::warn!(
                kind = err.kind(),
                "tenant key unusable for a disclosure request"
            );
            ApiError::new(
                ErrorCode::TenantKeyUnusable,
                "the tenant's master key is not usable",
            )
        }
        KeyError::Unavailable(_) | KeyError::Other(_) => {
            tracing::warn!(kind = err.kind(), "key provider unavailable");
            ApiError::new(ErrorCode::Unavailable, "key provider unavailable")
        }
    }
}
