//! The audit trail, its verification and the signed daily manifests, for
//! the tenant's auditors and compliance officers.

use callvault_bus::Router;
use callvault_contracts::lifecycle_api::{
    AuditPage, ChainVerification, KeptManifest, SignedManifest,
};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::{Actor, TenantId};
use chrono::NaiveDate;
use std::sync::Arc;

use super::MetadataService;
use crate::db::internal;
use crate::manifest::ManifestKeys;
use crate::{audit, evidence, manifest};
use callvault_contracts::permissions::Permission;

/// Kept manifests one verification accepts: a year of days.
const MAX_KEPT_MANIFESTS: usize = 366;

/// How long after midnight UTC a day becomes signable.
const MANIFEST_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

impl MetadataService {
    pub async fn audit_trail(
        &self,
        actor: &Actor,
        tenant: TenantId,
        after_seq: Option<u64>,
        first: u32,
    ) -> ApiResult<AuditPage> {
        self.authorize_tenant(actor, Permission::ReadAudit, tenant)
            .await?;
        if !(1..=audit::MAX_PAGE).contains(&first) {
            return Err(ApiError::invalid(format!(
                "first must be between 1 and {}",
                audit::MAX_PAGE
            )));
        }
        if after_seq.is_some_and(|seq| i64::try_from(seq).is_err()) {
            return Err(ApiError::invalid("after_seq is out of range"));
        }
        audit::page(&self.db, tenant, after_seq, first)
            .await
            .map_err(internal)
    }

    /// Recomputes the chain and checks it passes through the audit head of
    /// every stored manifest and of every manifest in `kept` (each must be
    /// a version 2 manifest of the tenant whose signature verifies).
    pub async fn verify_audit_chain(
        &self,
        actor: &Actor,
        tenant: TenantId,
        kept: &[KeptManifest],
    ) -> ApiResult<ChainVerification> {
        self.authorize_tenant(actor, Permission::ReadAudit, tenant)
            .await?;
        if kept.len() > MAX_KEPT_MANIFESTS {
            return Err(ApiError::invalid(format!(
                "at most {MAX_KEPT_MANIFESTS} kept manifests per verification"
            )));
        }
        let mut anchors = Vec::with_capacity(kept.len());
        if !kept.is_empty() {
            let keys = self.manifest_keys()?;
            for (i, manifest) in kept.iter().enumerate() {
                if !evidence::verifies(keys, tenant, &manifest.body, &manifest.signature) {
                    return Err(ApiError::invalid(format!(
                        "kept manifest {i}: the signature does not verify with the tenant's manifest key"
                    )));
                }
                let anchor = manifest::anchor(tenant, &manifest.body).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "kept manifest {i} carries no audit head (a version 1 manifest, or not a daily manifest)"
                    ))
                })?;
                anchors.push(anchor);
            }
        }
        anchors.extend(
            manifest::stored_anchors(&self.db, tenant)
                .await
                .map_err(internal)?,
        );
        audit::verify_against(&self.db, tenant, &anchors)
            .await
            .map_err(internal)
    }

    pub async fn daily_manifest(
        &self,
        actor: &Actor,
        tenant: TenantId,
        date: NaiveDate,
    ) -> ApiResult<SignedManifest> {
        self.authorize_tenant(actor, Permission::ReadAudit, tenant)
            .await?;
        // A day still running would be signed incomplete, and a manifest
        // never changes once signed. The grace lets the catalogue receive
        // the events of recordings ingested just before midnight.
        if date >= (self.now() - MANIFEST_GRACE).date_naive() {
            return Err(ApiError::invalid(
                "date must be a finished UTC day, signable from 01:00 UTC the day after",
            ));
        }
        let keys = self.manifest_keys()?;
        manifest::daily(&self.db, keys, tenant, date)
            .await
            .map_err(internal)
    }

    /// Public on purpose: the key of any tenant id is derived, not looked
    /// up, so the answer tells nothing about which tenants exist.
    pub async fn manifest_public_key(&self, tenant: TenantId) -> ApiResult<String> {
        Ok(self.manifest_keys()?.public_key(tenant))
    }

    /// Signs and stores the last signable day's manifest of every tenant
    /// (yesterday, UTC by the service clock, once its grace has passed), for
    /// the timer; returns how many tenants have it. Idempotent.
    pub async fn sign_yesterdays_manifests(&self) -> ApiResult<usize> {
        let keys = self.manifest_keys()?;
        let yesterday = (self.now() - MANIFEST_GRACE)
            .date_naive()
            .pred_opt()
            .ok_or_else(|| ApiError::invalid("the clock is out of range"))?;
        manifest::sign_due_manifests(&self.db, keys, yesterday)
            .await
            .map_err(internal)
    }

    fn manifest_keys(&self) -> ApiResult<&ManifestKeys> {
        self.manifest.as_ref().ok_or_else(|| {
            ApiError::new(ErrorCode::Unavailable, "manifest signing is not configured")
        })
    }
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::lifecycle::{
        AuditTrail, DailyManifest, ManifestPublicKey, VerifyAuditChain,
    };
    router
        .route(service, |s, r: AuditTrail| async move {
            s.audit_trail(&r.actor, r.tenant, r.after_seq, r.first)
                .await
        })
        .route(service, |s, r: VerifyAuditChain| async move {
            s.verify_audit_chain(&r.actor, r.tenant, &r.kept_manifests)
                .await
        })
        .route(service, |s, r: DailyManifest| async move {
            s.daily_manifest(&r.actor, r.tenant, r.date).await
        })
        .route(service, |s, r: ManifestPublicKey| async move {
            s.manifest_public_key(r.tenant).await
        });
}
