//! The lifecycle API over request/reply: a client implementing
//! `LifecycleApi` by sending `LifecycleRequest`s to the `metadata.lifecycle`
//! queue, and the server side dispatching them to a `LifecycleApi`
//! implementation (the metadata service).
//!
//! On the wire: the request is the JSON of [`LifecycleRequest`], the reply
//! the JSON of a `MetadataReply`, exactly as for the metadata API. Bodies
//! carry personal data (hold filters with phone numbers, reasons): nothing
//! here logs them, only the method name and error codes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_contracts::lifecycle_api::{
    Access, AuditPage, ChainVerification, DeletionCertificate, DeletionReason, LegalHold,
    LifecycleApi, LifecycleRequest, NewLegalHold, NewRetentionRule, RecordingLifecycle,
    RetentionRule, SignedManifest, TenantPolicy,
};
use callvault_contracts::metadata_api::{ApiResult, KeyMode, MetadataReply, Recording, Tenant};
use callvault_contracts::{Actor, RecordingId, TenantId};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::api_wire::{ApiCaller, ApiServer, Dispatch, to_reply};
use crate::{Bus, BusError};

/// The queue the metadata service serves the lifecycle API on.
pub const LIFECYCLE_QUEUE: &str = "metadata.lifecycle";

/// [`LifecycleApi`] over the bus.
#[derive(Clone)]
pub struct LifecycleClient {
    caller: ApiCaller,
}

impl LifecycleClient {
    /// `timeout` bounds each call; past it the call fails `Unavailable`.
    pub fn new(bus: Arc<dyn Bus>, timeout: Duration) -> Self {
        LifecycleClient {
            // The metadata service answers this queue: errors name it.
            caller: ApiCaller::new(bus, LIFECYCLE_QUEUE, "metadata", timeout),
        }
    }

    async fn call<T: DeserializeOwned>(&self, request: LifecycleRequest) -> ApiResult<T> {
        self.caller
            .call(LifecycleServer::method_name(&request), &request)
            .await
    }
}

#[async_trait]
impl LifecycleApi for LifecycleClient {
    async fn get_policy(&self, actor: &Actor, tenant: TenantId) -> ApiResult<TenantPolicy> {
        let actor = actor.clone();
        self.call(LifecycleRequest::GetPolicy { actor, tenant })
            .await
    }

