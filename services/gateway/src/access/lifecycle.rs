//! The lifecycle handles: retention policy, legal holds, deletion, the
//! audit trail, the tenant's key, and the recording calls that go with
//! `ReadRecordings` (its lifecycle, and authorising a playback). One impl block per
//! permission, as in `handles`; plus the one public call, the manifest
//! verification key, which needs no caller at all.
//!
//! Every answer is checked to be about the handle's tenant: a backend that
//! answered for another tenant is our fault, reported as INTERNAL and never
//! passed on.

use callvault_bus::RpcClient;
use callvault_contracts::lifecycle_api::{
    Access, AuditPage, ChainVerification, DeletionCertificate, DeletionReason, KeptManifest,
    LegalHold, NewLegalHold, NewRetentionRule, RecordingLifecycle, RetentionRule, SignedManifest,
    TenantPolicy,
};
use callvault_contracts::metadata_api::{
    ApiError, ApiResult, ErrorCode, KeyMode, Recording, Tenant,
};
use callvault_contracts::ops::lifecycle::{
    AuditTrail, AuthorizePlayback, ChangeTenantKey, CreateRetentionRule, DailyManifest,
    DeleteRecording, DeleteRetentionRule, GetPolicy, GetRecordingLifecycle,
    ListDeletionCertificates, ListHolds, ListRetentionRules, ManifestPublicKey, PlaceHold,
    ReleaseHold, RunDeletion, SetPolicy, VerifyAuditChain,
};
use callvault_contracts::ops::storage::{Verification, VerifyRecording};
use callvault_contracts::{RecordingId, Role, TenantId};
use chrono::NaiveDate;
use tracing::error;
use uuid::Uuid;

use super::handles::TenantScope;
use super::perm;
use crate::error::{bad_input, coded, from_api};

type Result<T> = async_graphql::Result<T>;

impl<P> TenantScope<'_, P> {
    /// `returned` is the tenant an answer says it is about.
    pub(super) fn check_tenant(&self, returned: TenantId, what: &'static str) -> Result<()> {
        if returned == self.tenant {
            return Ok(());
        }
        error!(tenant = %self.tenant, %returned, what, "backend answered for another tenant");
        Err(coded(ErrorCode::Internal, "internal error"))
    }
}

