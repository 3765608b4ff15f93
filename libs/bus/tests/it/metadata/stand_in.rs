//! A stand-in `MetadataApi`: records each call as the request it
//! corresponds to, and answers fixed values.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use callvault_contracts::call::{Channel, Direction};
use callvault_contracts::metadata_api::{
    ApiError, ApiKey, ApiKeyGrant, ApiResult, Bpo, CreateUser, CreatedApiKey, ErrorCode,
    MetadataApi, MetadataRequest, OnboardTenant, PageRequest, Recording, RecordingFilter,
    RecordingPage, Tenant, User,
};
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId, UserId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// The subject whose calls are refused.
pub(crate) const INTRUDER: &str = "intruder";
/// The subject whose calls take longer than any client waits.
pub(crate) const SLOW: &str = "slow";

/// Records each call as the request it corresponds to, and answers the
/// fixtures.
#[derive(Default)]
pub(crate) struct StandIn {
    calls: Mutex<Vec<Value>>,
}

impl StandIn {
    async fn record(&self, call: MetadataRequest, actor: Option<&Actor>) -> ApiResult<()> {
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

pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 123_456_000).expect("a valid timestamp")
}

pub(crate) fn bpo() -> Bpo {
    Bpo {
        id: BpoId(Uuid::from_u128(1)),
        name: "Acme Contact".to_owned(),
        created_at: at(1_700_000_000),
    }
}

pub(crate) fn tenant() -> Tenant {
    Tenant {
        id: TenantId(Uuid::from_u128(2)),
        bpo_id: bpo().id,
        name: "Client Co".to_owned(),
        time_zone: "Asia/Tokyo".to_owned(),
        default_retention_days: 365,
        key_ref: "arn:aws:kms:ap-northeast-1:111122223333:key/tenant".to_owned(),
        created_at: at(1_700_000_100),
        default_region: Some("JP".to_owned()),
    }
}

pub(crate) fn user() -> User {
    User {
        id: UserId(Uuid::from_u128(3)),
        subject: "qa@client.example".to_owned(),
        role: Role::Agent,
        tenant_id: Some(tenant().id),
        bpo_id: None,
        agent_id: Some("agent-7".to_owned()),
        created_at: at(1_700_000_200),
    }
}

pub(crate) fn api_key() -> ApiKey {
    ApiKey {
        id: Uuid::from_u128(4),
        tenant_id: tenant().id,
        name: "recorder 1".to_owned(),
        prefix: "cvk_ab12".to_owned(),
        created_at: at(1_700_000_300),
        revoked_at: Some(at(1_700_000_400)),
    }
}

pub(crate) fn created_api_key() -> CreatedApiKey {
    CreatedApiKey {
        key: api_key(),
        secret: "cvk_ab12-secret".to_owned(),
    }
}

pub(crate) fn grant() -> ApiKeyGrant {
    ApiKeyGrant {
        key_id: api_key().id,
        tenant_id: tenant().id,
        key_ref: tenant().key_ref,
    }
}

pub(crate) fn recording() -> Recording {
    Recording {
        id: RecordingId(Uuid::from_u128(5)),
        tenant_id: tenant().id,
        external_call_id: "pbx-42".to_owned(),
        segment: 1,
        direction: Direction::Inbound,
        caller_number: "+81312345678".to_owned(),
        callee_number: "+81398765432".to_owned(),
        agent: Some("agent-7".to_owned()),
        queue: None,
        started_at: at(1_700_001_000),
        ended_at: at(1_700_001_060),
        tags: vec!["complaint".to_owned(), "vip".to_owned()],
        agent_channel: Some(Channel::Left),
        customer_channel: Some(Channel::Right),
        codec: "wav/pcm_mulaw".to_owned(),
        sample_rate: 8000,
        channels: 2,
        duration_ms: 60_000,
        size: 960_044,
        sha256: "ab".repeat(32),
        ingested_at: at(1_700_001_100),
        attributes: Default::default(),
        notice_played: None,
        pauses: Vec::new(),
    }
}

pub(crate) fn page() -> RecordingPage {
    RecordingPage {
        items: vec![recording()],
        end_cursor: Some("cursor-1".to_owned()),
        has_next_page: true,
    }
}

