//! A stand-in `LifecycleApi` and `RecordingShredder`: each records every
//! call as the request it corresponds to, and answers fixed values.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use callvault_contracts::call::Direction;
use callvault_contracts::lifecycle_api::{
    Access, AuditAction, AuditEntry, AuditPage, ChainVerification, DeletionCertificate,
    DeletionReason, EffectiveRule, HoldScope, LegalHold, LifecycleApi, LifecycleRequest,
    NewLegalHold, NewRetentionRule, RecordingLifecycle, RecordingShredder, RetentionMatch,
    RetentionRule, SignedManifest, StorageRequest, TenantPolicy, Tombstone,
};
use callvault_contracts::metadata_api::{
    ApiError, ApiResult, ErrorCode, KeyMode, Recording, Tenant,
};
use callvault_contracts::{Actor, RecordingId, TenantId};
use chrono::NaiveDate;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::metadata::stand_in::{INTRUDER, SLOW, at, recording, tenant};

/// The tenant as a key change answers it: on the tenant's own key now.
pub(crate) fn rekeyed_tenant() -> Tenant {
    Tenant {
        key_ref: "arn:aws:kms:ap-northeast-1:111122223333:key/new".to_owned(),
        ..tenant()
    }
}

/// The tenant whose manifest key doesn't exist.
pub(crate) fn unknown_tenant() -> TenantId {
    TenantId(Uuid::from_u128(404))
}

/// Records each call as the request it corresponds to.
#[derive(Default)]
pub(crate) struct Recorded {
    calls: Mutex<Vec<Value>>,
}

impl Recorded {
    async fn record<R: serde::Serialize>(&self, call: R, actor: Option<&Actor>) -> ApiResult<()> {
        let call = serde_json::to_value(&call).expect("encode the call");
        self.calls.lock().expect("calls lock").push(call);
        match actor.map(|actor| actor.subject.as_str()) {
            Some(INTRUDER) => Err(ApiError::forbidden()),
            Some(SLOW) => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn calls(&self) -> Vec<Value> {
        self.calls.lock().expect("calls lock").clone()
    }
}

pub(crate) fn policy() -> TenantPolicy {
    TenantPolicy {
        default_retention_days: 2555,
        require_playback_reason: true,
    }
}

pub(crate) fn rule() -> RetentionRule {
    RetentionRule {
        id: Uuid::from_u128(10),
        tenant_id: tenant().id,
        name: "securities".to_owned(),
        matches: RetentionMatch {
            queue: Some("trading".to_owned()),
            direction: Some(Direction::Outbound),
            tags: vec!["mifid".to_owned()],
            attributes: BTreeMap::from([("product".to_owned(), "securities".to_owned())]),
        },
        retention_days: 1825,
        overriding: true,
        created_by: "co@client.example".to_owned(),
        created_at: at(1_700_000_500),
    }
}

pub(crate) fn lifecycle() -> RecordingLifecycle {
    RecordingLifecycle {
        recording_id: recording().id,
        rule: EffectiveRule::Rule {
            id: rule().id,
            name: rule().name,
            retention_days: 1825,
        },
        retain_until: at(1_900_000_000),
        holds: vec![hold().id],
    }
}

pub(crate) fn hold() -> LegalHold {
    LegalHold {
        id: Uuid::from_u128(11),
        tenant_id: tenant().id,
        case_name: "Case 7".to_owned(),
        reason: "litigation".to_owned(),
        scope: HoldScope::Recordings {
            ids: vec![recording().id],
        },
        placed_by: "co@client.example".to_owned(),
        placed_at: at(1_700_000_600),
        released_by: Some("co@client.example".to_owned()),
        released_at: Some(at(1_700_000_700)),
        release_reason: Some("settled".to_owned()),
    }
}

pub(crate) fn certificate() -> DeletionCertificate {
    DeletionCertificate {
        id: Uuid::from_u128(12),
        tenant_id: tenant().id,
        started_at: at(1_700_000_800),
        finished_at: at(1_700_000_801),
        deleted: vec![Tombstone {
            recording_id: recording().id,
            tenant_id: tenant().id,
            deleted_at: at(1_700_000_801),
            reason: DeletionReason::Erasure,
            policy: "data subject request 42".to_owned(),
            deleted_by: "co@client.example".to_owned(),
        }],
        held_back: vec![RecordingId(Uuid::from_u128(13))],
        failed: vec![RecordingId(Uuid::from_u128(14))],
    }
}

pub(crate) fn audit_page() -> AuditPage {
    AuditPage {
        items: vec![AuditEntry {
            tenant_id: tenant().id,
            seq: 7,
            at: at(1_700_000_900),
            actor: "qa@client.example".to_owned(),
            role: "supervisor".to_owned(),
            action: AuditAction::Playback,
            target: Some(recording().id.0.to_string()),
            origin: Some("203.0.113.9".to_owned()),
            reason: Some("qa review".to_owned()),
            details: json!({ "ttl_secs": 300 }),
            prev_hash: "0".repeat(64),
            hash: "f".repeat(64),
        }],
        end_seq: Some(7),
        has_next_page: true,
    }
}

pub(crate) fn verification() -> ChainVerification {
    ChainVerification {
        entries_checked: 7,
        first_bad_seq: Some(5),
    }
}

pub(crate) fn manifest() -> SignedManifest {
    SignedManifest {
        tenant_id: tenant().id,
        date: day(),
        body: r#"{"added":[],"deleted":[]}"#.to_owned(),
        signature: "c2lnbmF0dXJl".to_owned(),
        public_key: public_key(),
    }
}

pub(crate) fn public_key() -> String {
    "MCowBQYDK2VwAyEA".to_owned()
}

pub(crate) fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).expect("a valid date")
}