impl TenantScope<'_, perm::ManagePolicy> {
    pub async fn get_policy(&self) -> Result<TenantPolicy> {
        self.rpc
            .call(GetPolicy {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)
    }

    pub async fn set_policy(&self, policy: TenantPolicy) -> Result<TenantPolicy> {
        self.rpc
            .call(SetPolicy {
                actor: self.actor.clone(),
                tenant: self.tenant,
                policy,
            })
            .await
            .map_err(from_api)
    }

    pub async fn list_retention_rules(&self) -> Result<Vec<RetentionRule>> {
        let rules = self
            .rpc
            .call(ListRetentionRules {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)?;
        for rule in &rules {
            self.check_tenant(rule.tenant_id, "retention rule")?;
        }
        Ok(rules)
    }

    pub async fn create_retention_rule(&self, rule: NewRetentionRule) -> Result<RetentionRule> {
        let rule = self
            .rpc
            .call(CreateRetentionRule {
                actor: self.actor.clone(),
                tenant: self.tenant,
                rule,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(rule.tenant_id, "retention rule")?;
        Ok(rule)
    }

    pub async fn delete_retention_rule(&self, rule: Uuid) -> Result<RetentionRule> {
        let rule = self
            .rpc
            .call(DeleteRetentionRule {
                actor: self.actor.clone(),
                tenant: self.tenant,
                rule,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(rule.tenant_id, "retention rule")?;
        Ok(rule)
    }
}

impl TenantScope<'_, perm::ManageHolds> {
    pub async fn place_hold(&self, hold: NewLegalHold) -> Result<LegalHold> {
        let hold = self
            .rpc
            .call(PlaceHold {
                actor: self.actor.clone(),
                tenant: self.tenant,
                hold,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(hold.tenant_id, "legal hold")?;
        Ok(hold)
    }

    pub async fn release_hold(&self, hold: Uuid, reason: String) -> Result<LegalHold> {
        let hold = self
            .rpc
            .call(ReleaseHold {
                actor: self.actor.clone(),
                tenant: self.tenant,
                hold,
                reason,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(hold.tenant_id, "legal hold")?;
        Ok(hold)
    }

    pub async fn list_holds(&self) -> Result<Vec<LegalHold>> {
        let holds = self
            .rpc
            .call(ListHolds {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)?;
        for hold in &holds {
            self.check_tenant(hold.tenant_id, "legal hold")?;
        }
        Ok(holds)
    }
}

impl TenantScope<'_, perm::ManageDeletion> {
    /// Deletes one recording now. Only a person's reasons are accepted
    /// here: `Retention` is the deletion worker's alone.
    pub async fn delete_recording(
        &self,
        recording: callvault_contracts::RecordingId,
        reason: DeletionReason,
        note: String,
    ) -> Result<DeletionCertificate> {
        if reason == DeletionReason::Retention {
            return Err(bad_input("retention deletions are the deletion worker's"));
        }
        let certificate = self
            .rpc
            .call(DeleteRecording {
                actor: self.actor.clone(),
                tenant: self.tenant,
                recording,
                reason,
                note,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(certificate.tenant_id, "deletion certificate")?;
        Ok(certificate)
    }

    pub async fn run_deletion(&self) -> Result<DeletionCertificate> {
        let certificate = self
            .rpc
            .call(RunDeletion {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(certificate.tenant_id, "deletion certificate")?;
        Ok(certificate)
    }

    pub async fn list_deletion_certificates(&self) -> Result<Vec<DeletionCertificate>> {
        let certificates = self
            .rpc
            .call(ListDeletionCertificates {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)?;
        for certificate in &certificates {
            self.check_tenant(certificate.tenant_id, "deletion certificate")?;
        }
        Ok(certificates)
    }
}

impl TenantScope<'_, perm::VerifyRecordings> {
    /// Has storage read the whole recording and check it.
    pub async fn verify_recording(&self, recording: RecordingId) -> Result<Verification> {
        self.rpc
            .call(VerifyRecording {
                actor: self.actor.clone(),
                tenant: self.tenant,
                recording,
            })
            .await
            .map_err(from_api)
    }
}

impl TenantScope<'_, perm::ReadAudit> {
    pub async fn audit_trail(&self, after_seq: Option<u64>, first: u32) -> Result<AuditPage> {
        let page = self
            .rpc
            .call(AuditTrail {
                actor: self.actor.clone(),
                tenant: self.tenant,
                after_seq,
                first,
            })
            .await
            .map_err(from_api)?;
        for entry in &page.items {
            self.check_tenant(entry.tenant_id, "audit entry")?;
        }
        Ok(page)
    }

    pub async fn verify_audit_chain(
        &self,
        kept_manifests: Vec<KeptManifest>,
    ) -> Result<ChainVerification> {
        self.rpc
            .call(VerifyAuditChain {
                actor: self.actor.clone(),
                tenant: self.tenant,
                kept_manifests,
            })
            .await
            .map_err(from_api)
    }

    pub async fn daily_manifest(&self, date: NaiveDate) -> Result<SignedManifest> {
        let manifest = self
            .rpc
            .call(DailyManifest {
                actor: self.actor.clone(),
                tenant: self.tenant,
                date,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(manifest.tenant_id, "manifest")?;
        Ok(manifest)
    }
}

impl TenantScope<'_, perm::ManageKeys> {
    /// Rotates the tenant's managed key, or switches it to the tenant's own
    /// key; the storage service re-wraps the data keys afterwards.
    pub async fn change_tenant_key(&self, mode: KeyMode, reason: String) -> Result<Tenant> {
        let tenant = self
            .rpc
            .call(ChangeTenantKey {
                actor: self.actor.clone(),
                tenant: self.tenant,
                mode,
                reason,
            })
            .await
            .map_err(from_api)?;
        self.check_tenant(tenant.id, "tenant")?;
        Ok(tenant)
    }
}

impl TenantScope<'_, perm::ReadRecordings> {
    /// Where `recording` (as this handle returned it) stands: retention and
    /// holds.
    pub async fn recording_lifecycle(&self, recording: &Recording) -> Result<RecordingLifecycle> {
        self.check_may_play(recording)?;
        let lifecycle = self
            .rpc
            .call(GetRecordingLifecycle {
                actor: self.actor.clone(),
                tenant: self.tenant,
                recording: recording.id,
            })
            .await
            .map_err(from_api)?;
        if lifecycle.recording_id != recording.id {
            error!(recording = %recording.id, "backend answered for another recording");
            return Err(coded(ErrorCode::Internal, "internal error"));
        }
        Ok(lifecycle)
    }

    /// Asks the metadata service to authorise (and audit) one playback of
    /// `recording`; the caller mints the signed URL only after this says
    /// yes, and for the recording it returns.
    pub async fn authorize_playback(
        &self,
        recording: &Recording,
        access: Access,
        reason: Option<String>,
    ) -> Result<Recording> {
        self.check_may_play(recording)?;
        let authorized = self
            .rpc
            .call(AuthorizePlayback {
                actor: self.actor.clone(),
                tenant: self.tenant,
                recording: recording.id,
                access,
                reason,
            })
            .await
            .map_err(from_api)?;
        self.check_belongs(&authorized)?;
        if authorized.id != recording.id {
            error!(recording = %recording.id, "backend authorised another recording");
            return Err(coded(ErrorCode::Internal, "internal error"));
        }
        Ok(authorized)
    }

    /// The recording is this tenant's and, for an agent, the agent's own
    /// call: the same rule `get_recording` applies, checked again because a
    /// handle method can be handed any recording.
    fn check_may_play(&self, recording: &Recording) -> Result<()> {
        self.check_belongs(recording)?;
        if self.actor.role == Role::Agent
            && recording.agent.as_deref() != Some(self.own_agent_id()?)
        {
            return Err(from_api(ApiError::not_found("recording")));
        }
        Ok(())
    }
}

/// The lifecycle API's one public call. Cloning it is cheap; it is what the
/// unauthenticated manifest-key route and `Tenant.manifestPublicKey` hold.
#[derive(Clone)]
pub struct PublicLifecycle {
    rpc: RpcClient,
}

impl PublicLifecycle {
    pub fn new(rpc: RpcClient) -> Self {
        Self { rpc }
    }

    /// The tenant's manifest verification key (base64 Ed25519): anyone may
    /// have it, since it only verifies.
    pub async fn manifest_public_key(&self, tenant: TenantId) -> ApiResult<String> {
        self.rpc.call(ManifestPublicKey { tenant }).await
    }
}
