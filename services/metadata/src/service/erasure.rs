//! A data subject's erasure request (GDPR art. 17, APPI art. 35), as the
//! disclosure service orders it once approved: each recording named is
//! either kept, with its reason, or crypto-shredded through the deletion
//! path (`deletion`), under one deletion certificate naming the request.
//!
//! - Under an active legal hold: kept (`LegalHold`), restricted.
//! - Under a statutory rule not yet due: kept (`Statutory`), restricted.
//!   A kept recording stays restricted (the request's own restriction)
//!   until the retention run deletes it when it is due and no hold covers
//!   it.
//! - Otherwise shredded, reason `erasure`, policy naming the request.
//!   Preservations don't hold an erasure back: they keep recordings from
//!   the retention clock while requests are open, and the disclosure
//!   service, which owns every request of the tenant, is the one ordering
//!   this erasure.
//!
//! Idempotent: a recording already shredded (by an earlier, interrupted
//! call, or by any deletion since it was found) is reported erased, since
//! nothing of it is left; the call finishes what an interrupted one left.

use callvault_contracts::lifecycle_api::DeletionReason;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::subject::{ErasureOutcome, RetainedBecause, RetainedRecording};
use callvault_contracts::{Actor, RecordingId, TenantId};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::MetadataService;
use super::deletion::{Job, Outcome, Policy};
use super::deletion_certificates::new_certificate;
use super::restriction::{distinct_ids, lock_tenant};
use super::subject::{MAX_SUBJECT_IDS, statutory_of};
use crate::db::entity::recording;
use crate::db::{db_time, internal};
use crate::store;

