//! Data-subject requests' holds on recordings (machine calls, see
//! `subject`):
//!
//! - preservation: an open request preserves the recordings it matched,
//!   so the retention run (and a user's deletion) holds them back like a
//!   legal hold until the request releases them;
//! - restriction (GDPR art. 18, APPI's 利用停止): a restricted recording is
//!   still listed, but played or downloaded only by a compliance officer
//!   who gives a reason ([`MetadataService::check_restriction`]). Each
//!   restriction and lift is a `disclosure` audit entry.

use std::collections::HashSet;

use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::{Actor, RecordingId, Role, TenantId};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::MetadataService;
use super::holds::{MAX_REASON_CHARS, free_text};
use super::subject::MAX_SUBJECT_IDS;
use crate::audit::{self, AuditRecord};
use crate::db::entity::recording_restriction;
use crate::db::{db_time, internal};
use crate::store;

impl MetadataService {
    /// Makes `ids` exactly what `request` preserves (none: released).
    pub async fn preserve_for_request(
        &self,
        tenant: TenantId,
        request: Uuid,
        ids: Vec<RecordingId>,
    ) -> ApiResult<()> {
        self.machine_tenant(tenant).await?;
        let ids = distinct_ids(ids)?;
        let at = db_time(self.now());
        let txn = self.db.begin().await.map_err(internal)?;
        // Preservations and deletion claims serialise on the tenant's row,
        // as holds do: a deletion either claimed before (and the check
        // below refuses) or sees the preservation.
        lock_tenant(&txn, tenant).await?;
        if !ids.is_empty() {
            let found = store::holds::lock_recordings(&txn, tenant, &ids)
                .await
                .map_err(internal)?;
            // One unknown id (another tenant's, or shredded) refuses the
            // whole list: a request must not silently preserve less.
            if found.len() != ids.len() {
                txn.rollback().await.map_err(internal)?;
                return Err(ApiError::not_found("recording"));
            }
            if let Some(id) = ids
                .iter()
                .find(|id| found.get(id).is_some_and(Option::is_some))
            {
                txn.rollback().await.map_err(internal)?;
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("recording {id} is being deleted"),
                ));
            }
        }
        store::subject::replace_preservations(&txn, tenant, request, &ids, at)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, request_id = %request, recordings = ids.len(), "recordings preserved for a data-subject request");
        Ok(())
    }

    /// Restricts `ids` for `request`, or lifts the request's restriction
    /// of `ids` (of all it restricts when `ids` is empty).
    pub async fn restrict_recordings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        request: Uuid,
        ids: Vec<RecordingId>,
        restricted: bool,
        reason: String,
    ) -> ApiResult<()> {
        self.machine_tenant(tenant).await?;
        let reason = free_text(&reason, "reason", MAX_REASON_CHARS)?;
        let ids = distinct_ids(ids)?;
        let txn = self.db.begin().await.map_err(internal)?;
        lock_tenant(&txn, tenant).await?;
        if restricted {
            if ids.is_empty() {
                txn.rollback().await.map_err(internal)?;
                return Err(ApiError::invalid(format!(
                    "ids must name 1 to {MAX_SUBJECT_IDS} recordings to restrict"
                )));
            }
            let known: HashSet<Uuid> = store::subject::rows(&txn, tenant, &ids)
                .await
                .map_err(internal)?
                .into_keys()
                .collect();
            if ids.iter().any(|id| !known.contains(id)) {
                txn.rollback().await.map_err(internal)?;
                return Err(ApiError::not_found("recording"));
            }
            self.restrict_in(&txn, actor, tenant, request, &ids, &reason)
                .await?;
        } else {
            let only = (!ids.is_empty()).then_some(ids.as_slice());
            let lifted = store::subject::lift_restrictions(&txn, tenant, request, only)
                .await
                .map_err(internal)?;
            for id in &lifted {
                self.audit_restriction(&txn, actor, tenant, request, *id, false, &reason)
                    .await?;
            }
        }
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, request_id = %request, restricted, "data-subject restriction changed");
        Ok(())
    }

    /// Restricts `ids` for `request` in `txn` (the caller holds the
    /// tenant's lock and checked the ids are the tenant's); an audit entry
    /// for each recording not already restricted by the request.
    pub(super) async fn restrict_in(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor,
        tenant: TenantId,
        request: Uuid,
        ids: &[Uuid],
        reason: &str,
    ) -> ApiResult<()> {
        let at = db_time(self.now());
        for &id in ids {
            let row = recording_restriction::Model {
                tenant_id: tenant.0,
                recording_id: id,
                request_id: request,
                reason: reason.to_owned(),
                restricted_at: at,
                restricted_by: actor.subject.clone(),
            };
            if store::subject::insert_restriction(txn, row)
                .await
                .map_err(internal)?
            {
                self.audit_restriction(txn, actor, tenant, request, id, true, reason)
                    .await?;
            }
        }
        Ok(())
    }

    /// Playback (and download) of a restricted recording: refused with
    /// `RECORDING_RESTRICTED`, but to a compliance officer giving a reason
    /// (`reason` is the checked one: blank is none).
    pub(super) async fn check_restriction(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        reason: Option<&str>,
    ) -> ApiResult<bool> {
        let restricted = !store::subject::restricted_among(&self.db, tenant, &[recording.0])
            .await
            .map_err(internal)?
            .is_empty();
        if !restricted {
            return Ok(false);
        }
        if actor.role == Role::ComplianceOfficer && reason.is_some() {
            return Ok(true);
        }
        tracing::info!(
            tenant_id = %tenant,
            recording_id = %recording,
            role = actor.role.as_str(),
            "playback of a restricted recording refused"
        );
        Err(ApiError::new(
            ErrorCode::RecordingRestricted,
            "the recording is restricted by a data-subject request: only a compliance officer giving a reason may play or download it",
        ))
    }

    #[allow(clippy::too_many_arguments)]
    async fn audit_restriction(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor,
        tenant: TenantId,
        request: Uuid,
        recording: Uuid,
        restricted: bool,
        reason: &str,
    ) -> ApiResult<()> {
        let record = AuditRecord {
            action: AuditAction::Disclosure,
            target: Some(recording.to_string()),
            reason: Some(reason.to_owned()),
            details: json!({ "request_id": request, "restricted": restricted }),
        };
        audit::append(txn, tenant, actor, self.now(), record)
            .await
            .map_err(internal)?;
        Ok(())
    }
}

/// Takes the tenant's row lock for the rest of the transaction.
pub(super) async fn lock_tenant<C: ConnectionTrait>(txn: &C, tenant: TenantId) -> ApiResult<()> {
    store::tenancy::lock_tenant(txn, tenant)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(())
}

/// At most [`MAX_SUBJECT_IDS`] ids, duplicates dropped, in the order given.
pub(super) fn distinct_ids(ids: Vec<RecordingId>) -> ApiResult<Vec<Uuid>> {
    if ids.len() > MAX_SUBJECT_IDS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_SUBJECT_IDS} recording ids per call"
        )));
    }
    let mut seen = HashSet::with_capacity(ids.len());
    Ok(ids
        .into_iter()
        .map(|id| id.0)
        .filter(|id| seen.insert(*id))
        .collect())
}
