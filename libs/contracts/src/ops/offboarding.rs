//! Tenant offboarding: the export that must come first, the crypto-shred
//! of everything of the tenant, and the signed certificate that proves it
//! (metadata service), with storage's share of the shred.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::rpc::{Rpc, Service};
use crate::{Actor, BpoId, TenantId};

/// Builds the tenant's export: JSON lines with the tenant, every catalogued
/// recording with every field (phone numbers decrypted), the deletion
/// certificates and tombstones, the signed daily manifests and the whole
/// audit trail. The content is handed back, not kept: only its SHA-256 and
/// what it covered are recorded, for offboarding to check it is current.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ExportTenant {
    pub actor: Actor,
    pub tenant: TenantId,
}

/// What [`ExportTenant`] made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenantExport {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub created_at: DateTime<Utc>,
    /// Hex SHA-256 of `content`'s UTF-8 bytes.
    pub sha256: String,
    pub size_bytes: u64,
    /// Recordings in the catalogue section.
    pub recordings: u64,
    /// Audit entries in the trail section (1 to `audit_entries`).
    pub audit_entries: u64,
    /// The export, JSON lines (see docs/offboarding.md for every line type).
    pub content: String,
}

impl Rpc for ExportTenant {
    type Reply = TenantExport;
    const NAME: &'static str = "export_tenant";
    const SERVICE: Service = Service::Metadata;
}

/// Offboards the tenant: freezes it, crypto-shreds its recordings (storage),
/// destroys its master key, removes its personal fields and wrapped data
/// keys, turns its recordings into tombstones and signs the certificate.
/// `confirm` must be the tenant id. Refused (and nothing changes) without
/// an export of the current state (`ExportRequired`) or while a legal hold
/// is active (`LegalHoldActive`). Calling it again on a tenant whose
/// offboarding was interrupted resumes it; on an offboarded tenant it
/// answers the certificate.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct OffboardTenant {
    pub actor: Actor,
    pub tenant: TenantId,
    pub confirm: String,
}

impl Rpc for OffboardTenant {
    type Reply = OffboardingCertificate;
    const NAME: &'static str = "offboard_tenant";
    const SERVICE: Service = Service::Metadata;
}

/// The certificate of an offboarded tenant (`NotFound` before one was
/// issued).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetOffboardingCertificate {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for GetOffboardingCertificate {
    type Reply = OffboardingCertificate;
    const NAME: &'static str = "offboarding_certificate";
    const SERVICE: Service = Service::Metadata;
}

/// The signed offboarding certificate. `body` is the signed text (canonical
/// JSON: keys sorted, no whitespace); the other fields repeat it for
/// convenience. Verify `signature` over `body`'s UTF-8 bytes with the
/// tenant's manifest key (`GET /v1/tenants/{tenantId}/manifest-key`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OffboardingCertificate {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub bpo_id: BpoId,
    /// The subject who asked for the offboarding.
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Hex SHA-256 of the export made before the shred.
    pub export_sha256: String,
    pub recordings_shredded: u64,
    /// The master key destroyed, or kept (a key the tenant brought).
    pub key_ref: String,
    pub key_destroyed: bool,
    pub body: String,
    /// Base64 Ed25519 signature over `body`.
    pub signature: String,
    /// Always `Ed25519`.
    pub algorithm: String,
}

/// Storage's part of an offboarding: crypto-shreds every recording it holds
/// for the tenant (wrapped data key and every object version), then, when
/// `key_ref` is given, destroys that master key through the key provider.
/// Idempotent: a resumed offboarding calls it again.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ShredTenant {
    pub tenant: TenantId,
    /// The tenant's managed master key; `None` for a key the tenant
    /// brought, which is the tenant's to delete.
    pub key_ref: Option<String>,
}

/// What [`ShredTenant`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenantShredded {
    /// Recordings shredded by this call.
    pub shredded: u64,
    /// Recordings found already shredded (earlier deletions, or an
    /// interrupted offboarding).
    pub already_shredded: u64,
    pub key_destroyed: bool,
}

impl Rpc for ShredTenant {
    type Reply = TenantShredded;
    const NAME: &'static str = "shred_tenant";
    const SERVICE: Service = Service::Storage;
}
