//! The tenant's lifecycle fields: retention policy and rules, legal holds,
//! deletion certificates, the audit trail and the signed daily manifests.
//! Each gets its own handle, so each is checked on its own permission.

use async_graphql::{ComplexObject, Context, Result};
use callvault_contracts::TenantId;
use chrono::NaiveDate;

use super::lifecycle_inputs::{KeptManifestInput, audit_page_size};
use super::lifecycle_types::{
    AuditPage, ChainVerification, DeletionCertificate, LegalHold, RetentionRule, SignedManifest,
    TenantPolicy,
};
use super::scalars::Int64;
use super::types::Tenant;
use crate::access::{PublicLifecycle, ScopeExt, perm};
use crate::error::from_api;

#[ComplexObject]
impl Tenant {
    /// The retention default and whether playback needs a reason.
    async fn policy(&self, ctx: &Context<'_>) -> Result<Option<TenantPolicy>> {
        let scope = ctx.scope()?;
        let policy = scope
            .tenant(TenantId(self.id), perm::ManagePolicy)
            .await?
            .get_policy()
            .await?;
        Ok(Some(policy.into()))
    }

    async fn retention_rules(&self, ctx: &Context<'_>) -> Result<Option<Vec<RetentionRule>>> {
        let scope = ctx.scope()?;
        let rules = scope
            .tenant(TenantId(self.id), perm::ManagePolicy)
            .await?
            .list_retention_rules()
            .await?;
        Ok(Some(rules.into_iter().map(Into::into).collect()))
    }

    /// Every legal hold, released ones included.
    async fn legal_holds(&self, ctx: &Context<'_>) -> Result<Option<Vec<LegalHold>>> {
        let scope = ctx.scope()?;
        let holds = scope
            .tenant(TenantId(self.id), perm::ManageHolds)
            .await?
            .list_holds()
            .await?;
        Ok(Some(holds.into_iter().map(Into::into).collect()))
    }

    async fn deletion_certificates(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<Vec<DeletionCertificate>>> {
        let scope = ctx.scope()?;
        let certificates = scope
            .tenant(TenantId(self.id), perm::ManageDeletion)
            .await?
            .list_deletion_certificates()
            .await?;
        Ok(Some(certificates.into_iter().map(Into::into).collect()))
    }

    /// The audit trail, oldest first: `first` entries after sequence number
    /// `after`.
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        after: Option<Int64>,
        first: i32,
    ) -> Result<Option<AuditPage>> {
        let scope = ctx.scope()?;
        let first = audit_page_size(first)?;
        let page = scope
            .tenant(TenantId(self.id), perm::ReadAudit)
            .await?
            .audit_trail(after.map(|seq| seq.0), first)
            .await?;
        Ok(Some(page.into()))
    }

    /// Recomputes the whole audit chain and checks it passes through the
    /// audit head of every stored daily manifest and of every manifest in
    /// `manifests` (ones the tenant kept; at most 366, each a version 2
    /// manifest of this tenant whose signature verifies, else
    /// `BAD_USER_INPUT`). A chain rewritten consistently after a manifest
    /// was signed fails here against that manifest.
    async fn verify_audit_chain(
        &self,
        ctx: &Context<'_>,
        manifests: Option<Vec<KeptManifestInput>>,
    ) -> Result<Option<ChainVerification>> {
        let scope = ctx.scope()?;
        let kept = manifests
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let verification = scope
            .tenant(TenantId(self.id), perm::ReadAudit)
            .await?
            .verify_audit_chain(kept)
            .await?;
        Ok(Some(verification.into()))
    }

    /// The signed manifest of one finished UTC day.
    async fn daily_manifest(
        &self,
        ctx: &Context<'_>,
        date: NaiveDate,
    ) -> Result<Option<SignedManifest>> {
        let scope = ctx.scope()?;
        let manifest = scope
            .tenant(TenantId(self.id), perm::ReadAudit)
            .await?
            .daily_manifest(date)
            .await?;
        Ok(Some(manifest.into()))
    }

    /// The base64 Ed25519 key that verifies the tenant's manifests. Public:
    /// `GET /v1/tenants/{tenantId}/manifest-key` serves it without a token.
    async fn manifest_public_key(&self, ctx: &Context<'_>) -> Result<String> {
        let public = ctx.data::<PublicLifecycle>()?;
        public
            .manifest_public_key(TenantId(self.id))
            .await
            .map_err(from_api)
    }
}