/// A stand-in `LifecycleApi`.
#[derive(Default)]
pub(crate) struct LifecycleStandIn(pub(crate) Recorded);

#[async_trait]
impl LifecycleApi for LifecycleStandIn {
    async fn get_policy(&self, actor: &Actor, tenant: TenantId) -> ApiResult<TenantPolicy> {
        let call = LifecycleRequest::GetPolicy {
            actor: actor.clone(),
            tenant,
        };
        self.0.record(call, Some(actor)).await.map(|()| policy())
    }
    async fn set_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
        policy: TenantPolicy,
    ) -> ApiResult<TenantPolicy> {
        let call = LifecycleRequest::SetPolicy {
            actor: actor.clone(),
            tenant,
            policy: policy.clone(),
        };
        self.0.record(call, Some(actor)).await.map(|()| policy)
    }
    async fn list_retention_rules(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<RetentionRule>> {
        let call = LifecycleRequest::ListRetentionRules {
            actor: actor.clone(),
            tenant,
        };
        self.0
            .record(call, Some(actor))
            .await
            .map(|()| vec![rule(), rule()])
    }
    async fn create_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        new: NewRetentionRule,
    ) -> ApiResult<RetentionRule> {
        let call = LifecycleRequest::CreateRetentionRule {
            actor: actor.clone(),
            tenant,
            rule: new,
        };
        self.0.record(call, Some(actor)).await.map(|()| rule())
    }
    async fn delete_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
    ) -> ApiResult<RetentionRule> {
        let call = LifecycleRequest::DeleteRetentionRule {
            actor: actor.clone(),
            tenant,
            rule: id,
        };
        self.0.record(call, Some(actor)).await.map(|()| rule())
    }
    async fn recording_lifecycle(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
    ) -> ApiResult<RecordingLifecycle> {
        let call = LifecycleRequest::RecordingLifecycle {
            actor: actor.clone(),
            tenant,
            recording,
        };
        self.0.record(call, Some(actor)).await.map(|()| lifecycle())
    }
    async fn place_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        new: NewLegalHold,
    ) -> ApiResult<LegalHold> {
        let call = LifecycleRequest::PlaceHold {
            actor: actor.clone(),
            tenant,
            hold: new,
        };
        self.0.record(call, Some(actor)).await.map(|()| hold())
    }
    async fn release_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        reason: String,
    ) -> ApiResult<LegalHold> {
        let call = LifecycleRequest::ReleaseHold {
            actor: actor.clone(),
            tenant,
            hold: id,
            reason,
        };
        self.0.record(call, Some(actor)).await.map(|()| hold())
    }
    async fn list_holds(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<LegalHold>> {
        let call = LifecycleRequest::ListHolds {
            actor: actor.clone(),
            tenant,
        };
        self.0
            .record(call, Some(actor))
            .await
            .map(|()| vec![hold()])
    }
    async fn delete_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        reason: DeletionReason,
        note: String,
    ) -> ApiResult<DeletionCertificate> {
        let call = LifecycleRequest::DeleteRecording {
            actor: actor.clone(),
            tenant,
            recording,
            reason,
            note,
        };
        self.0
            .record(call, Some(actor))
            .await
            .map(|()| certificate())
    }
    async fn run_deletion(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<DeletionCertificate> {
        let call = LifecycleRequest::RunDeletion {
            actor: actor.clone(),
            tenant,
        };
        self.0
            .record(call, Some(actor))
            .await
            .map(|()| certificate())
    }
    async fn list_deletion_certificates(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<DeletionCertificate>> {
        let call = LifecycleRequest::ListDeletionCertificates {
            actor: actor.clone(),
            tenant,
        };
        self.0
            .record(call, Some(actor))
            .await
            .map(|()| vec![certificate()])
    }
    async fn authorize_playback(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording_id: RecordingId,
        access: Access,
        reason: Option<String>,
    ) -> ApiResult<Recording> {
        let missing_reason = reason.is_none();
        let call = LifecycleRequest::AuthorizePlayback {
            actor: actor.clone(),
            tenant,
            recording: recording_id,
            access,
            reason,
        };
        self.0.record(call, Some(actor)).await?;
        if missing_reason {
            return Err(ApiError::invalid("a playback reason is required"));
        }
        Ok(recording())
    }
    async fn audit_trail(
        &self,
        actor: &Actor,
        tenant: TenantId,
        after_seq: Option<u64>,
        first: u32,
    ) -> ApiResult<AuditPage> {
        let call = LifecycleRequest::AuditTrail {
            actor: actor.clone(),
            tenant,
            after_seq,
            first,
        };
        self.0
            .record(call, Some(actor))
            .await
            .map(|()| audit_page())
    }
    async fn verify_audit_chain(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<ChainVerification> {
        let call = LifecycleRequest::VerifyAuditChain {
            actor: actor.clone(),
            tenant,
        };
        self.0
            .record(call, Some(actor))
            .await
            .map(|()| verification())
    }
    async fn daily_manifest(
        &self,
        actor: &Actor,
        tenant: TenantId,
        date: NaiveDate,
    ) -> ApiResult<SignedManifest> {
        let call = LifecycleRequest::DailyManifest {
            actor: actor.clone(),
            tenant,
            date,
        };
        self.0.record(call, Some(actor)).await.map(|()| manifest())
    }
    async fn manifest_public_key(&self, tenant: TenantId) -> ApiResult<String> {
        self.0
            .record(LifecycleRequest::ManifestPublicKey { tenant }, None)
            .await?;
        if tenant == unknown_tenant() {
            return Err(ApiError::not_found("tenant"));
        }
        Ok(public_key())
    }
    async fn change_tenant_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        mode: KeyMode,
        reason: String,
    ) -> ApiResult<Tenant> {
        let call = LifecycleRequest::ChangeTenantKey {
            actor: actor.clone(),
            tenant,
            mode,
            reason,
        };
        self.0
            .record(call, Some(actor))
            .await
            .map(|()| rekeyed_tenant())
    }
}

/// A stand-in `RecordingShredder`: shredding `failing_recording()` fails.
#[derive(Default)]
pub(crate) struct ShredderStandIn(pub(crate) Recorded);

pub(crate) fn failing_recording() -> RecordingId {
    RecordingId(Uuid::from_u128(500))
}

#[async_trait]
impl RecordingShredder for ShredderStandIn {
    async fn shred(&self, tenant: TenantId, recording: RecordingId) -> ApiResult<()> {
        self.0
            .record(StorageRequest::Shred { tenant, recording }, None)
            .await?;
        if recording == failing_recording() {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "object store unavailable",
            ));
        }
        Ok(())
    }
}