#[async_trait]
impl MetadataApi for StandIn {
    async fn create_bpo(&self, actor: &Actor, name: String) -> ApiResult<Bpo> {
        let call = MetadataRequest::CreateBpo {
            actor: actor.clone(),
            name,
        };
        self.record(call, Some(actor)).await.map(|()| bpo())
    }
    async fn list_bpos(&self, actor: &Actor) -> ApiResult<Vec<Bpo>> {
        let call = MetadataRequest::ListBpos {
            actor: actor.clone(),
        };
        self.record(call, Some(actor))
            .await
            .map(|()| vec![bpo(), bpo()])
    }
    async fn onboard_tenant(&self, actor: &Actor, input: OnboardTenant) -> ApiResult<Tenant> {
        let call = MetadataRequest::OnboardTenant {
            actor: actor.clone(),
            input,
        };
        self.record(call, Some(actor)).await.map(|()| tenant())
    }
    async fn get_tenant(&self, actor: &Actor, tenant_id: TenantId) -> ApiResult<Tenant> {
        let call = MetadataRequest::GetTenant {
            actor: actor.clone(),
            tenant: tenant_id,
        };
        self.record(call, Some(actor)).await.map(|()| tenant())
    }
    async fn list_tenants(&self, actor: &Actor, bpo: BpoId) -> ApiResult<Vec<Tenant>> {
        let call = MetadataRequest::ListTenants {
            actor: actor.clone(),
            bpo,
        };
        self.record(call, Some(actor))
            .await
            .map(|()| vec![tenant()])
    }
    async fn create_user(&self, actor: &Actor, input: CreateUser) -> ApiResult<User> {
        let call = MetadataRequest::CreateUser {
            actor: actor.clone(),
            input,
        };
        self.record(call, Some(actor)).await.map(|()| user())
    }
    async fn list_users(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<User>> {
        let call = MetadataRequest::ListUsers {
            actor: actor.clone(),
            tenant,
        };
        self.record(call, Some(actor)).await.map(|()| vec![user()])
    }
    async fn create_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        name: String,
    ) -> ApiResult<CreatedApiKey> {
        let call = MetadataRequest::CreateApiKey {
            actor: actor.clone(),
            tenant,
            name,
        };
        self.record(call, Some(actor))
            .await
            .map(|()| created_api_key())
    }
    async fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        key: Uuid,
    ) -> ApiResult<ApiKey> {
        let call = MetadataRequest::RevokeApiKey {
            actor: actor.clone(),
            tenant,
            key,
        };
        self.record(call, Some(actor)).await.map(|()| api_key())
    }
    async fn list_api_keys(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<ApiKey>> {
        let call = MetadataRequest::ListApiKeys {
            actor: actor.clone(),
            tenant,
        };
        self.record(call, Some(actor))
            .await
            .map(|()| vec![api_key()])
    }
    async fn verify_api_key(&self, secret: String) -> ApiResult<ApiKeyGrant> {
        let unknown = secret == "unknown";
        self.record(MetadataRequest::VerifyApiKey { secret }, None)
            .await?;
        if unknown {
            return Err(ApiError::new(ErrorCode::Unauthenticated, "unknown api key"));
        }
        Ok(grant())
    }
    async fn known_recordings(
        &self,
        tenant: TenantId,
        ids: Vec<RecordingId>,
    ) -> ApiResult<Vec<RecordingId>> {
        let first = ids.first().copied();
        self.record(MetadataRequest::KnownRecordings { tenant, ids }, None)
            .await?;
        Ok(first.into_iter().collect())
    }
    async fn search_recordings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        filter: RecordingFilter,
        page_request: PageRequest,
    ) -> ApiResult<RecordingPage> {
        let call = MetadataRequest::SearchRecordings {
            actor: actor.clone(),
            tenant,
            filter,
            page: page_request,
        };
        self.record(call, Some(actor)).await.map(|()| page())
    }
    async fn get_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: RecordingId,
    ) -> ApiResult<Recording> {
        let call = MetadataRequest::GetRecording {
            actor: actor.clone(),
            tenant,
            id,
        };
        self.record(call, Some(actor)).await.map(|()| recording())
    }
}

pub(crate) fn actor(subject: &str) -> Actor {
    Actor {
        subject: subject.to_owned(),
        role: Role::BpoAdmin,
        bpo_id: Some(bpo().id),
        tenant_id: Some(tenant().id),
        agent_id: Some("agent-7".to_owned()),
        origin: None,
    }
}
