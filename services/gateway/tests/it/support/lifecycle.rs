//! A `LifecycleApi` test double that records every call reaching it, like
//! the metadata double: it checks no permissions, so whatever a test sees
//! succeed was let through by the gateway alone.

use callvault_bus::Router;
use callvault_contracts::ops::lifecycle;
use callvault_contracts::ops::offboarding;
use callvault_contracts::ops::storage::{
    StoredByteSeconds, TenantByteSeconds, Verification, VerifyRecording,
};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use callvault_contracts::lifecycle_api::*;
use callvault_contracts::metadata_api::{ApiError, ApiResult, KeyMode, Recording, Tenant};
use callvault_contracts::{Actor, RecordingId, TenantId};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;
use uuid::Uuid;

use super::metadata::{World, recording};

/// A valid-looking base64 Ed25519 public key (32 bytes).
pub const PUBLIC_KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// One call that reached the double.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleCall {
    pub method: &'static str,
    pub tenant: Uuid,
    /// None only for the public manifest key.
    pub actor: Option<Actor>,
    /// The playback reason, release reason or deletion note, if any.
    pub reason: Option<String>,
}

pub struct FakeLifecycle {
    world: World,
    calls: Mutex<Vec<LifecycleCall>>,
    /// Refuse playbacks without a reason, as a tenant requiring one would.
    require_reason: AtomicBool,
    /// Answer with tenant C's data whatever was asked: a backend bug the
    /// gateway must not pass on.
    rogue: AtomicBool,
}

impl FakeLifecycle {
    pub fn new(world: World) -> Self {
        Self {
            world,
            calls: Mutex::new(Vec::new()),
            require_reason: AtomicBool::new(false),
            rogue: AtomicBool::new(false),
        }
    }

    pub fn calls(&self) -> Vec<LifecycleCall> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn methods(&self) -> Vec<&'static str> {
        self.calls().into_iter().map(|call| call.method).collect()
    }

    pub fn clear(&self) {
        self.calls.lock().expect("lock").clear();
    }

    pub fn require_reason(&self, required: bool) {
        self.require_reason.store(required, Ordering::SeqCst);
    }

    pub fn go_rogue(&self) {
        self.rogue.store(true, Ordering::SeqCst);
    }

    /// The tenant answers are about: the one asked, unless rogue.
    fn answer_for(&self, tenant: TenantId) -> TenantId {
        if self.rogue.load(Ordering::SeqCst) {
            return self.world.tenant_c;
        }
        tenant
    }

    pub(super) fn record(
        &self,
        method: &'static str,
        tenant: TenantId,
        actor: Option<&Actor>,
        reason: Option<&str>,
    ) {
        self.calls.lock().expect("lock").push(LifecycleCall {
            method,
            tenant: tenant.0,
            actor: actor.cloned(),
            reason: reason.map(str::to_owned),
        });
    }

    fn known(&self, tenant: TenantId) -> bool {
        let w = &self.world;
        [w.tenant_a, w.tenant_b, w.tenant_c].contains(&tenant)
    }

    fn recording(&self, tenant: TenantId, id: RecordingId) -> ApiResult<Recording> {
        let w = &self.world;
        match (tenant == w.tenant_a, id) {
            (true, id) if id == w.rec_a1 => Ok(recording(tenant, id, "ag-1")),
            (true, id) if id == w.rec_a2 => Ok(recording(tenant, id, "ag-2")),
            _ => Err(ApiError::not_found("recording")),
        }
    }
}

pub fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
        .single()
        .expect("valid date")
}

fn rule(tenant: TenantId, id: Uuid, name: &str) -> RetentionRule {
    RetentionRule {
        id,
        tenant_id: tenant,
        name: name.to_owned(),
        matches: RetentionMatch {
            queue: Some("trading".into()),
            direction: None,
            tags: vec!["mifid".into()],
            attributes: [("product".to_owned(), "securities".to_owned())].into(),
        },
        retention_days: 1825,
        overriding: true,
        created_by: "co@example.test".into(),
        created_at: at(),
        legal_basis: None,
    }
}

fn hold(tenant: TenantId, id: Uuid, scope: HoldScope) -> LegalHold {
    LegalHold {
        id,
        tenant_id: tenant,
        case_name: "Case 7".into(),
        reason: "litigation".into(),
        scope,
        placed_by: "co@example.test".into(),
        placed_at: at(),
        released_by: None,
        released_at: None,
        release_reason: None,
    }
}

