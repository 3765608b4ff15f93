//! The lifecycle mutations: retention policy and rules, legal holds,
//! deletion, the tenant's key.

use async_graphql::{Context, Object, Result};
use callvault_contracts::{RecordingId, TenantId};
use uuid::Uuid;

use super::lifecycle_inputs::{
    DeletionRequestReason, LegalHoldInput, RetentionRuleInput, TenantKeyChangeInput,
    TenantPolicyInput, checked_text,
};
use super::lifecycle_types::{
    DeletionCertificate, LegalHold, RecordingVerification, RetentionRule, TenantPolicy,
};
use super::types::Tenant;
use crate::access::{ScopeExt, perm};

#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// Sets the retention default and the playback-reason requirement;
    /// every recording's retain-until date is recomputed.
    async fn set_tenant_policy(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        input: TenantPolicyInput,
    ) -> Result<TenantPolicy> {
        let scope = ctx.scope()?;
        let policy = input.into_api()?;
        let policy = scope
            .tenant(TenantId(tenant_id), perm::ManagePolicy)
            .await?
            .set_policy(policy)
            .await?;
        Ok(policy.into())
    }

    /// Adds a retention rule; it applies retroactively.
    async fn create_retention_rule(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        input: RetentionRuleInput,
    ) -> Result<RetentionRule> {
        let scope = ctx.scope()?;
        let rule = input.into_api()?;
        let rule = scope
            .tenant(TenantId(tenant_id), perm::ManagePolicy)
            .await?
            .create_retention_rule(rule)
            .await?;
        Ok(rule.into())
    }

    /// Removes a retention rule; recordings fall back to the other rules.
    async fn delete_retention_rule(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<RetentionRule> {
        let scope = ctx.scope()?;
        let rule = scope
            .tenant(TenantId(tenant_id), perm::ManagePolicy)
            .await?
            .delete_retention_rule(id)
            .await?;
        Ok(rule.into())
    }

    /// Places a legal hold on listed recordings or on a search (a case).
    async fn place_legal_hold(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        input: LegalHoldInput,
    ) -> Result<LegalHold> {
        let scope = ctx.scope()?;
        let hold = input.into_api()?;
        let hold = scope
            .tenant(TenantId(tenant_id), perm::ManageHolds)
            .await?
            .place_hold(hold)
            .await?;
        Ok(hold.into())
    }

    /// Releases a legal hold; what it covered becomes deletable again.
    async fn release_legal_hold(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        id: Uuid,
        reason: String,
    ) -> Result<LegalHold> {
        let scope = ctx.scope()?;
        let reason = checked_text(&reason, "reason")?;
        let hold = scope
            .tenant(TenantId(tenant_id), perm::ManageHolds)
            .await?
            .release_hold(id, reason)
            .await?;
        Ok(hold.into())
    }

    /// Deletes one recording now (crypto-shredding it); refused with
    /// CONFLICT while a legal hold covers it.
    async fn delete_recording(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        id: Uuid,
        reason: DeletionRequestReason,
        note: String,
    ) -> Result<DeletionCertificate> {
        let scope = ctx.scope()?;
        let note = checked_text(&note, "note")?;
        let certificate = scope
            .tenant(TenantId(tenant_id), perm::ManageDeletion)
            .await?
            .delete_recording(RecordingId(id), reason.into(), note)
            .await?;
        Ok(certificate.into())
    }

    /// Reads a whole recording in storage, authenticating every frame and
    /// comparing its SHA-256 with the one recorded at ingest: proof that
    /// the evidence is intact. A damaged recording is answered
    /// (`intact: false`) and also logged, counted and appended to the
    /// audit trail. NOT_FOUND for a recording the tenant doesn't have,
    /// CONFLICT for a shredded one.
    async fn verify_recording(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<RecordingVerification> {
        let scope = ctx.scope()?;
        let verification = scope
            .tenant(TenantId(tenant_id), perm::VerifyRecordings)
            .await?
            .verify_recording(RecordingId(id))
            .await?;
        Ok(verification.into())
    }

    /// Runs the deletion worker for the tenant now (it also runs on a
    /// timer).
    async fn run_deletion(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
    ) -> Result<DeletionCertificate> {
        let scope = ctx.scope()?;
        let certificate = scope
            .tenant(TenantId(tenant_id), perm::ManageDeletion)
            .await?
            .run_deletion()
            .await?;
        Ok(certificate.into())
    }

    /// Changes the tenant's master key (recorded in the audit trail). The
    /// recordings' data keys are re-wrapped onto it in the background;
    /// every recording stays playable throughout.
    async fn change_tenant_key(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        input: TenantKeyChangeInput,
    ) -> Result<Tenant> {
        let scope = ctx.scope()?;
        let (mode, reason) = input.into_api()?;
        let tenant = scope
            .tenant(TenantId(tenant_id), perm::ManageKeys)
            .await?
            .change_tenant_key(mode, reason)
            .await?;
        Ok(tenant.into())
    }
}
