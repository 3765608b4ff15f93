//! TODO(lifecycle): deletion.

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
    pub(super) async fn delete_recording_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        reason: DeletionReason,
        note: String,
    ) -> ApiResult<DeletionCertificate> {
        unimplemented!("delete_recording")
    }

    pub(super) async fn run_deletion_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<DeletionCertificate> {
        unimplemented!("run_deletion")
    }

    pub(super) async fn list_deletion_certificates_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<DeletionCertificate>> {
        unimplemented!("list_deletion_certificates")
    }
}