fn certificate(
    tenant: TenantId,
    deleted: Option<(RecordingId, DeletionReason, String)>,
) -> DeletionCertificate {
    DeletionCertificate {
        body: Some("{}".into()),
        signature: Some("c2lnbmF0dXJl".into()),
        id: Uuid::new_v4(),
        tenant_id: tenant,
        started_at: at(),
        finished_at: at(),
        deleted: deleted
            .into_iter()
            .map(|(recording, reason, policy)| Tombstone {
                recording_id: recording,
                tenant_id: tenant,
                deleted_at: at(),
                reason,
                policy,
                deleted_by: "co@example.test".into(),
            })
            .collect(),
        held_back: vec![],
        failed: vec![],
        held_by_request: vec![],
        request_id: None,
    }
}

impl FakeLifecycle {
    pub async fn get_policy(&self, actor: &Actor, tenant: TenantId) -> ApiResult<TenantPolicy> {
        self.record("get_policy", tenant, Some(actor), None);
        Ok(TenantPolicy {
            default_retention_days: 365,
            require_playback_reason: self.require_reason.load(Ordering::SeqCst),
        })
    }

    pub async fn set_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
        policy: TenantPolicy,
    ) -> ApiResult<TenantPolicy> {
        self.record("set_policy", tenant, Some(actor), None);
        Ok(policy)
    }

    pub async fn list_retention_rules(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<RetentionRule>> {
        self.record("list_retention_rules", tenant, Some(actor), None);
        Ok(vec![rule(tenant, Uuid::new_v4(), "securities")])
    }

    pub async fn create_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        new: NewRetentionRule,
    ) -> ApiResult<RetentionRule> {
        self.record("create_retention_rule", tenant, Some(actor), None);
        Ok(RetentionRule {
            name: new.name,
            matches: new.matches,
            retention_days: new.retention_days,
            overriding: new.overriding,
            legal_basis: new.legal_basis,
            ..rule(tenant, Uuid::new_v4(), "")
        })
    }

    pub async fn delete_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
    ) -> ApiResult<RetentionRule> {
        self.record("delete_retention_rule", tenant, Some(actor), None);
        Ok(rule(tenant, id, "securities"))
    }

    pub async fn recording_lifecycle(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
    ) -> ApiResult<RecordingLifecycle> {
        self.record("recording_lifecycle", tenant, Some(actor), None);
        self.recording(tenant, recording)?;
        Ok(RecordingLifecycle {
            recording_id: recording,
            rule: EffectiveRule::Rule {
                id: Uuid::nil(),
                name: "securities".into(),
                retention_days: 1825,
            },
            retain_until: at(),
            holds: vec![Uuid::nil()],
        })
    }

    pub async fn place_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        new: NewLegalHold,
    ) -> ApiResult<LegalHold> {
        self.record("place_hold", tenant, Some(actor), Some(&new.reason));
        Ok(LegalHold {
            case_name: new.case_name,
            reason: new.reason,
            ..hold(tenant, Uuid::new_v4(), new.scope)
        })
    }

    pub async fn release_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: Uuid,
        reason: String,
    ) -> ApiResult<LegalHold> {
        self.record("release_hold", tenant, Some(actor), Some(&reason));
        Ok(LegalHold {
            released_by: Some(actor.subject.clone()),
            released_at: Some(at()),
            release_reason: Some(reason),
            ..hold(tenant, id, HoldScope::Recordings { ids: vec![] })
        })
    }

    pub async fn list_holds(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<LegalHold>> {
        self.record("list_holds", tenant, Some(actor), None);
        let w = &self.world;
        Ok(vec![hold(
            self.answer_for(tenant),
            Uuid::new_v4(),
            HoldScope::Recordings {
                ids: vec![w.rec_a1],
            },
        )])
    }

    pub async fn delete_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        reason: DeletionReason,
        note: String,
    ) -> ApiResult<DeletionCertificate> {
        self.record("delete_recording", tenant, Some(actor), Some(&note));
        Ok(certificate(tenant, Some((recording, reason, note))))
    }

    pub async fn run_deletion(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<DeletionCertificate> {
        self.record("run_deletion", tenant, Some(actor), None);
        Ok(certificate(tenant, None))
    }

    pub async fn list_deletion_certificates(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<DeletionCertificate>> {
        self.record("list_deletion_certificates", tenant, Some(actor), None);
        Ok(vec![certificate(tenant, None)])
    }

    pub async fn authorize_playback(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        access: Access,
        reason: Option<String>,
    ) -> ApiResult<Recording> {
        let method = match access {
            Access::Playback => "authorize_playback",
            Access::Download => "authorize_download",
        };
        self.record(method, tenant, Some(actor), reason.as_deref());
        if reason.is_none() && self.require_reason.load(Ordering::SeqCst) {
            return Err(ApiError::invalid("a playback reason is required"));
        }
        if self.rogue.load(Ordering::SeqCst) {
            // Another recording than the one asked for.
            let other = if recording == self.world.rec_a1 {
                self.world.rec_a2
            } else {
                self.world.rec_a1
            };
            return self.recording(tenant, other);
        }
        self.recording(tenant, recording)
    }

    pub async fn audit_trail(
        &self,
        actor: &Actor,
        tenant: TenantId,
        after_seq: Option<u64>,
        first: u32,
    ) -> ApiResult<AuditPage> {
        self.record("audit_trail", tenant, Some(actor), None);
        let tenant = self.answer_for(tenant);
        let start = after_seq.unwrap_or(0) + 1;
        let items = (start..start + u64::from(first.min(2)))
            .map(|seq| AuditEntry {
                tenant_id: tenant,
                seq,
                at: at(),
                actor: "qa@example.test".into(),
                role: "supervisor".into(),
                action: AuditAction::Playback,
                target: Some(self.world.rec_a1.0.to_string()),
                origin: Some("203.0.113.9".into()),
                reason: Some("qa review".into()),
                details: json!({ "ttl_secs": 300 }),
                prev_hash: "0".repeat(64),
                hash: "a".repeat(64),
            })
            .collect::<Vec<_>>();
        Ok(AuditPage {
            end_seq: items.last().map(|entry| entry.seq),
            items,
            has_next_page: true,
        })
    }

    pub async fn verify_audit_chain(
        &self,
        actor: &Actor,
        tenant: TenantId,
        kept: usize,
    ) -> ApiResult<ChainVerification> {
        self.record("verify_audit_chain", tenant, Some(actor), None);
        Ok(ChainVerification {
            entries_checked: 12,
            first_bad_seq: None,
            manifests_checked: u64::try_from(kept).unwrap_or(u64::MAX),
            mismatched_manifest: None,
        })
    }

    /// `export_tenant`, `offboard_tenant` and `offboarding_certificate`:
    /// what the gateway does is the permission check and the mapping.
    pub async fn export_tenant(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<offboarding::TenantExport> {
        self.record("export_tenant", tenant, Some(actor), None);
        if !self.known(tenant) {
            return Err(ApiError::not_found("tenant"));
        }
        let content = "{\"type\":\"tenant\"}\n".to_owned();
        Ok(offboarding::TenantExport {
            id: Uuid::nil(),
            tenant_id: self.answer_for(tenant),
            created_at: at(),
            sha256: "ab".repeat(32),
            size_bytes: content.len() as u64,
            recordings: 0,
            audit_entries: 0,
            content,
        })
    }

    pub async fn offboard(
        &self,
        method: &'static str,
        actor: &Actor,
        tenant: TenantId,
        confirm: Option<&str>,
    ) -> ApiResult<offboarding::OffboardingCertificate> {
        self.record(method, tenant, Some(actor), confirm);
        if !self.known(tenant) {
            return Err(ApiError::not_found("tenant"));
        }
        Ok(offboarding::OffboardingCertificate {
            id: Uuid::nil(),
            tenant_id: self.answer_for(tenant),
            bpo_id: self.world.bpo_x,
            requested_by: actor.subject.clone(),
            started_at: at(),
            finished_at: at(),
            export_sha256: "ab".repeat(32),
            recordings_shredded: 2,
            key_ref: format!("tenant/{tenant}"),
            key_destroyed: true,
            body: "{}".to_owned(),
            signature: "c2lnbmF0dXJl".to_owned(),
            algorithm: "Ed25519".to_owned(),
        })
    }

    /// Stands in for the storage service's `stored_byte_seconds`, which
    /// the billing service's storage reconciliation asks: what storage
    /// keeps is one byte for a day, of tenant A.
    pub async fn stored_byte_seconds(&self) -> ApiResult<Vec<TenantByteSeconds>> {
        let tenant = self.world.tenant_a;
        self.record("stored_byte_seconds", tenant, None, None);
        Ok(vec![TenantByteSeconds {
            tenant,
            byte_seconds: "86400".to_owned(),
        }])
    }

    /// Stands in for the storage service's `verify_recording` as well: the
    /// gateway's part is the permission check and the mapping.
    pub async fn verify_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
    ) -> ApiResult<Verification> {
        self.record("verify_recording", tenant, Some(actor), None);
        self.recording(tenant, recording)?;
        Ok(Verification {
            intact: true,
            bytes_checked: 48_000,
            expected_sha256: "00".repeat(32),
            failure: None,
            verified_at: at(),
        })
    }

    pub async fn daily_manifest(
        &self,
        actor: &Actor,
        tenant: TenantId,
        date: NaiveDate,
    ) -> ApiResult<SignedManifest> {
        self.record("daily_manifest", tenant, Some(actor), None);
        Ok(SignedManifest {
            tenant_id: tenant,
            date,
            body: "{\"added\":[],\"deleted\":[]}".into(),
            signature: "c2ln".into(),
            public_key: PUBLIC_KEY.into(),
        })
    }

    pub async fn manifest_public_key(&self, tenant: TenantId) -> ApiResult<String> {
        self.record("manifest_public_key", tenant, None, None);
        if !self.known(tenant) {
            return Err(ApiError::not_found("tenant"));
        }
        Ok(PUBLIC_KEY.into())
    }

    pub async fn change_tenant_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        mode: KeyMode,
        reason: String,
    ) -> ApiResult<Tenant> {
        self.record("change_tenant_key", tenant, Some(actor), Some(&reason));
        let w = &self.world;
        let id = self.answer_for(tenant);
        let key_ref = match mode {
            KeyMode::Managed => format!("local:tenant/{id}"),
            KeyMode::External { key_arn } => key_arn,
        };
        Ok(Tenant {
            id,
            bpo_id: if id == w.tenant_c { w.bpo_y } else { w.bpo_x },
            name: "acme".into(),
            time_zone: "Asia/Tokyo".into(),
            default_retention_days: 365,
            key_ref,
            created_at: at(),
            default_region: Some("JP".into()),
        })
    }
}

