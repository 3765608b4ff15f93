//! Tenant offboarding: export, then crypto-shred everything of the tenant,
//! with a signed certificate.
//!
//! A state machine on the tenant's `tenant_offboardings` row:
//!
//! - ACTIVE (no row): `export_tenant` builds the export and records its
//!   digest and cut-off; `offboard_tenant` checks, under the tenant's row
//!   lock, that no legal hold is active and that the latest export is
//!   still current (rebuilt, it gives the same SHA-256, and only exports
//!   were audited since), then inserts the row: the tenant is frozen.
//! - OFFBOARDING: every other operation on the tenant answers
//!   `TENANT_OFFBOARDED`, uploads included. The shred runs: storage
//!   shreds every recording and destroys the managed master key, the
//!   catalogue rows become tombstones, the personal fields and wrapped
//!   data keys left in this database are deleted. Each step is idempotent,
//!   so an interrupted offboarding is finished by calling `offboard_tenant`
//!   again (or by the module's lifecycle timer): the tenant never looks alive
//!   half-shredded, it stays frozen until it is done.
//! - OFFBOARDED: the certificate (canonical JSON, signed with the tenant's
//!   manifest key) is stored; `offboarding_certificate` reads it.

use std::sync::Arc;

use callvault_bus::{Router, RpcClient};
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::offboarding::{OffboardingCertificate, ShredTenant, TenantExport};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, BpoId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::tenant_export::{EXPORT_KIND, is_tenant_export};
use super::{MetadataService, corrupt};
use crate::audit::{self, AuditRecord, canonical_json};
use crate::db::entity::{recording_tombstone, tenant, tenant_export, tenant_offboarding, user};
use crate::db::{db_time, internal, is_unique_violation};
use crate::manifest::ManifestKeys;
use crate::store;
use crate::store::offboarding::{Finished, STATE_OFFBOARDED, STATE_OFFBOARDING};

/// Catalogue rows turned into tombstones per transaction.
const PURGE_BATCH: u64 = 200;
/// `version` of the certificate body.
const CERTIFICATE_VERSION: u32 = 1;
/// The tombstones' `reason` and `policy` for an offboarded tenant's
/// recordings: the tombstones' reasons are a closed set (a CHECK
/// constraint, and the daily manifests' `reason`), and erasing everything
/// of the tenant is what an offboarding is; the policy says which erasure.
const TOMBSTONE_REASON: &str = "erasure";
const TOMBSTONE_POLICY: &str = "tenant offboarding";
/// The audit entries' `reason`.
const AUDIT_REASON: &str = "offboarding";
/// `details.kind` of the offboarding's audit entries.
const AUDIT_KIND: &str = "tenant_offboarding";

