//! Deleting recordings: crypto-shredding through the storage service, the
//! catalogue purge, tombstones and deletion certificates, for retention
//! (the worker), user requests and erasure requests alike.
//!
//! One recording goes in three steps, so no transaction stays open while
//! the storage service works:
//! 1. a transaction claims it (`deleting_since`) after checking no hold
//!    covers it and (but for an erasure request's own deletions) no open
//!    data-subject request preserves it: a hold or a preservation can't be
//!    placed on a claimed recording, and a deletion can't claim a held or
//!    preserved one;
//! 2. the storage service shreds it (idempotent);
//! 3. a transaction purges the catalogue row, writes the tombstone and the
//!    audit entry.
//!
//! A shred that fails keeps its claim: the storage service may still be
//! shredding (a timeout says nothing about whether it went through), so the
//! recording must stay unholdable. Like the claim of a worker that crashed
//! between the steps, it goes stale after [`STALE_CLAIM`], when the next
//! run takes it over and finishes.

use callvault_bus::Router;
use std::sync::Arc;

use callvault_bus::RpcClient;
use callvault_contracts::lifecycle_api::{
    AuditAction, DeletionCertificate, DeletionReason, HeldByRequest, Tombstone,
};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::storage::Shred;
use callvault_contracts::{Actor, RecordingId, Role, TenantId};
use chrono::{DateTime, Duration, Utc};
use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::deletion_certificates::{new_certificate, reason_str, tombstone_from_row};
use super::holds::{MAX_REASON_CHARS, free_text, holds_covering_on};
use super::{MetadataService, corrupt};
use crate::audit::{self, AuditRecord};
use crate::db::entity::{recording, recording_tombstone};
use crate::db::{db_time, internal};
use crate::store;
use callvault_contracts::permissions::Permission;

/// Recordings fetched per query by a deletion run.
const BATCH: u64 = 100;
/// A claim this old belongs to a worker that died mid-deletion.
const STALE_CLAIM: Duration = Duration::hours(1);
/// Who the deletion worker is in tombstones and the audit trail.
const WORKER_SUBJECT: &str = "system:retention";

/// Why a recording is being deleted and what the tombstone says of it.
pub(super) enum Policy {
    /// The rule in force, looked up per recording.
    Retention { due_at: DateTime<Utc> },
    /// What the user wrote.
    Note(String),
}

pub(super) struct Job<'a> {
    pub actor: &'a Actor,
    pub reason: DeletionReason,
    pub policy: Policy,
    pub certificate: Uuid,
    pub storage: RpcClient,
    /// The data-subject erasure request this deletion is for: the request
    /// itself decides, so preservations don't hold it back.
    pub erasure_request: Option<Uuid>,
}

pub(super) enum Outcome {
    Deleted(Tombstone),
    /// A hold covers it.
    HeldBack,
    /// Open data-subject requests preserve it (these, in id order).
    HeldByRequest(Vec<Uuid>),
    /// Shredding failed; the claim stays until it goes stale and a later
    /// run retries.
    Failed,
    /// Gone, no longer due, or claimed by another deletion.
    Skipped,
}