/// The double as a service: every operation routed to its method.
pub fn router(fake: &Arc<FakeLifecycle>) -> Router {
    let mut router = Router::new();
    router
        .route(fake, |f, r: lifecycle::GetPolicy| async move {
            f.get_policy(&r.actor, r.tenant).await
        })
        .route(fake, |f, r: lifecycle::SetPolicy| async move {
            f.set_policy(&r.actor, r.tenant, r.policy).await
        })
        .route(fake, |f, r: lifecycle::ListRetentionRules| async move {
            f.list_retention_rules(&r.actor, r.tenant).await
        })
        .route(fake, |f, r: lifecycle::CreateRetentionRule| async move {
            f.create_retention_rule(&r.actor, r.tenant, r.rule).await
        })
        .route(fake, |f, r: lifecycle::DeleteRetentionRule| async move {
            f.delete_retention_rule(&r.actor, r.tenant, r.rule).await
        })
        .route(fake, |f, r: lifecycle::GetRecordingLifecycle| async move {
            f.recording_lifecycle(&r.actor, r.tenant, r.recording).await
        })
        .route(fake, |f, r: lifecycle::AuthorizePlayback| async move {
            f.authorize_playback(&r.actor, r.tenant, r.recording, r.access, r.reason)
                .await
        })
        .route(fake, |f, r: lifecycle::PlaceHold| async move {
            f.place_hold(&r.actor, r.tenant, r.hold).await
        })
        .route(fake, |f, r: lifecycle::ReleaseHold| async move {
            f.release_hold(&r.actor, r.tenant, r.hold, r.reason).await
        })
        .route(fake, |f, r: lifecycle::ListHolds| async move {
            f.list_holds(&r.actor, r.tenant).await
        })
        .route(fake, |f, r: lifecycle::DeleteRecording| async move {
            f.delete_recording(&r.actor, r.tenant, r.recording, r.reason, r.note)
                .await
        })
        .route(fake, |f, r: lifecycle::RunDeletion| async move {
            f.run_deletion(&r.actor, r.tenant).await
        })
        .route(
            fake,
            |f, r: lifecycle::ListDeletionCertificates| async move {
                f.list_deletion_certificates(&r.actor, r.tenant).await
            },
        )
        .route(fake, |f, r: lifecycle::AuditTrail| async move {
            f.audit_trail(&r.actor, r.tenant, r.after_seq, r.first)
                .await
        })
        .route(fake, |f, r: lifecycle::VerifyAuditChain| async move {
            f.verify_audit_chain(&r.actor, r.tenant, r.kept_manifests.len())
                .await
        })
        .route(fake, |f, r: lifecycle::DailyManifest| async move {
            f.daily_manifest(&r.actor, r.tenant, r.date).await
        })
        .route(fake, |f, r: lifecycle::ManifestPublicKey| async move {
            f.manifest_public_key(r.tenant).await
        })
        .route(fake, |f, r: lifecycle::ChangeTenantKey| async move {
            f.change_tenant_key(&r.actor, r.tenant, r.mode, r.reason)
                .await
        });
    router.route(fake, |f, r: VerifyRecording| async move {
        f.verify_recording(&r.actor, r.tenant, r.recording).await
    });
    router.route(fake, |f, _r: StoredByteSeconds| async move {
        f.stored_byte_seconds().await
    });
    router
        .route(fake, |f, r: offboarding::ExportTenant| async move {
            f.export_tenant(&r.actor, r.tenant).await
        })
        .route(fake, |f, r: offboarding::OffboardTenant| async move {
            f.offboard("offboard_tenant", &r.actor, r.tenant, Some(&r.confirm))
                .await
        })
        .route(
            fake,
            |f, r: offboarding::GetOffboardingCertificate| async move {
                f.offboard("offboarding_certificate", &r.actor, r.tenant, None)
                    .await
            },
        );
    super::recording_policy::routes(&mut router, fake);
    router
}