    async fn set_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
        policy: TenantPolicy,
    ) -> ApiResult<TenantPolicy> {
        let actor = actor.clone();
        self.call(LifecycleRequest::SetPolicy {
            actor,
            tenant,
            policy,
        })
        .await
    }

    async fn list_retention_rules(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<RetentionRule>> {
        let actor = actor.clone();
        self.call(LifecycleRequest::ListRetentionRules { actor, tenant })
            .await
    }

    async fn create_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        rule: NewRetentionRule,
    ) -> ApiResult<RetentionRule> {
        let actor = actor.clone();
        self.call(LifecycleRequest::CreateRetentionRule {
            actor,
            tenant,
            rule,
        })
        .await
    }

    async fn delete_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        rule: Uuid,
    ) -> ApiResult<RetentionRule> {
        let actor = actor.clone();
        self.call(LifecycleRequest::DeleteRetentionRule {
            actor,
            tenant,
            rule,
        })
        .await
    }

    async fn recording_lifecycle(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
    ) -> ApiResult<RecordingLifecycle> {
        let actor = actor.clone();
        self.call(LifecycleRequest::RecordingLifecycle {
            actor,
            tenant,
            recording,
        })
        .await
    }

    async fn place_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hold: NewLegalHold,
    ) -> ApiResult<LegalHold> {
        let actor = actor.clone();
        self.call(LifecycleRequest::PlaceHold {
            actor,
            tenant,
            hold,
        })
        .await
    }

    async fn release_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hold: Uuid,
        reason: String,
    ) -> ApiResult<LegalHold> {
        let actor = actor.clone();
        self.call(LifecycleRequest::ReleaseHold {
            actor,
            tenant,
            hold,
            reason,
        })
        .await
    }

    async fn list_holds(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<LegalHold>> {
        let actor = actor.clone();
        self.call(LifecycleRequest::ListHolds { actor, tenant })
            .await
    }

    async fn delete_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        reason: DeletionReason,
        note: String,
    ) -> ApiResult<DeletionCertificate> {
        let actor = actor.clone();
        self.call(LifecycleRequest::DeleteRecording {
            actor,
            tenant,
            recording,
            reason,
            note,
        })
        .await
    }

    async fn run_deletion(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<DeletionCertificate> {
        let actor = actor.clone();
        self.call(LifecycleRequest::RunDeletion { actor, tenant })
            .await
    }

    async fn list_deletion_certificates(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<DeletionCertificate>> {
        let actor = actor.clone();
        self.call(LifecycleRequest::ListDeletionCertificates { actor, tenant })
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
        let actor = actor.clone();
        self.call(LifecycleRequest::AuthorizePlayback {
            actor,
            tenant,
            recording,
            access,
            reason,
        })
        .await
    }

    async fn audit_trail(
        &self,
        actor: &Actor,
        tenant: TenantId,
        after_seq: Option<u64>,
        first: u32,
    ) -> ApiResult<AuditPage> {
        let actor = actor.clone();
        self.call(LifecycleRequest::AuditTrail {
            actor,
            tenant,
            after_seq,
            first,
        })
        .await
    }

    async fn verify_audit_chain(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<ChainVerification> {
        let actor = actor.clone();
        self.call(LifecycleRequest::VerifyAuditChain { actor, tenant })
            .await
    }

    async fn daily_manifest(
        &self,
        actor: &Actor,
        tenant: TenantId,
        date: NaiveDate,
    ) -> ApiResult<SignedManifest> {
        let actor = actor.clone();
        self.call(LifecycleRequest::DailyManifest {
            actor,
            tenant,
            date,
        })
        .await
    }

    async fn manifest_public_key(&self, tenant: TenantId) -> ApiResult<String> {
        self.call(LifecycleRequest::ManifestPublicKey { tenant })
            .await
    }

    async fn change_tenant_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        mode: KeyMode,
        reason: String,
    ) -> ApiResult<Tenant> {
        let actor = actor.clone();
        self.call(LifecycleRequest::ChangeTenantKey {
            actor,
            tenant,
            mode,
            reason,
        })
        .await
    }
}

/// Serves the lifecycle queue on `bus` with `api`.
pub async fn serve_lifecycle(bus: &dyn Bus, api: Arc<dyn LifecycleApi>) -> Result<(), BusError> {
    bus.serve(
        LIFECYCLE_QUEUE,
        Arc::new(ApiServer(LifecycleServer { api })),
    )
    .await
}

struct LifecycleServer {
    api: Arc<dyn LifecycleApi>,
}

#[async_trait]
impl Dispatch for LifecycleServer {
    type Request = LifecycleRequest;
    const SERVICE: &'static str = "metadata";

    fn method_name(request: &LifecycleRequest) -> &'static str {
        match request {
            LifecycleRequest::GetPolicy { .. } => "get_policy",
            LifecycleRequest::SetPolicy { .. } => "set_policy",
            LifecycleRequest::ListRetentionRules { .. } => "list_retention_rules",
            LifecycleRequest::CreateRetentionRule { .. } => "create_retention_rule",
            LifecycleRequest::DeleteRetentionRule { .. } => "delete_retention_rule",
            LifecycleRequest::RecordingLifecycle { .. } => "recording_lifecycle",
            LifecycleRequest::PlaceHold { .. } => "place_hold",
            LifecycleRequest::ReleaseHold { .. } => "release_hold",
            LifecycleRequest::ListHolds { .. } => "list_holds",
            LifecycleRequest::DeleteRecording { .. } => "delete_recording",
            LifecycleRequest::RunDeletion { .. } => "run_deletion",
            LifecycleRequest::ListDeletionCertificates { .. } => "list_deletion_certificates",
            LifecycleRequest::AuthorizePlayback { .. } => "authorize_playback",
            LifecycleRequest::AuditTrail { .. } => "audit_trail",
            LifecycleRequest::VerifyAuditChain { .. } => "verify_audit_chain",
            LifecycleRequest::DailyManifest { .. } => "daily_manifest",
            LifecycleRequest::ManifestPublicKey { .. } => "manifest_public_key",
            LifecycleRequest::ChangeTenantKey { .. } => "change_tenant_key",
        }
    }

    async fn dispatch(&self, request: LifecycleRequest) -> MetadataReply {
        let api = self.api.as_ref();
        match request {
            LifecycleRequest::GetPolicy { actor, tenant } => {
                to_reply(api.get_policy(&actor, tenant).await)
            }
            LifecycleRequest::SetPolicy {
                actor,
                tenant,
                policy,
            } => to_reply(api.set_policy(&actor, tenant, policy).await),
            LifecycleRequest::ListRetentionRules { actor, tenant } => {
                to_reply(api.list_retention_rules(&actor, tenant).await)
            }
            LifecycleRequest::CreateRetentionRule {
                actor,
                tenant,
                rule,
            } => to_reply(api.create_retention_rule(&actor, tenant, rule).await),
            LifecycleRequest::DeleteRetentionRule {
                actor,
                tenant,
                rule,
            } => to_reply(api.delete_retention_rule(&actor, tenant, rule).await),
            LifecycleRequest::RecordingLifecycle {
                actor,
                tenant,
                recording,
            } => to_reply(api.recording_lifecycle(&actor, tenant, recording).await),
            LifecycleRequest::PlaceHold {
                actor,
                tenant,
                hold,
            } => to_reply(api.place_hold(&actor, tenant, hold).await),
            LifecycleRequest::ReleaseHold {
                actor,
                tenant,
                hold,
                reason,
            } => to_reply(api.release_hold(&actor, tenant, hold, reason).await),
            LifecycleRequest::ListHolds { actor, tenant } => {
                to_reply(api.list_holds(&actor, tenant).await)
            }
            LifecycleRequest::DeleteRecording {
                actor,
                tenant,
                recording,
                reason,
                note,
            } => to_reply(
                api.delete_recording(&actor, tenant, recording, reason, note)
                    .await,
            ),
            LifecycleRequest::RunDeletion { actor, tenant } => {
                to_reply(api.run_deletion(&actor, tenant).await)
            }
            LifecycleRequest::ListDeletionCertificates { actor, tenant } => {
                to_reply(api.list_deletion_certificates(&actor, tenant).await)
            }
            LifecycleRequest::AuthorizePlayback {
                actor,
                tenant,
                recording,
                access,
                reason,
            } => to_reply(
                api.authorize_playback(&actor, tenant, recording, access, reason)
                    .await,
            ),
            LifecycleRequest::AuditTrail {
                actor,
                tenant,
                after_seq,
                first,
            } => to_reply(api.audit_trail(&actor, tenant, after_seq, first).await),
            LifecycleRequest::VerifyAuditChain { actor, tenant } => {
                to_reply(api.verify_audit_chain(&actor, tenant).await)
            }
            LifecycleRequest::DailyManifest {
                actor,
                tenant,
                date,
            } => to_reply(api.daily_manifest(&actor, tenant, date).await),
            LifecycleRequest::ManifestPublicKey { tenant } => {
                to_reply(api.manifest_public_key(tenant).await)
            }
            LifecycleRequest::ChangeTenantKey {
                actor,
                tenant,
                mode,
                reason,
            } => to_reply(api.change_tenant_key(&actor, tenant, mode, reason).await),
        }
    }
}
