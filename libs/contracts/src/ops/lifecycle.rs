//! The recording lifecycle (metadata service): retention, legal holds,
//! deletion, playback authorisation, the audit trail, the signed manifests
//! and the tenant's master key.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::lifecycle_api::{
    Access, AuditPage, ChainVerification, DeletionCertificate, DeletionReason, KeptManifest,
    LegalHold, NewLegalHold, NewRetentionRule, RecordingLifecycle, RetentionRule, SignedManifest,
    TenantPolicy,
};
use crate::metadata_api::{KeyMode, Recording, Tenant};
use crate::rpc::{Rpc, Service};
use crate::{Actor, RecordingId, TenantId};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetPolicy {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for GetPolicy {
    type Reply = TenantPolicy;
    const NAME: &'static str = "get_policy";
    const SERVICE: Service = Service::Metadata;
}

/// Changing the default retention recomputes every recording's date.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SetPolicy {
    pub actor: Actor,
    pub tenant: TenantId,
    pub policy: TenantPolicy,
}

impl Rpc for SetPolicy {
    type Reply = TenantPolicy;
    const NAME: &'static str = "set_policy";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListRetentionRules {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for ListRetentionRules {
    type Reply = Vec<RetentionRule>;
    const NAME: &'static str = "list_retention_rules";
    const SERVICE: Service = Service::Metadata;
}

/// Applies retroactively: every recording's date is recomputed.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreateRetentionRule {
    pub actor: Actor,
    pub tenant: TenantId,
    pub rule: NewRetentionRule,
}

impl Rpc for CreateRetentionRule {
    type Reply = RetentionRule;
    const NAME: &'static str = "create_retention_rule";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeleteRetentionRule {
    pub actor: Actor,
    pub tenant: TenantId,
    pub rule: Uuid,
}

impl Rpc for DeleteRetentionRule {
    type Reply = RetentionRule;
    const NAME: &'static str = "delete_retention_rule";
    const SERVICE: Service = Service::Metadata;
}

/// Until when a recording is kept, why, and what holds it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetRecordingLifecycle {
    pub actor: Actor,
    pub tenant: TenantId,
    pub recording: RecordingId,
}

impl Rpc for GetRecordingLifecycle {
    type Reply = RecordingLifecycle;
    const NAME: &'static str = "recording_lifecycle";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PlaceHold {
    pub actor: Actor,
    pub tenant: TenantId,
    pub hold: NewLegalHold,
}

impl Rpc for PlaceHold {
    type Reply = LegalHold;
    const NAME: &'static str = "place_hold";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ReleaseHold {
    pub actor: Actor,
    pub tenant: TenantId,
    pub hold: Uuid,
    pub reason: String,
}

impl Rpc for ReleaseHold {
    type Reply = LegalHold;
    const NAME: &'static str = "release_hold";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListHolds {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for ListHolds {
    type Reply = Vec<LegalHold>;
    const NAME: &'static str = "list_holds";
    const SERVICE: Service = Service::Metadata;
}

/// Deletes one recording now (crypto-shred, catalogue purge, tombstone);
/// refused with `Conflict` while a hold covers it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DeleteRecording {
    pub actor: Actor,
    pub tenant: TenantId,
    pub recording: RecordingId,
    pub reason: DeletionReason,
    pub note: String,
}

impl Rpc for DeleteRecording {
    type Reply = DeletionCertificate;
    const NAME: &'static str = "delete_recording";
    const SERVICE: Service = Service::Metadata;
}

/// Runs the deletion worker for one tenant now (it also runs on a timer).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RunDeletion {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for RunDeletion {
    type Reply = DeletionCertificate;
    const NAME: &'static str = "run_deletion";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListDeletionCertificates {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for ListDeletionCertificates {
    type Reply = Vec<DeletionCertificate>;
    const NAME: &'static str = "list_deletion_certificates";
    const SERVICE: Service = Service::Metadata;
}

/// Checks the actor may play (or download) the recording and gave a reason
/// if the tenant requires one, records the access in the audit trail and
/// returns the recording; the caller then mints the signed URL.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AuthorizePlayback {
    pub actor: Actor,
    pub tenant: TenantId,
    pub recording: RecordingId,
    #[serde(default)]
    pub access: Access,
    pub reason: Option<String>,
}

impl Rpc for AuthorizePlayback {
    type Reply = Recording;
    const NAME: &'static str = "authorize_playback";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AuditTrail {
    pub actor: Actor,
    pub tenant: TenantId,
    pub after_seq: Option<u64>,
    pub first: u32,
}

impl Rpc for AuditTrail {
    type Reply = AuditPage;
    const NAME: &'static str = "audit_trail";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct VerifyAuditChain {
    pub actor: Actor,
    pub tenant: TenantId,
    /// Manifests the tenant kept: the chain must pass through the audit
    /// head each one was signed with (as through the stored manifests').
    #[serde(default)]
    pub kept_manifests: Vec<KeptManifest>,
}

impl Rpc for VerifyAuditChain {
    type Reply = ChainVerification;
    const NAME: &'static str = "verify_audit_chain";
    const SERVICE: Service = Service::Metadata;
}

/// The signed manifest of one finished UTC day.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DailyManifest {
    pub actor: Actor,
    pub tenant: TenantId,
    pub date: NaiveDate,
}

impl Rpc for DailyManifest {
    type Reply = SignedManifest;
    const NAME: &'static str = "daily_manifest";
    const SERVICE: Service = Service::Metadata;
}

/// The tenant's manifest verification key (base64 Ed25519). Public: a third
/// party needs only the tenant id.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ManifestPublicKey {
    pub tenant: TenantId,
}

impl Rpc for ManifestPublicKey {
    type Reply = String;
    const NAME: &'static str = "manifest_public_key";
    const SERVICE: Service = Service::Metadata;
}

/// Changes the tenant's master key: `Managed` rotates the tenant's managed
/// key to a new version, `External` switches to a key the tenant brings
/// (checked usable first; a key the provider refuses is `InvalidInput` and
/// changes nothing). Recorded in the audit trail and announced as
/// `tenant.key_changed`, on which the storage service re-wraps the tenant's
/// data keys. Returns the tenant as changed.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ChangeTenantKey {
    pub actor: Actor,
    pub tenant: TenantId,
    pub mode: KeyMode,
    pub reason: String,
}

impl Rpc for ChangeTenantKey {
    type Reply = Tenant;
    const NAME: &'static str = "change_tenant_key";
    const SERVICE: Service = Service::Metadata;
}
