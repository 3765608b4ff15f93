//! TODO(lifecycle): audit_api.

#![allow(unused_variables, unused_imports)]

use callvault_contracts::lifecycle_api::{
    AuditPage, ChainVerification, DeletionCertificate, DeletionReason, LegalHold, NewLegalHold,
    NewRetentionRule, RecordingLifecycle, RetentionRule, SignedManifest, TenantPolicy,
};
use callvault_contracts::metadata_api::{ApiResult, Recording};
use callvault_contracts::{Actor, RecordingId, TenantId};
use chrono::NaiveDate;
use uuid::Uuid;

use super::MetadataService;

impl MetadataService {
    pub(super) async fn audit_trail_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        after_seq: Option<u64>,
        first: u32,
    ) -> ApiResult<AuditPage> {
        unimplemented!("audit_trail")
    }

    pub(super) async fn verify_audit_chain_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<ChainVerification> {
        unimplemented!("verify_audit_chain")
    }

    pub(super) async fn daily_manifest_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        date: NaiveDate,
    ) -> ApiResult<SignedManifest> {
        unimplemented!("daily_manifest")
    }

    pub(super) async fn manifest_public_key_impl(&self, tenant: TenantId) -> ApiResult<String> {
        unimplemented!("manifest_public_key")
    }
}
