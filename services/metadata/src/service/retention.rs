//! TODO(lifecycle): retention.

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
    pub(super) async fn get_policy_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<TenantPolicy> {
        unimplemented!("get_policy")
    }

    pub(super) async fn set_policy_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        policy: TenantPolicy,
    ) -> ApiResult<TenantPolicy> {
        unimplemented!("set_policy")
    }

    pub(super) async fn list_retention_rules_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<RetentionRule>> {
        unimplemented!("list_retention_rules")
    }

    pub(super) async fn create_retention_rule_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        rule: NewRetentionRule,
    ) -> ApiResult<RetentionRule> {
        unimplemented!("create_retention_rule")
    }

    pub(super) async fn delete_retention_rule_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        rule: Uuid,
    ) -> ApiResult<RetentionRule> {
        unimplemented!("delete_retention_rule")
    }

    pub(super) async fn recording_lifecycle_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
    ) -> ApiResult<RecordingLifecycle> {
        unimplemented!("recording_lifecycle")
    }

    pub(super) async fn authorize_playback_impl(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        reason: Option<String>,
    ) -> ApiResult<Recording> {
        unimplemented!("authorize_playback")
    }
}
