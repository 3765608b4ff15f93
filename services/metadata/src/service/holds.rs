//! TODO(lifecycle): holds.

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
    pub(super) async fn place_hold_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hold: NewLegalHold,
    ) -> ApiResult<LegalHold> {
        unimplemented!("place_hold")
    }

    pub(super) async fn release_hold_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hold: Uuid,
        reason: String,
    ) -> ApiResult<LegalHold> {
        unimplemented!("release_hold")
    }

    pub(super) async fn list_holds_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<LegalHold>> {
        unimplemented!("list_holds")
    }

    /// The active holds (explicit, or a case whose filter matches) covering
    /// `recording`. Used by `recording_lifecycle` and by every deletion path.
    pub(super) async fn holds_covering(
        &self,
        tenant: TenantId,
        recording: &crate::db::entity::recording::Model,
    ) -> ApiResult<Vec<Uuid>> {
        unimplemented!("holds_covering")
    }
}
