//! Spans around any key provider: [`Traced`] opens one per call, named
//! `keys.<operation>`, whichever backend answers it.
//!
//! A span carries the key reference (a key name, ARN or alias: not secret),
//! the tenant and recording the encryption context names, and how the call
//! ended (`outcome`, and on failure `error.kind`). Nothing else from the
//! arguments or the result reaches it: no data key, plaintext or wrapped,
//! and no error message, which may quote the provider.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::field::Empty;
use tracing::{Instrument, Span, info_span};

use crate::{DataKey, EncryptionContext, KeyError, KeyProvider, KeyRef, WrappedKey};

/// A [`KeyProvider`] that traces every call of the one it wraps.
pub struct Traced(Arc<dyn KeyProvider>);

impl Traced {
    pub fn new(inner: Arc<dyn KeyProvider>) -> Self {
        Self(inner)
    }
}

/// The context's tenant and recording, as span fields (absent when the
/// context doesn't name one).
fn ids(context: &EncryptionContext) -> (Option<&str>, Option<&str>) {
    let entries = context.entries();
    (
        entries.get("tenant").map(String::as_str),
        entries.get("recording").map(String::as_str),
    )
}

/// Notes how the call ended on `span`. An error status only for what an
/// operator must look at (the provider failing, a wrapped key that doesn't
/// verify), not for a key the caller named wrongly.
fn ended<T>(span: &Span, result: Result<T, KeyError>) -> Result<T, KeyError> {
    match &result {
        Ok(_) => {
            span.record("outcome", "ok");
        }
        Err(error) => {
            span.record("outcome", "error");
            span.record("error.kind", error.kind());
            if !matches!(error, KeyError::NotFound(_) | KeyError::Disabled(_)) {
                span.record("otel.status_code", "ERROR");
            }
        }
    }
    result
}

#[async_trait]
impl KeyProvider for Traced {
    async fn create_tenant_key(&self, tenant: &str) -> Result<KeyRef, KeyError> {
        let span = info_span!(
            "keys.create_tenant_key",
            tenant_id = tenant,
            key_ref = Empty,
            outcome = Empty,
            error.kind = Empty,
            otel.status_code = Empty,
        );
        let result = self
            .0
            .create_tenant_key(tenant)
            .instrument(span.clone())
            .await;
        if let Ok(key) = &result {
            span.record("key_ref", key.0.as_str());
        }
        ended(&span, result)
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        let (tenant, recording) = ids(context);
        let span = info_span!(
            "keys.generate_data_key",
            key_ref = key.0.as_str(),
            tenant_id = tenant,
            recording_id = recording,
            outcome = Empty,
            error.kind = Empty,
            otel.status_code = Empty,
        );
        let result = self
            .0
            .generate_data_key(key, context)
            .instrument(span.clone())
            .await;
        ended(&span, result)
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let (tenant, recording) = ids(context);
        let span = info_span!(
            "keys.decrypt",
            key_ref = wrapped.key_ref.0.as_str(),
            tenant_id = tenant,
            recording_id = recording,
            outcome = Empty,
            error.kind = Empty,
            otel.status_code = Empty,
        );
        let result = self
            .0
            .decrypt(wrapped, context)
            .instrument(span.clone())
            .await;
        ended(&span, result)
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        new_key: &KeyRef,
    ) -> Result<WrappedKey, KeyError> {
        let (tenant, recording) = ids(context);
        let span = info_span!(
            "keys.rewrap",
            key_ref = wrapped.key_ref.0.as_str(),
            new_key_ref = new_key.0.as_str(),
            tenant_id = tenant,
            recording_id = recording,
            outcome = Empty,
            error.kind = Empty,
            otel.status_code = Empty,
        );
        let result = self
            .0
            .rewrap(wrapped, context, new_key)
            .instrument(span.clone())
            .await;
        ended(&span, result)
    }

    async fn check_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        let span = info_span!(
            "keys.check_key",
            key_ref = key.0.as_str(),
            outcome = Empty,
            error.kind = Empty,
            otel.status_code = Empty,
        );
        let result = self.0.check_key(key).instrument(span.clone()).await;
        ended(&span, result)
    }

    async fn rotate(&self, key: &KeyRef) -> Result<(), KeyError> {
        let span = info_span!(
            "keys.rotate",
            key_ref = key.0.as_str(),
            outcome = Empty,
            error.kind = Empty,
            otel.status_code = Empty,
        );
        let result = self.0.rotate(key).instrument(span.clone()).await;
        ended(&span, result)
    }

    async fn destroy_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        let span = info_span!(
            "keys.destroy_key",
            key_ref = key.0.as_str(),
            outcome = Empty,
            error.kind = Empty,
            otel.status_code = Empty,
        );
        let result = self.0.destroy_key(key).instrument(span.clone()).await;
        ended(&span, result)
    }
}