impl MetadataService {
    pub async fn erase_for_request(
        &self,
        actor: &Actor,
        tenant: TenantId,
        request: Uuid,
        ids: Vec<RecordingId>,
    ) -> ApiResult<ErasureOutcome> {
        self.machine_tenant(tenant).await?;
        let ids = distinct_ids(ids)?;
        if ids.is_empty() {
            return Err(ApiError::invalid(format!(
                "ids must name 1 to {MAX_SUBJECT_IDS} recordings to erase"
            )));
        }
        let storage = self.require_storage()?;
        // Every id must be the tenant's, catalogued or shredded: one that
        // isn't (another tenant's) refuses the call before anything is done.
        let tombstoned = store::subject::tombstones(&self.db, tenant, &ids)
            .await
            .map_err(internal)?;
        let catalogued = store::subject::rows(&self.db, tenant, &ids)
            .await
            .map_err(internal)?;
        if ids
            .iter()
            .any(|id| !tombstoned.contains_key(id) && !catalogued.contains_key(id))
        {
            return Err(ApiError::not_found("recording"));
        }
        let statutory = self.statutory_rules(tenant).await?;

        let now = db_time(self.now());
        let mut certificate = new_certificate(tenant, now, Some(request));
        let job = Job {
            actor,
            reason: DeletionReason::Erasure,
            policy: Policy::Note(format!("data-subject erasure request {request}")),
            certificate: certificate.id,
            storage,
            erasure_request: Some(request),
        };
        self.store_certificate(&certificate).await?;

        let mut erased = Vec::new();
        let mut retained = Vec::new();
        let mut failure = None;
        for id in ids {
            if tombstoned.contains_key(&id) {
                erased.push(RecordingId(id));
                continue;
            }
            // Read again: it may have been deleted since.
            let Some(row) = store::recordings::get(&self.db, tenant, RecordingId(id))
                .await
                .map_err(internal)?
            else {
                erased.push(RecordingId(id));
                continue;
            };
            let holds = self.holds_covering(tenant, &row).await?;
            if !holds.is_empty() {
                retained.push(self.keep(actor, tenant, request, &row, held(holds)).await?);
                continue;
            }
            if let Some(retention) = statutory_of(&row, &statutory)
                && row.retain_until > now
            {
                let because = RetainedBecause::Statutory { retention };
                retained.push(self.keep(actor, tenant, request, &row, because).await?);
                continue;
            }
            match self.delete_one(tenant, id, &job).await {
                Ok(Outcome::Deleted(tombstone)) => {
                    certificate.deleted.push(tombstone);
                    erased.push(RecordingId(id));
                }
                // A hold placed since the check above.
                Ok(Outcome::HeldBack) => {
                    let holds = self.holds_covering(tenant, &row).await?;
                    certificate.held_back.push(RecordingId(id));
                    retained.push(self.keep(actor, tenant, request, &row, held(holds)).await?);
                }
                Ok(Outcome::Failed) => {
                    certificate.failed.push(RecordingId(id));
                    failure = Some(ApiError::new(
                        ErrorCode::Unavailable,
                        "a recording could not be shredded: call again in an hour to finish the erasure",
                    ));
                }
                // Gone meanwhile (another deletion finished it), or claimed by
                // another deletion still under way.
                Ok(Outcome::Skipped) => {
                    let exists = store::recordings::get(&self.db, tenant, RecordingId(id))
                        .await
                        .map_err(internal)?
                        .is_some();
                    if exists {
                        failure = Some(ApiError::new(
                            ErrorCode::Unavailable,
                            "a recording is being deleted by another deletion: call again later to finish the erasure",
                        ));
                    } else {
                        erased.push(RecordingId(id));
                    }
                }
                Ok(Outcome::HeldByRequest(_)) => {
                    // An erasure's own job never stops at preservations.
                    debug_assert!(false, "an erasure was held back by a preservation");
                    failure = Some(ApiError::new(ErrorCode::Internal, "internal error"));
                }
                // The database is failing: stop, but certify what was done
                // (its tombstones already name this certificate).
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }

        certificate.finished_at = db_time(self.now());
        certificate
            .deleted
            .sort_by_key(|t| (t.deleted_at, t.recording_id));
        let certificate_id = if certificate.deleted.is_empty() && certificate.failed.is_empty() {
            // Nothing deleted, so no tombstone names it.
            store::deletion::delete_certificate(&self.db, tenant, certificate.id)
                .await
                .map_err(internal)?;
            store::subject::latest_certificate_of_request(&self.db, tenant, request)
                .await
                .map_err(internal)?
        } else {
            self.finish_certificate(&mut certificate).await?;
            (!certificate.deleted.is_empty()).then_some(certificate.id)
        };
        tracing::info!(
            tenant_id = %tenant,
            request_id = %request,
            erased = erased.len(),
            retained = retained.len(),
            failed = certificate.failed.len(),
            "erasure request carried out"
        );
        if let Some(err) = failure {
            return Err(err);
        }
        Ok(ErasureOutcome {
            erased,
            retained,
            certificate_id,
        })
    }

    /// Keeps a recording the erasure can't delete, restricted by the
    /// request until it is due.
    async fn keep(
        &self,
        actor: &Actor,
        tenant: TenantId,
        request: Uuid,
        row: &recording::Model,
        because: RetainedBecause,
    ) -> ApiResult<RetainedRecording> {
        let reason = match &because {
            RetainedBecause::LegalHold { .. } => {
                "erasure request: kept under legal hold, restricted until it can be erased"
            }
            RetainedBecause::Statutory { .. } => {
                "erasure request: kept under statutory retention, restricted until it is due"
            }
        };
        let txn = self.db.begin().await.map_err(internal)?;
        lock_tenant(&txn, tenant).await?;
        self.restrict_in(&txn, actor, tenant, request, &[row.id], reason)
            .await?;
        txn.commit().await.map_err(internal)?;
        Ok(RetainedRecording {
            recording_id: RecordingId(row.id),
            because,
            retain_until: row.retain_until,
        })
    }
}

fn held(holds: Vec<Uuid>) -> RetainedBecause {
    RetainedBecause::LegalHold { holds }
}
