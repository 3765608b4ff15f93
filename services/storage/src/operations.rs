//! The storage service on the bus: the operations it serves (shredding, for
//! the metadata service's deletions; verifying a recording, for the
//! gateway; stored byte-seconds, for billing's reconciliation) and the
//! events it consumes (a tenant's key changed: re-wrap its data keys).

use std::sync::Arc;

use async_trait::async_trait;
use callvault_bus::{EventHandler, HandlerError, Message, Router};
use callvault_contracts::events::{IntegrityCheck, TenantKeyChangedV1};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::offboarding::{ShredTenant, TenantShredded};
use callvault_contracts::ops::storage::{
    Shred, StoredByteSeconds, TenantByteSeconds, Verification, VerifyRecording,
};
use callvault_contracts::permissions::{self, Permission, Target};
use callvault_keys::KeyRef;

use crate::{RecordingStore, StorageError};

/// Every operation the storage service serves.
pub fn router(store: &Arc<RecordingStore>) -> Router {
    let mut router = Router::new();
    router.route(store, |store, request: Shred| async move {
        shred(&store, request).await
    });
    router.route(store, |store, request: VerifyRecording| async move {
        verify(&store, request).await
    });
    router.route(store, |store, request: ShredTenant| async move {
        shred_tenant(&store, request).await
    });
    router.route(store, |store, request: StoredByteSeconds| async move {
        stored_byte_seconds(&store, request).await
    });
    router
}

/// Billing's reconciliation: every tenant's stored byte-seconds over the
/// window, from storage's own records.
async fn stored_byte_seconds(
    store: &RecordingStore,
    request: StoredByteSeconds,
) -> ApiResult<Vec<TenantByteSeconds>> {
    let StoredByteSeconds { from, to } = request;
    if to < from {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the window ends (`to`) before it starts (`from`)",
        ));
    }
    match store.stored_byte_seconds(from, to).await {
        Ok(totals) => Ok(totals
            .into_iter()
            .map(|(tenant, byte_seconds)| TenantByteSeconds {
                tenant,
                byte_seconds: byte_seconds.to_string(),
            })
            .collect()),
        Err(StorageError::Unavailable(why)) => {
            tracing::warn!(%from, %to, error = %why, "stored byte-seconds not summed");
            Err(ApiError::new(ErrorCode::Unavailable, "storage unavailable"))
        }
        Err(other) => {
            tracing::error!(%from, %to, error = %other, "stored byte-seconds failed");
            Err(ApiError::new(
                ErrorCode::Internal,
                "stored byte-seconds failed",
            ))
        }
    }
}

async fn verify(store: &RecordingStore, request: VerifyRecording) -> ApiResult<Verification> {
    let VerifyRecording {
        actor,
        tenant,
        recording,
    } = request;
    // Defence in depth: the gateway checked the same table.
    let target = Target::Tenant { tenant, bpo: None };
    if !permissions::allows(&actor, Permission::VerifyRecordings, target) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "not allowed to verify this tenant's recordings",
        ));
    }
    store
        .verify(tenant, recording, IntegrityCheck::Verify)
        .await
        .map_err(|error| match error {
            StorageError::NotFound => ApiError::new(ErrorCode::NotFound, "recording not found"),
            StorageError::Shredded { .. } => ApiError::new(
                ErrorCode::Conflict,
                "the recording was shredded: there is nothing left to verify",
            ),
            StorageError::Unavailable(why) => {
                tracing::warn!(%tenant, %recording, error = %why, "verification not done");
                ApiError::new(ErrorCode::Unavailable, "storage unavailable")
            }
            other => {
                tracing::error!(%tenant, %recording, error = %other, "verification failed");
                ApiError::new(ErrorCode::Internal, "verification failed")
            }
        })
}

async fn shred(store: &RecordingStore, request: Shred) -> ApiResult<()> {
    let Shred { tenant, recording } = request;
    match store.shred(tenant, recording).await {
        Ok(_) => Ok(()),
        // Nothing was ever stored under this id (a catalogue entry whose
        // upload was discarded): there is nothing left to destroy.
        Err(StorageError::NotFound) => {
            tracing::warn!(%tenant, %recording, "shred of a recording storage never held");
            Ok(())
        }
        Err(StorageError::Unavailable(why)) => {
            tracing::warn!(%tenant, %recording, error = %why, "shred failed, will be retried");
            Err(ApiError::new(ErrorCode::Unavailable, "storage unavailable"))
        }
        Err(other) => {
            tracing::error!(%tenant, %recording, error = %other, "shred failed");
            Err(ApiError::new(ErrorCode::Internal, "shred failed"))
        }
    }
}

/// Storage's part of an offboarding, for the metadata service (which
/// checked the offboarding was allowed and froze the tenant first).
async fn shred_tenant(store: &RecordingStore, request: ShredTenant) -> ApiResult<TenantShredded> {
    let ShredTenant { tenant, key_ref } = request;
    let key = key_ref.map(KeyRef);
    match store.shred_tenant(tenant, key.as_ref()).await {
        Ok(report) => Ok(TenantShredded {
            shredded: report.shredded,
            already_shredded: report.already_shredded,
            key_destroyed: report.key_destroyed,
        }),
        Err(StorageError::Unavailable(why)) => {
            tracing::warn!(%tenant, error = %why, "tenant shred interrupted, will be resumed");
            Err(ApiError::new(ErrorCode::Unavailable, "storage unavailable"))
        }
        Err(other) => {
            tracing::error!(%tenant, error = %other, "tenant shred failed");
            Err(ApiError::new(ErrorCode::Internal, "tenant shred failed"))
        }
    }
}

/// The storage side of a tenant key change: re-wraps the tenant's data keys
/// onto the new key. Safe to run twice (a redelivery): a second run finds
/// nothing left under the old key, or re-wraps onto the same key again.
pub struct KeyChangeConsumer(pub Arc<RecordingStore>);

#[async_trait]
impl EventHandler for KeyChangeConsumer {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let event: TenantKeyChangedV1 = message
            .decode()
            .map_err(|e| HandlerError::permanent(format!("tenant.key_changed: {e}")))?;
        let report = self
            .0
            .rewrap_tenant(
                event.tenant_id,
                &KeyRef(event.from_key_ref),
                &KeyRef(event.to_key_ref),
            )
            .await
            .map_err(|e| match e {
                // The new key (or the old one) doesn't exist for the key
                // provider, which looked again before saying so: no retry
                // helps, the message goes to the dead letters.
                StorageError::Key(_) => HandlerError::permanent(format!("re-wrap failed: {e}")),
                _ => HandlerError::retryable(format!("re-wrap failed: {e}")),
            })?;
        tracing::info!(
            tenant_id = %event.tenant_id,
            rewrapped = report.rewrapped,
            skipped = report.skipped,
            "tenant data keys re-wrapped"
        );
        Ok(())
    }
}