impl MetadataService {
    pub async fn delete_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        reason: DeletionReason,
        note: String,
    ) -> ApiResult<DeletionCertificate> {
        self.authorize_tenant(actor, Permission::ManageDeletion, tenant)
            .await?;
        if reason == DeletionReason::Retention {
            return Err(ApiError::invalid(
                "retention deletions are the deletion worker's: give user_request or erasure",
            ));
        }
        let note = free_text(&note, "note", MAX_REASON_CHARS)?;
        let storage = self.require_storage()?;
        store::recordings::get(&self.db, tenant, recording)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("recording"))?;

        let started_at = db_time(self.now());
        let mut certificate = new_certificate(tenant, started_at, None);
        let job = Job {
            actor,
            reason,
            policy: Policy::Note(note),
            certificate: certificate.id,
            storage,
            erasure_request: None,
        };
        // Stored before the tombstone that names it (see `run_deletion_job`).
        self.store_certificate(&certificate).await?;
        let outcome = self.delete_one(tenant, recording.0, &job).await;
        if !matches!(outcome, Ok(Outcome::Deleted(_))) {
            // Nothing was deleted, so no tombstone names it: a refused
            // deletion leaves no certificate. Best effort: an empty one
            // left behind by a failing database certifies nothing wrong.
            if let Err(err) =
                store::deletion::delete_certificate(&self.db, tenant, job.certificate).await
            {
                let _ = internal(err);
            }
        }
        let tombstone = match outcome? {
            Outcome::Deleted(tombstone) => tombstone,
            Outcome::HeldBack => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "recording is under legal hold",
                ));
            }
            Outcome::HeldByRequest(_) => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "recording is preserved for an open data-subject request",
                ));
            }
            Outcome::Failed => {
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    // The claim stays (see `delete_one`): a retry before it
                    // goes stale is told the recording is being deleted, and
                    // a recording not yet due is retried by no run.
                    "the recording could not be shredded; retry in an hour",
                ));
            }
            Outcome::Skipped => {
                let exists = store::recordings::get(&self.db, tenant, recording)
                    .await
                    .map_err(internal)?
                    .is_some();
                return Err(if exists {
                    ApiError::new(
                        ErrorCode::Conflict,
                        "the recording is already being deleted",
                    )
                } else {
                    ApiError::not_found("recording")
                });
            }
        };
        certificate.finished_at = db_time(self.now());
        certificate.deleted = vec![tombstone];
        self.finish_certificate(&mut certificate).await?;
        Ok(certificate)
    }

    pub async fn run_deletion(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<DeletionCertificate> {
        self.run_deletion_job(actor, tenant, Certify::Always).await
    }

    async fn run_deletion_job(
        &self,
        actor: &Actor,
        tenant: TenantId,
        certify: Certify,
    ) -> ApiResult<DeletionCertificate> {
        self.authorize_tenant(actor, Permission::ManageDeletion, tenant)
            .await?;
        let storage = self.require_storage()?;
        let started_at = db_time(self.now());
        let mut certificate = new_certificate(tenant, started_at, None);
        let job = Job {
            actor,
            reason: DeletionReason::Retention,
            policy: Policy::Retention { due_at: started_at },
            certificate: certificate.id,
            storage,
            erasure_request: None,
        };
        // Stored now, empty, and completed at the end: the tombstones name
        // it as they are written, so a run that crashes midway must not
        // leave them naming a certificate that doesn't exist.
        self.store_certificate(&certificate).await?;
        // Keyset over (retain_until, id): held and failed recordings stay
        // due, so paging past them is what ends the run.
        let mut after = None;
        'run: loop {
            let batch = store::deletion::due(
                &self.db,
                tenant,
                started_at,
                started_at - STALE_CLAIM,
                after,
                BATCH,
            )
            .await
            .map_err(internal)?;
            let last_batch = (batch.len() as u64) < BATCH;
            for row in batch {
                after = Some((row.retain_until, row.id));
                let id = RecordingId(row.id);
                match self.delete_one(tenant, row.id, &job).await {
                    Ok(Outcome::Deleted(tombstone)) => certificate.deleted.push(tombstone),
                    Ok(Outcome::HeldBack) => certificate.held_back.push(id),
                    Ok(Outcome::HeldByRequest(requests)) => {
                        certificate
                            .held_by_request
                            .extend(requests.into_iter().map(|request_id| HeldByRequest {
                                recording_id: id,
                                request_id,
                            }))
                    }
                    Ok(Outcome::Failed) => certificate.failed.push(id),
                    Ok(Outcome::Skipped) => {}
                    // The database is failing: stop, but certify what was
                    // done (its tombstones already name this certificate).
                    Err(_) => {
                        certificate.failed.push(id);
                        break 'run;
                    }
                }
            }
            if last_batch {
                break;
            }
        }
        certificate.finished_at = db_time(self.now());
        certificate
            .deleted
            .sort_by_key(|t| (t.deleted_at, t.recording_id));
        let changed = !certificate.deleted.is_empty() || !certificate.failed.is_empty();
        if changed || certify == Certify::Always {
            self.finish_certificate(&mut certificate).await?;
        } else {
            // Nothing deleted, so no tombstone names it.
            store::deletion::delete_certificate(&self.db, tenant, certificate.id)
                .await
                .map_err(internal)?;
        }
        tracing::info!(
            tenant_id = %tenant,
            certificate_id = %certificate.id,
            deleted = certificate.deleted.len(),
            held_back = certificate.held_back.len(),
            held_by_request = certificate.held_by_request.len(),
            failed = certificate.failed.len(),
            "deletion run finished"
        );
        Ok(certificate)
    }

    /// The deletion worker: one run for every tenant with recordings due
    /// now. Tenants with nothing due get no run and no certificate; a run
    /// that only found held recordings stores none either (the timer would
    /// otherwise certify the same holds every hour).
    pub async fn run_due_deletions(&self) -> Vec<(TenantId, ApiResult<DeletionCertificate>)> {
        let now = db_time(self.now());
        let tenants =
            match store::deletion::tenants_with_due(&self.db, now, now - STALE_CLAIM).await {
                Ok(tenants) => tenants,
                Err(err) => {
                    // Logged by `internal`; the next tick retries.
                    let _ = internal(err);
                    return Vec::new();
                }
            };
        let mut results = Vec::with_capacity(tenants.len());
        for tenant in tenants.into_iter().map(TenantId) {
            let result = self
                .run_deletion_job(&worker(tenant), tenant, Certify::WhenSomethingHappened)
                .await;
            if let Err(err) = &result {
                tracing::error!(tenant_id = %tenant, code = err.code.as_str(), "deletion run failed");
            }
            results.push((tenant, result));
        }
        results
    }

    pub(super) fn require_storage(&self) -> ApiResult<RpcClient> {
        self.storage.clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "deletion is unavailable: no storage service to shred with",
            )
        })
    }

    /// Deletes one recording (see the module comment for the steps).
    pub(super) async fn delete_one(
        &self,
        tenant: TenantId,
        id: Uuid,
        job: &Job<'_>,
    ) -> ApiResult<Outcome> {
        let claimed_at = db_time(self.now());
        let txn = self.db.begin().await.map_err(internal)?;
        // The tenant's row lock comes first: every hold placed takes it too,
        // so a hold (a case's filter above all, which locks no recording)
        // either committed before and the check below sees it, or waits for
        // this claim to commit and then sees it. On SQLite it also makes
        // this transaction the writer before it reads anything.
        store::tenancy::lock_tenant(&txn, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        let claimed =
            store::deletion::claim(&txn, tenant, id, claimed_at, claimed_at - STALE_CLAIM)
                .await
                .map_err(internal)?;
        if !claimed {
            txn.rollback().await.map_err(internal)?;
            return Ok(Outcome::Skipped);
        }
        let Some(row) = store::recordings::get(&txn, tenant, RecordingId(id))
            .await
            .map_err(internal)?
        else {
            txn.rollback().await.map_err(internal)?;
            return Ok(Outcome::Skipped);
        };
        // A rule changed since the run started: no longer due.
        if let Policy::Retention { due_at } = job.policy
            && row.retain_until > due_at
        {
            txn.rollback().await.map_err(internal)?;
            return Ok(Outcome::Skipped);
        }
        if !holds_covering_on(&txn, tenant, &row).await?.is_empty() {
            // Rolled back explicitly, not on drop: on PostgreSQL a dropped
            // transaction's ROLLBACK waits for the pooled connection's next
            // use, and the claim's row lock with it.
            txn.rollback().await.map_err(internal)?;
            return Ok(Outcome::HeldBack);
        }
        if job.erasure_request.is_none() {
            let requests = store::subject::preserving(&txn, tenant, id)
                .await
                .map_err(internal)?;
            if !requests.is_empty() {
                txn.rollback().await.map_err(internal)?;
                return Ok(Outcome::HeldByRequest(requests));
            }
        }
        let policy = match &job.policy {
            Policy::Note(note) => note.clone(),
            Policy::Retention { .. } => retention_policy(&txn, tenant, &row).await?,
        };
        txn.commit().await.map_err(internal)?;

        let shred = Shred {
            tenant,
            recording: RecordingId(id),
        };
        if let Err(err) = job.storage.call(shred).await {
            tracing::warn!(
                tenant_id = %tenant,
                recording_id = %id,
                code = err.code.as_str(),
                "shredding failed; the claim stays until a run takes it over"
            );
            // The claim is kept, not given back: a timed-out shred may
            // still complete, and a hold placed on an unclaimed recording
            // would then be holding nothing. It goes stale after
            // STALE_CLAIM, and the run after that retries (shredding is
            // idempotent).
            return Ok(Outcome::Failed);
        }

        let deleted_at = db_time(self.now());
        let txn = self.db.begin().await.map_err(internal)?;
        // Someone took a stale claim over and finished first.
        if !store::deletion::purge(&txn, tenant, id, claimed_at)
            .await
            .map_err(internal)?
        {
            txn.rollback().await.map_err(internal)?;
            return Ok(Outcome::Skipped);
        }
        // What requests said of it goes with it.
        store::subject::forget_recording(&txn, tenant, id)
            .await
            .map_err(internal)?;
        let tombstone = recording_tombstone::Model {
            tenant_id: tenant.0,
            recording_id: id,
            ingested_at: row.ingested_at,
            sha256: row.sha256.clone(),
            deleted_at,
            reason: reason_str(job.reason).to_string(),
            policy,
            deleted_by: job.actor.subject.clone(),
            certificate_id: job.certificate,
        };
        store::deletion::insert_tombstone(&txn, tombstone.clone())
            .await
            .map_err(internal)?;
        audit::append(
            &txn,
            tenant,
            job.actor,
            deleted_at,
            AuditRecord {
                action: AuditAction::Deletion,
                target: Some(id.to_string()),
                reason: Some(reason_str(job.reason).to_string()),
                details: deletion_details(&tombstone.policy, job),
            },
        )
        .await
        .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, recording_id = %id, reason = reason_str(job.reason), "recording deleted");
        Ok(Outcome::Deleted(tombstone_from_row(tombstone)?))
    }
}