impl MetadataService {
    pub async fn export_tenant(&self, actor: &Actor, tenant: TenantId) -> ApiResult<TenantExport> {
        let (_, row) = self
            .authorize_tenant_row(actor, Permission::OffboardTenants, tenant)
            .await?;
        let row = row.ok_or_else(|| ApiError::not_found("tenant"))?;
        if store::offboarding::is_frozen(&self.db, tenant)
            .await
            .map_err(internal)?
        {
            return Err(offboarded());
        }
        let built = self.build_export(&self.db, row, None).await?;
        let sha256 = hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            built.content.as_bytes(),
        ));
        let created_at = db_time(self.now());
        let export = tenant_export::Model {
            tenant_id: tenant.0,
            id: Uuid::new_v4(),
            created_at,
            created_by: actor.subject.clone(),
            sha256: sha256.clone(),
            size_bytes: i64::try_from(built.content.len()).map_err(|_| corrupt("size"))?,
            recordings: i64::try_from(built.recordings).map_err(|_| corrupt("recordings"))?,
            audit_seq: i64::try_from(built.audit_seq).map_err(|_| corrupt("audit_seq"))?,
        };
        let txn = self.db.begin().await.map_err(internal)?;
        store::offboarding::insert_export(&txn, export.clone())
            .await
            .map_err(internal)?;
        let record = AuditRecord {
            action: AuditAction::Export,
            target: Some(tenant.to_string()),
            reason: None,
            details: json!({
                "kind": EXPORT_KIND,
                "export_id": export.id,
                "sha256": sha256,
                "recordings": built.recordings,
                "audit_seq": built.audit_seq,
            }),
        };
        audit::append(&txn, tenant, actor, created_at, record)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, export_id = %export.id, recordings = built.recordings, "tenant exported");
        Ok(TenantExport {
            id: export.id,
            tenant_id: tenant,
            created_at,
            sha256,
            size_bytes: built.content.len() as u64,
            recordings: built.recordings,
            audit_entries: built.audit_seq,
            content: built.content,
        })
    }

    pub async fn offboard_tenant(
        &self,
        actor: &Actor,
        tenant: TenantId,
        confirm: &str,
    ) -> ApiResult<OffboardingCertificate> {
        self.authorize_tenant(actor, Permission::OffboardTenants, tenant)
            .await?;
        if confirm.trim() != tenant.to_string() {
            return Err(ApiError::invalid(
                "confirm must repeat the tenant id: offboarding destroys the tenant's data for good",
            ));
        }
        let keys = self.manifest.clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "offboarding is unavailable: no manifest signing key to sign its certificate",
            )
        })?;
        let storage = self.storage.clone().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "offboarding is unavailable: no storage service to shred with",
            )
        })?;
        let row = match store::offboarding::get(&self.db, tenant)
            .await
            .map_err(internal)?
        {
            Some(row) if row.state == STATE_OFFBOARDED => return certificate_from_row(row),
            Some(row) => row,
            None => self.start_offboarding(actor, tenant).await?,
        };
        self.finish_offboarding(&keys, &storage, row).await
    }

    pub async fn offboarding_certificate(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<OffboardingCertificate> {
        self.authorize_tenant(actor, Permission::OffboardTenants, tenant)
            .await?;
        match store::offboarding::get(&self.db, tenant)
            .await
            .map_err(internal)?
        {
            Some(row) if row.state == STATE_OFFBOARDED => certificate_from_row(row),
            _ => Err(ApiError::not_found("offboarding certificate")),
        }
    }

    /// Finishes every offboarding a crash interrupted (the module's
    /// lifecycle timer runs it). Failures are logged; the tenants stay frozen.
    pub async fn resume_offboardings(&self) {
        let (Some(keys), Some(storage)) = (self.manifest.clone(), self.storage.clone()) else {
            return;
        };
        let tenants = match store::offboarding::interrupted(&self.db).await {
            Ok(tenants) => tenants,
            Err(err) => {
                let _ = internal(err);
                return;
            }
        };
        for tenant in tenants.into_iter().map(TenantId) {
            let row = match store::offboarding::get(&self.db, tenant).await {
                Ok(Some(row)) if row.state == STATE_OFFBOARDING => row,
                Ok(_) => continue,
                Err(err) => {
                    let _ = internal(err);
                    continue;
                }
            };
            if let Err(err) = self.finish_offboarding(&keys, &storage, row).await {
                tracing::error!(tenant_id = %tenant, code = err.code.as_str(), "resuming an offboarding failed; the tenant stays frozen");
            }
        }
    }

    /// ACTIVE → OFFBOARDING, after the checks; nothing changes when one
    /// fails.
    async fn start_offboarding(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<tenant_offboarding::Model> {
        let txn = self.db.begin().await.map_err(internal)?;
        // Holds, deletions and ingest serialise on the tenant's row: none
        // slips in between the checks and the freeze.
        let Some(row) = store::tenancy::lock_tenant(&txn, tenant)
            .await
            .map_err(internal)?
        else {
            txn.rollback().await.map_err(internal)?;
            return Err(ApiError::not_found("tenant"));
        };
        let refused = match self.offboarding_refusal(&txn, tenant, row.clone()).await {
            Ok(None) => None,
            Ok(Some(refusal)) => Some(refusal),
            Err(err) => Some(err),
        };
        let export = match (
            refused,
            store::offboarding::latest_export(&txn, tenant).await,
        ) {
            (None, Ok(Some(export))) => export,
            (Some(refusal), _) => {
                txn.rollback().await.map_err(internal)?;
                return Err(refusal);
            }
            (None, Ok(None)) => {
                txn.rollback().await.map_err(internal)?;
                return Err(export_required("no export was made"));
            }
            (None, Err(err)) => {
                txn.rollback().await.map_err(internal)?;
                return Err(internal(err));
            }
        };
        let started_at = db_time(self.now());
        let offboarding = tenant_offboarding::Model {
            tenant_id: tenant.0,
            id: Uuid::new_v4(),
            state: STATE_OFFBOARDING.to_owned(),
            requested_by: actor.subject.clone(),
            started_at,
            export_sha256: export.sha256.clone(),
            key_ref: row.key_ref.clone(),
            key_destroyed: None,
            recordings_shredded: None,
            finished_at: None,
            body: None,
            signature: None,
        };
        match store::offboarding::start(&txn, offboarding.clone()).await {
            Ok(()) => {}
            // Another request started it first: resume that one.
            Err(err) if is_unique_violation(&err) => {
                txn.rollback().await.map_err(internal)?;
                return store::offboarding::get(&self.db, tenant)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| ApiError::new(ErrorCode::Internal, "internal error"));
            }
            Err(err) => return Err(internal(err)),
        }
        let record = AuditRecord {
            action: AuditAction::Deletion,
            target: Some(tenant.to_string()),
            reason: Some(AUDIT_REASON.to_owned()),
            details: json!({
                "kind": AUDIT_KIND,
                "phase": "started",
                "certificate_id": offboarding.id,
                "export_sha256": export.sha256,
            }),
        };
        audit::append(&txn, tenant, actor, started_at, record)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, certificate_id = %offboarding.id, "tenant frozen for offboarding");
        Ok(offboarding)
    }

    /// Why the tenant can't be offboarded now, if it can't.
    async fn offboarding_refusal<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        tenant: TenantId,
        row: tenant::Model,
    ) -> ApiResult<Option<ApiError>> {
        let holds = store::offboarding::active_holds(conn, tenant)
            .await
            .map_err(internal)?;
        if holds > 0 {
            return Ok(Some(ApiError::new(
                ErrorCode::LegalHoldActive,
                format!("{holds} legal hold(s) active: release them before offboarding"),
            )));
        }
        let Some(export) = store::offboarding::latest_export(conn, tenant)
            .await
            .map_err(internal)?
        else {
            return Ok(Some(export_required("no export was made")));
        };
        let cut_off = u64::try_from(export.audit_seq).map_err(|_| corrupt("audit_seq"))?;
        let rebuilt = self.build_export(conn, row, Some(cut_off)).await?;
        let sha256 = hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            rebuilt.content.as_bytes(),
        ));
        if sha256 != export.sha256 {
            return Ok(Some(export_required(
                "the tenant changed since its last export",
            )));
        }
        let since = audit::page(conn, tenant, Some(cut_off), u32::MAX / 2)
            .await
            .map_err(internal)?;
        if !since.items.iter().all(is_tenant_export) {
            return Ok(Some(export_required(
                "the audit trail grew since the last export",
            )));
        }
        Ok(None)
    }

    /// OFFBOARDING → OFFBOARDED. Every step is idempotent: a resumed run
    /// repeats what was done and finishes.
    async fn finish_offboarding(
        &self,
        keys: &ManifestKeys,
        storage: &RpcClient,
        row: tenant_offboarding::Model,
    ) -> ApiResult<OffboardingCertificate> {
        let tenant = TenantId(row.tenant_id);
        let managed = is_managed_key(tenant, &row.key_ref);
        let shred = ShredTenant {
            tenant,
            key_ref: managed.then(|| row.key_ref.clone()),
        };
        let shredded = storage.call(shred).await.inspect_err(|err| {
            tracing::warn!(tenant_id = %tenant, code = err.code.as_str(), "tenant shred failed; the offboarding resumes on the next call");
        })?;

        self.purge_catalogue(&row).await?;
        let txn = self.db.begin().await.map_err(internal)?;
        store::offboarding::remove_personal_fields(&txn, tenant)
            .await
            .map_err(internal)?;
        // Data-subject requests' preservations and restrictions (who
        // restricted, and why) go with the recordings they named.
        store::subject::forget_tenant(&txn, tenant)
            .await
            .map_err(internal)?;
        // The do-not-record list is phone numbers; the not-recorded calls
        // name agents.
        store::recording_policy::delete_tenant(&txn, tenant.0)
            .await
            .map_err(internal)?;
        // The tenant's users' subjects are often email addresses.
        user::Entity::delete_many()
            .filter(user::Column::TenantId.eq(tenant.0))
            .exec(&txn)
            .await
            .map_err(internal)?;
        // The catalogue's data key: what is left of the personal fields
        // (none should be) can't be opened any more, even with the master
        // key.
        self.pii.destroy(&txn, tenant).await?;
        txn.commit().await.map_err(internal)?;

        let shredded_count = recording_tombstone::Entity::find()
            .filter(recording_tombstone::Column::TenantId.eq(tenant.0))
            .filter(recording_tombstone::Column::CertificateId.eq(row.id))
            .count(&self.db)
            .await
            .map_err(internal)?;
        let tenant_row = store::tenancy::get_tenant(&self.db, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| corrupt("tenant"))?;
        let finished_at = db_time(self.now());
        let body = certificate_body(
            &row,
            BpoId(tenant_row.bpo_id),
            finished_at,
            shredded_count,
            shredded.key_destroyed,
        );
        let signature = sign_certificate(keys, tenant, &body);

        let txn = self.db.begin().await.map_err(internal)?;
        let finished = Finished {
            key_destroyed: shredded.key_destroyed,
            recordings_shredded: i64::try_from(shredded_count).map_err(|_| corrupt("count"))?,
            finished_at,
            body,
            signature,
        };
        if store::offboarding::finish(&txn, tenant, finished)
            .await
            .map_err(internal)?
        {
            let record = AuditRecord {
                action: AuditAction::Deletion,
                target: Some(tenant.to_string()),
                reason: Some(AUDIT_REASON.to_owned()),
                details: json!({
                    "kind": AUDIT_KIND,
                    "phase": "finished",
                    "certificate_id": row.id,
                    "recordings_shredded": shredded_count,
                    "key_destroyed": shredded.key_destroyed,
                }),
            };
            let system = offboarding_actor(&row);
            audit::append(&txn, tenant, &system, finished_at, record)
                .await
                .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        let stored = store::offboarding::get(&self.db, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| corrupt("offboarding"))?;
        tracing::info!(tenant_id = %tenant, certificate_id = %row.id, recordings = shredded_count, key_destroyed = shredded.key_destroyed, "tenant offboarded");
        certificate_from_row(stored)
    }

    /// Turns every catalogued recording of the tenant into a tombstone
    /// naming the offboarding, a batch per transaction.
    async fn purge_catalogue(&self, row: &tenant_offboarding::Model) -> ApiResult<()> {
        let tenant = TenantId(row.tenant_id);
        loop {
            let txn = self.db.begin().await.map_err(internal)?;
            let batch = store::offboarding::recordings(&txn, tenant, None, PURGE_BATCH)
                .await
                .map_err(internal)?;
            if batch.is_empty() {
                txn.rollback().await.map_err(internal)?;
                return Ok(());
            }
            let deleted_at = db_time(self.now());
            for recording in batch {
                store::offboarding::purge_recording(&txn, tenant, recording.id)
                    .await
                    .map_err(internal)?;
                let tombstone = recording_tombstone::Model {
                    tenant_id: tenant.0,
                    recording_id: recording.id,
                    ingested_at: recording.ingested_at,
                    sha256: recording.sha256,
                    deleted_at,
                    reason: TOMBSTONE_REASON.to_owned(),
                    policy: TOMBSTONE_POLICY.to_owned(),
                    deleted_by: row.requested_by.clone(),
                    certificate_id: row.id,
                };
                store::deletion::insert_tombstone(&txn, tombstone)
                    .await
                    .map_err(internal)?;
            }
            txn.commit().await.map_err(internal)?;
        }
    }

    /// Whether the tenant is frozen: every operation but reading the
    /// tenant and the offboarding's own refuses it.
    pub(super) async fn refuse_if_frozen(
        &self,
        tenant: TenantId,
        permission: Permission,
    ) -> ApiResult<()> {
        if matches!(
            permission,
            Permission::ViewTenants | Permission::OffboardTenants
        ) {
            return Ok(());
        }
        if store::offboarding::is_frozen(&self.db, tenant)
            .await
            .map_err(internal)?
        {
            return Err(offboarded());
        }
        Ok(())
    }
}

