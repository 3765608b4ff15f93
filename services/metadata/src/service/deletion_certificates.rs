//! Deletion certificates as rows and as the API returns them: stored empty
//! when a deletion starts, finished (and signed, [`crate::certificate`])
//! when it ends, listed with the tombstones that name them.

use callvault_contracts::events::DeletionCertificateIssuedV1;
use callvault_contracts::lifecycle_api::{
    DeletionCertificate, DeletionReason, HeldByRequest, Tombstone,
};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, RecordingId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::{MetadataService, corrupt};
use crate::certificate;
use crate::db::entity::{deletion_certificate, recording_tombstone};
use crate::db::internal;
use crate::store;

impl MetadataService {
    pub async fn list_deletion_certificates(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<DeletionCertificate>> {
        self.authorize_tenant(actor, Permission::ManageDeletion, tenant)
            .await?;
        let mut rows = store::deletion::certificates(&self.db, tenant)
            .await
            .map_err(internal)?;
        // Finished but unsigned: made before certificates were signed, or
        // its signing failed. Signed now, once.
        if let Some(keys) = &self.manifest {
            for row in rows.iter_mut().filter(|r| r.finished && r.body.is_none()) {
                if let Some(sealed) = certificate::seal(&self.db, keys, tenant, row.id)
                    .await
                    .map_err(internal)?
                {
                    *row = sealed;
                }
            }
        }
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut tombstones = store::deletion::tombstones_of(&self.db, tenant, &ids)
            .await
            .map_err(internal)?;
        rows.into_iter()
            .map(|row| {
                let deleted = tombstones
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(tombstone_from_row)
                    .collect::<ApiResult<Vec<_>>>()?;
                Ok(DeletionCertificate {
                    body: row.body,
                    signature: row.signature,
                    id: row.id,
                    tenant_id: TenantId(row.tenant_id),
                    started_at: row.started_at,
                    finished_at: row.finished_at,
                    deleted,
                    held_back: id_list(&row.held_back, "held_back")?,
                    failed: id_list(&row.failed, "failed")?,
                    held_by_request: serde_json::from_str(&row.held_by_request)
                        .map_err(|_| corrupt("held_by_request"))?,
                    request_id: row.request_id,
                })
            })
            .collect()
    }

    /// Stores a certificate at the start of its deletion: the tombstones
    /// name it as they are written, so it must exist before the first.
    pub(super) async fn store_certificate(
        &self,
        certificate: &DeletionCertificate,
    ) -> ApiResult<()> {
        store::deletion::insert_certificate(&self.db, certificate_row(certificate)?)
            .await
            .map_err(internal)
    }

    /// Writes the outcome and signs it (without manifest keys, or if
    /// signing fails, the certificate is signed when next read).
    pub(super) async fn finish_certificate(
        &self,
        certificate: &mut DeletionCertificate,
    ) -> ApiResult<()> {
        // A run that touched nothing issues no event: retention looks at
        // every tenant every day.
        let touched = !(certificate.deleted.is_empty()
            && certificate.held_back.is_empty()
            && certificate.failed.is_empty());
        let txn = self.db.begin().await.map_err(internal)?;
        store::deletion::finish_certificate(&txn, certificate_row(certificate)?)
            .await
            .map_err(internal)?;
        if touched {
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            let issued = DeletionCertificateIssuedV1 {
                tenant_id: certificate.tenant_id,
                certificate_id: certificate.id,
                deleted: count(certificate.deleted.len()),
                held_back: count(certificate.held_back.len()),
                failed: count(certificate.failed.len()),
                finished_at: certificate.finished_at,
            };
            super::publish(&txn, &issued).await?;
        }
        txn.commit().await.map_err(internal)?;
        let Some(keys) = &self.manifest else {
            return Ok(());
        };
        match certificate::seal(&self.db, keys, certificate.tenant_id, certificate.id).await {
            Ok(Some(row)) => {
                certificate.body = row.body;
                certificate.signature = row.signature;
            }
            Ok(None) => {}
            Err(err) => {
                // Logged by `internal`; the deletion stands either way.
                let _ = internal(err);
            }
        }
        Ok(())
    }
}

/// A certificate for a deletion starting at `started_at`, nothing done yet.
pub(super) fn new_certificate(
    tenant: TenantId,
    started_at: DateTime<Utc>,
    request: Option<Uuid>,
) -> DeletionCertificate {
    DeletionCertificate {
        body: None,
        signature: None,
        id: Uuid::new_v4(),
        tenant_id: tenant,
        started_at,
        finished_at: started_at,
        deleted: Vec::new(),
        held_back: Vec::new(),
        failed: Vec::new(),
        held_by_request: Vec::new(),
        request_id: request,
    }
}

/// The certificate's row; its deleted recordings are the tombstones naming
/// it.
fn certificate_row(certificate: &DeletionCertificate) -> ApiResult<deletion_certificate::Model> {
    Ok(deletion_certificate::Model {
        tenant_id: certificate.tenant_id.0,
        id: certificate.id,
        started_at: certificate.started_at,
        finished_at: certificate.finished_at,
        held_back: to_json(&certificate.held_back)?,
        failed: to_json(&certificate.failed)?,
        finished: false,
        body: None,
        signature: None,
        held_by_request: to_json::<[HeldByRequest]>(&certificate.held_by_request)?,
        request_id: certificate.request_id,
    })
}

pub(super) fn reason_str(reason: DeletionReason) -> &'static str {
    match reason {
        DeletionReason::Retention => "retention",
        DeletionReason::UserRequest => "user_request",
        DeletionReason::Erasure => "erasure",
    }
}

pub(super) fn tombstone_from_row(row: recording_tombstone::Model) -> ApiResult<Tombstone> {
    let reason = [
        DeletionReason::Retention,
        DeletionReason::UserRequest,
        DeletionReason::Erasure,
    ]
    .into_iter()
    .find(|r| reason_str(*r) == row.reason)
    .ok_or_else(|| corrupt("reason"))?;
    Ok(Tombstone {
        recording_id: RecordingId(row.recording_id),
        tenant_id: TenantId(row.tenant_id),
        deleted_at: row.deleted_at,
        reason,
        policy: row.policy,
        deleted_by: row.deleted_by,
    })
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(|err| {
        tracing::error!(error = %err, "encoding a certificate's ids failed");
        ApiError::new(ErrorCode::Internal, "internal error")
    })
}

fn id_list(raw: &str, field: &'static str) -> ApiResult<Vec<RecordingId>> {
    serde_json::from_str(raw).map_err(|_| corrupt(field))
}
