//! [`LifecycleApi`] for [`MetadataService`]: each method delegates to the
//! module that owns it (retention, holds, deletion, audit_api, key_change).

use async_trait::async_trait;
use callvault_contracts::lifecycle_api::LifecycleApi;
use callvault_contracts::lifecycle_api::{
    Access, AuditPage, ChainVerification, DeletionCertificate, DeletionReason, LegalHold,
    NewLegalHold, NewRetentionRule, RecordingLifecycle, RetentionRule, SignedManifest,
    TenantPolicy,
};
use callvault_contracts::metadata_api::{ApiResult, KeyMode, Recording, Tenant};
use callvault_contracts::{Actor, RecordingId, TenantId};
use chrono::NaiveDate;
use uuid::Uuid;

use super::MetadataService;

#[async_trait]
impl LifecycleApi for MetadataService {
    async fn get_policy(&self, actor: &Actor, tenant: TenantId) -> ApiResult<TenantPolicy> {
        self.get_policy_impl(actor, tenant).await
    }

    async fn set_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
        policy: TenantPolicy,
    ) -> ApiResult<TenantPolicy> {
        self.set_policy_impl(actor, tenant, policy).await
    }

    async fn list_retention_rules(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<RetentionRule>> {
        self.list_retention_rules_impl(actor, tenant).await
    }

    async fn create_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        rule: NewRetentionRule,
    ) -> ApiResult<RetentionRule> {
        self.create_retention_rule_impl(actor, tenant, rule).await
    }

    async fn delete_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        rule: Uuid,
    ) -> ApiResult<RetentionRule> {
        self.delete_retention_rule_impl(actor, tenant, rule).await
    }

    async fn recording_lifecycle(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
    ) -> ApiResult<RecordingLifecycle> {
        self.recording_lifecycle_impl(actor, tenant, recording)
            .await
    }

    async fn authorize_playback(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        access: Access,
        reason: Option<String>,
    ) -> ApiResult<Recording> {
        self.authorize_playback_impl(actor, tenant, recording, access, reason)
            .await
    }

    async fn place_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hold: NewLegalHold,
    ) -> ApiResult<LegalHold> {
        self.place_hold_impl(actor, tenant, hold).await
    }

    async fn release_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hold: Uuid,
        reason: String,
    ) -> ApiResult<LegalHold> {
        self.release_hold_impl(actor, tenant, hold, reason).await
    }

    async fn list_holds(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<LegalHold>> {
        self.list_holds_impl(actor, tenant).await
    }

    async fn delete_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        reason: DeletionReason,
        note: String,
    ) -> ApiResult<DeletionCertificate> {
        self.delete_recording_impl(actor, tenant, recording, reason, note)
            .await
    }

    async fn run_deletion(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<DeletionCertificate> {
        self.run_deletion_impl(actor, tenant).await
    }

    async fn list_deletion_certificates(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<DeletionCertificate>> {
        self.list_deletion_certificates_impl(actor, tenant).await
    }

    async fn audit_trail(
        &self,
        actor: &Actor,
        tenant: TenantId,
        after_seq: Option<u64>,
        first: u32,
    ) -> ApiResult<AuditPage> {
        self.audit_trail_impl(actor, tenant, after_seq, first).await
    }

    async fn verify_audit_chain(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<ChainVerification> {
        self.verify_audit_chain_impl(actor, tenant).await
    }

    async fn daily_manifest(
        &self,
        actor: &Actor,
        tenant: TenantId,
        date: NaiveDate,
    ) -> ApiResult<SignedManifest> {
        self.daily_manifest_impl(actor, tenant, date).await
    }

    async fn manifest_public_key(&self, tenant: TenantId) -> ApiResult<String> {
        self.manifest_public_key_impl(tenant).await
    }

    async fn change_tenant_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        mode: KeyMode,
        reason: String,
    ) -> ApiResult<Tenant> {
        self.change_tenant_key_impl(actor, tenant, mode, reason)
            .await
    }
}