pub(super) fn offboarded() -> ApiError {
    ApiError::new(
        ErrorCode::TenantOffboarded,
        "the tenant is offboarded (or being offboarded)",
    )
}

fn export_required(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ExportRequired,
        format!("{why}: export the tenant (exportTenant) before offboarding it"),
    )
}

/// Whether `key_ref` is the platform's managed key of the tenant (KMS
/// alias or local keyring name, as libs/keys names them): those are
/// destroyed; a key the tenant brought is the tenant's to delete.
fn is_managed_key(tenant: TenantId, key_ref: &str) -> bool {
    key_ref == format!("alias/callvault/tenant-{tenant}") || key_ref == format!("tenant/{tenant}")
}

/// The certificate's signed text: canonical JSON (keys sorted, no
/// whitespace), timestamps as the audit trail writes them.
fn certificate_body(
    row: &tenant_offboarding::Model,
    bpo: BpoId,
    finished_at: DateTime<Utc>,
    recordings_shredded: u64,
    key_destroyed: bool,
) -> String {
    canonical_json(&json!({
        "version": CERTIFICATE_VERSION,
        // `kind`, as in every signed body (crate::evidence), so a signed
        // body of one kind can't pass for another.
        "kind": "tenant_offboarding",
        "certificate_id": row.id.to_string(),
        "tenant_id": row.tenant_id.to_string(),
        "bpo_id": bpo.0.to_string(),
        "requested_by": row.requested_by,
        "started_at": audit::timestamp(row.started_at),
        "finished_at": audit::timestamp(finished_at),
        "export_sha256": row.export_sha256,
        "recordings_shredded": recordings_shredded,
        "key_ref": row.key_ref,
        "key_destroyed": key_destroyed,
        "personal_fields_removed": true,
    }))
}

