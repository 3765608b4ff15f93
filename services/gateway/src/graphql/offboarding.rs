//! Tenant offboarding: `exportTenant`, `offboardTenant` and
//! `offboardingCertificate` (platform admins, and a BPO's admins for its
//! tenants). docs/offboarding.md tells the whole procedure.

use async_graphql::{Context, Object, Result, SimpleObject};
use callvault_contracts::TenantId;
use callvault_contracts::ops::offboarding;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::{ScopeExt, perm};

/// A tenant's export, made before its offboarding.
#[derive(SimpleObject)]
pub struct TenantExport {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Hex SHA-256 of `content` (its UTF-8 bytes). The offboarding
    /// certificate names the export by it.
    pub sha256: String,
    pub size_bytes: u64,
    /// `recording` lines in `content`.
    pub recordings: u64,
    /// `audit_entry` lines in `content` (the trail from 1 to this).
    pub audit_entries: u64,
    /// JSON lines: the tenant, every recording with every field (phone
    /// numbers decrypted), the deletion certificates and tombstones, the
    /// signed daily manifests and the whole audit trail. Not kept by
    /// callvault: save it. The audio stays downloadable with each
    /// recording's `downloadUrl` until the tenant is offboarded.
    pub content: String,
}

impl From<offboarding::TenantExport> for TenantExport {
    fn from(export: offboarding::TenantExport) -> Self {
        Self {
            id: export.id,
            tenant_id: export.tenant_id.0,
            created_at: export.created_at,
            sha256: export.sha256,
            size_bytes: export.size_bytes,
            recordings: export.recordings,
            audit_entries: export.audit_entries,
            content: export.content,
        }
    }
}

/// The signed certificate of a tenant's offboarding. Verify `signature`
/// (base64 Ed25519) over `body`'s UTF-8 bytes with the tenant's manifest
/// key (`GET /v1/tenants/{tenantId}/manifest-key`); the other fields repeat
/// what `body` says.
#[derive(SimpleObject)]
pub struct OffboardingCertificate {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub bpo_id: Uuid,
    /// The subject who asked for the offboarding.
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The SHA-256 of the export the offboarding was checked against.
    pub export_sha256: String,
    /// Recordings crypto-shredded and turned into tombstones.
    pub recordings_shredded: u64,
    /// The tenant's master key.
    pub key_ref: String,
    /// Whether the master key was destroyed (a managed key); a key the
    /// tenant brought is the tenant's to delete, and is not.
    pub key_destroyed: bool,
    /// The signed text: canonical JSON, keys sorted, no whitespace.
    pub body: String,
    /// Base64 Ed25519 signature over `body`.
    pub signature: String,
    /// `Ed25519`.
    pub algorithm: String,
}

impl From<offboarding::OffboardingCertificate> for OffboardingCertificate {
    fn from(certificate: offboarding::OffboardingCertificate) -> Self {
        Self {
            id: certificate.id,
            tenant_id: certificate.tenant_id.0,
            bpo_id: certificate.bpo_id.0,
            requested_by: certificate.requested_by,
            started_at: certificate.started_at,
            finished_at: certificate.finished_at,
            export_sha256: certificate.export_sha256,
            recordings_shredded: certificate.recordings_shredded,
            key_ref: certificate.key_ref,
            key_destroyed: certificate.key_destroyed,
            body: certificate.body,
            signature: certificate.signature,
            algorithm: certificate.algorithm,
        }
    }
}

#[derive(Default)]
pub struct OffboardingMutation;

#[Object]
impl OffboardingMutation {
    /// Exports the tenant (platform admins; a BPO's admins for its
    /// tenants): required before `offboardTenant`, and again after any
    /// change to the tenant. Audited as an `EXPORT` entry.
    async fn export_tenant(&self, ctx: &Context<'_>, tenant_id: Uuid) -> Result<TenantExport> {
        let scope = ctx.scope()?;
        let export = scope
            .tenant(TenantId(tenant_id), perm::OffboardTenants)
            .await?
            .export_tenant()
            .await?;
        Ok(export.into())
    }

    /// Offboards the tenant for good: freezes it (every other operation on
    /// it answers TENANT_OFFBOARDED, uploads 403 `tenant_offboarded`),
    /// crypto-shreds every recording, destroys its managed master key,
    /// deletes its personal fields, users and wrapped data keys, turns its
    /// recordings into tombstones and answers the signed certificate.
    /// `confirm` must repeat the tenant id (BAD_USER_INPUT otherwise).
    /// EXPORT_REQUIRED without an export of the current state,
    /// LEGAL_HOLD_ACTIVE while a legal hold is active: refused, nothing
    /// changes. An interrupted offboarding is resumed by calling it again;
    /// an offboarded tenant's answer is its certificate.
    async fn offboard_tenant(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        confirm: String,
    ) -> Result<OffboardingCertificate> {
        let scope = ctx.scope()?;
        let certificate = scope
            .tenant(TenantId(tenant_id), perm::OffboardTenants)
            .await?
            .offboard_tenant(confirm)
            .await?;
        Ok(certificate.into())
    }
}

/// `Query.offboardingCertificate`.
pub(super) async fn offboarding_certificate(
    ctx: &Context<'_>,
    tenant_id: Uuid,
) -> Result<OffboardingCertificate> {
    let scope = ctx.scope()?;
    let certificate = scope
        .tenant(TenantId(tenant_id), perm::OffboardTenants)
        .await?
        .offboarding_certificate()
        .await?;
    Ok(certificate.into())
}