/// The deletion's audit details: the policy and certificate, and the
/// erasure request it was made for, if any.
fn deletion_details(policy: &str, job: &Job<'_>) -> serde_json::Value {
    let mut details = serde_json::json!({
        "policy": policy,
        "certificate_id": job.certificate,
    });
    if let Some(request) = job.erasure_request {
        details["request_id"] = serde_json::json!(request);
    }
    details
}

/// The deletion worker's actor. There is no system role: it acts as a
/// compliance officer of the tenant, the role whose duty retention is (and
/// which may delete), under a subject no person can have, so the audit
/// trail and the tombstones say plainly that no person did it.
fn worker(tenant: TenantId) -> Actor {
    Actor {
        subject: WORKER_SUBJECT.to_string(),
        role: Role::ComplianceOfficer,
        bpo_id: None,
        tenant_id: Some(tenant),
        agent_id: None,
        origin: None,
    }
}

/// The tombstone's policy for a retention deletion: the rule that set the
/// date, or the tenant's default.
async fn retention_policy<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    row: &recording::Model,
) -> ApiResult<String> {
    if let Some(rule) = row.retention_rule_id {
        let name = store::deletion::rule_name(conn, tenant, rule)
            .await
            .map_err(internal)?;
        return Ok(name.unwrap_or_else(|| format!("retention rule {rule}")));
    }
    let days = store::tenancy::get_tenant(conn, tenant)
        .await
        .map_err(internal)?
        .ok_or_else(|| corrupt("tenant"))?
        .default_retention_days;
    Ok(format!("tenant default ({days} days)"))
}

/// Whether a run that deleted nothing and failed nothing stores its
/// certificate: always when someone asked for the run, not for the timer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Certify {
    Always,
    WhenSomethingHappened,
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::lifecycle::{
        DeleteRecording, ListDeletionCertificates, RunDeletion,
    };
    router
        .route(service, |s, r: DeleteRecording| async move {
            s.delete_recording(&r.actor, r.tenant, r.recording, r.reason, r.note)
                .await
        })
        .route(service, |s, r: RunDeletion| async move {
            s.run_deletion(&r.actor, r.tenant).await
        })
        .route(service, |s, r: ListDeletionCertificates| async move {
            s.list_deletion_certificates(&r.actor, r.tenant).await
        });
}