/// Signs an offboarding certificate with the tenant's manifest key, the
/// scheme of [`crate::evidence`] (its body carries `kind`, `version` and
/// `tenant_id` itself).
fn sign_certificate(keys: &ManifestKeys, tenant: TenantId, body: &str) -> String {
    keys.sign(tenant, body.as_bytes())
}

/// Who finishes an offboarding in the audit trail: the requester's
/// subject, marked as the offboarding's own run (a resume may run without
/// the requester).
fn offboarding_actor(row: &tenant_offboarding::Model) -> Actor {
    Actor {
        subject: format!("system:offboarding ({})", row.requested_by),
        role: callvault_contracts::Role::PlatformAdmin,
        bpo_id: None,
        tenant_id: None,
        agent_id: None,
        origin: None,
    }
}

fn certificate_from_row(row: tenant_offboarding::Model) -> ApiResult<OffboardingCertificate> {
    let body = row.body.ok_or_else(|| corrupt("body"))?;
    let parsed: serde_json::Value = serde_json::from_str(&body).map_err(|_| corrupt("body"))?;
    let bpo = parsed
        .get("bpo_id")
        .and_then(serde_json::Value::as_str)
        .and_then(|raw| Uuid::parse_str(raw).ok())
        .ok_or_else(|| corrupt("body"))?;
    Ok(OffboardingCertificate {
        id: row.id,
        tenant_id: TenantId(row.tenant_id),
        bpo_id: BpoId(bpo),
        requested_by: row.requested_by,
        started_at: row.started_at,
        finished_at: row.finished_at.ok_or_else(|| corrupt("finished_at"))?,
        export_sha256: row.export_sha256,
        recordings_shredded: row
            .recordings_shredded
            .and_then(|count| u64::try_from(count).ok())
            .ok_or_else(|| corrupt("recordings_shredded"))?,
        key_ref: row.key_ref,
        key_destroyed: row.key_destroyed.unwrap_or(false),
        body,
        signature: row.signature.ok_or_else(|| corrupt("signature"))?,
        algorithm: "Ed25519".to_owned(),
    })
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::offboarding::{
        ExportTenant, GetOffboardingCertificate, OffboardTenant,
    };
    router
        .route(service, |s, r: ExportTenant| async move {
            s.export_tenant(&r.actor, r.tenant).await
        })
        .route(service, |s, r: OffboardTenant| async move {
            s.offboard_tenant(&r.actor, r.tenant, &r.confirm).await
        })
        .route(service, |s, r: GetOffboardingCertificate| async move {
            s.offboarding_certificate(&r.actor, r.tenant).await
        });
}
