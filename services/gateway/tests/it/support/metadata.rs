//! A `MetadataApi` test double that records every call reaching it.
//!
//! A double is right here (and not the real metadata service) because the
//! tests using it are about the gateway refusing *before* the metadata
//! service is reached: the point is to observe that no call arrives. It
//! checks no permissions on purpose, so anything a test sees succeed was
//! let through by the gateway alone.

use callvault_bus::Router;
use callvault_contracts::ops::{catalogue, tenancy};
use std::sync::Arc;
use std::sync::Mutex;

use callvault_contracts::call::Direction;
use callvault_contracts::metadata_api::*;
use callvault_contracts::{Actor, BpoId, RecordingId, TenantId, UserId};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

/// One call that reached the double: the method and the tenant or BPO it
/// named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub method: &'static str,
    pub target: Option<Uuid>,
}

#[derive(Clone)]
pub struct World {
    pub bpo_x: BpoId,
    pub bpo_y: BpoId,
    /// Tenants A and B belong to BPO X, C to BPO Y.
    pub tenant_a: TenantId,
    pub tenant_b: TenantId,
    pub tenant_c: TenantId,
    /// Tenant A's recordings: by agent `ag-1`, and by agent `ag-2`.
    pub rec_a1: RecordingId,
    pub rec_a2: RecordingId,
}

pub struct FakeMetadata {
    pub world: World,
    calls: Mutex<Vec<Call>>,
    last_filter: Mutex<Option<RecordingFilter>>,
}

impl FakeMetadata {
    pub fn new() -> Self {
        Self {
            world: World {
                bpo_x: BpoId::new(),
                bpo_y: BpoId::new(),
                tenant_a: TenantId::new(),
                tenant_b: TenantId::new(),
                tenant_c: TenantId::new(),
                rec_a1: RecordingId::new(),
                rec_a2: RecordingId::new(),
            },
            calls: Mutex::new(Vec::new()),
            last_filter: Mutex::new(None),
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn methods(&self) -> Vec<&'static str> {
        self.calls().into_iter().map(|call| call.method).collect()
    }

    pub fn clear(&self) {
        self.calls.lock().expect("lock").clear();
    }

    pub fn last_filter(&self) -> Option<RecordingFilter> {
        self.last_filter.lock().expect("lock").clone()
    }

    fn record(&self, method: &'static str, target: Option<Uuid>) {
        self.calls
            .lock()
            .expect("lock")
            .push(Call { method, target });
    }

    fn bpo_of(&self, tenant: TenantId) -> Option<BpoId> {
        let w = &self.world;
        if tenant == w.tenant_a || tenant == w.tenant_b {
            return Some(w.bpo_x);
        }
        (tenant == w.tenant_c).then_some(w.bpo_y)
    }

    fn tenant(&self, id: TenantId, bpo: BpoId) -> Tenant {
        Tenant {
            id,
            bpo_id: bpo,
            name: "acme".into(),
            time_zone: "Asia/Tokyo".into(),
            default_retention_days: 365,
            key_ref: "local:tenant".into(),
            created_at: at(),
            default_region: Some("JP".into()),
        }
    }

    pub fn recording(&self, tenant: TenantId, id: RecordingId, agent: &str) -> Recording {
        recording(tenant, id, agent)
    }

    fn api_key(&self, tenant: TenantId, id: Uuid) -> ApiKey {
        ApiKey {
            id,
            tenant_id: tenant,
            name: "pbx".into(),
            prefix: "cvk_abcd".into(),
            created_at: at(),
            revoked_at: None,
        }
    }
}

/// A recording of `tenant` by `agent`, as both doubles answer it.
pub fn recording(tenant: TenantId, id: RecordingId, agent: &str) -> Recording {
    Recording {
        id,
        tenant_id: tenant,
        external_call_id: "call-1".into(),
        segment: 0,
        direction: Direction::Inbound,
        caller_number: "+81312345678".into(),
        callee_number: "+81398765432".into(),
        agent: Some(agent.into()),
        queue: Some("support".into()),
        started_at: at(),
        ended_at: at(),
        tags: vec!["vip".into()],
        agent_channel: None,
        customer_channel: None,
        codec: "wav/pcm_s16le".into(),
        sample_rate: 8000,
        channels: 1,
        duration_ms: 61_000,
        size: 976_044,
        sha256: "00".repeat(32),
        ingested_at: at(),
        attributes: [("product".to_owned(), "loans".to_owned())].into(),
        notice_played: Some(true),
        pauses: vec![callvault_contracts::call::PauseSpan {
            start_ms: 10_000,
            end_ms: 15_000,
        }],
        // Restricted by a data-subject request: the gateway passes the
        // flag on (refusing playback is the metadata service's).
        restricted: true,
    }
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
        .single()
        .expect("valid date")
}

impl FakeMetadata {
    pub async fn create_bpo(&self, _actor: &Actor, name: String) -> ApiResult<Bpo> {
        self.record("create_bpo", None);
        match name.as_str() {
            "taken" => Err(ApiError::new(
                ErrorCode::Conflict,
                "bpo name already exists",
            )),
            "explode" => Err(ApiError::new(
                ErrorCode::Internal,
                "db pool at 10.0.0.7 exhausted",
            )),
            _ => Ok(Bpo {
                id: BpoId::new(),
                name,
                created_at: at(),
            }),
        }
    }

    pub async fn list_bpos(&self, _actor: &Actor) -> ApiResult<Vec<Bpo>> {
        self.record("list_bpos", None);
        Ok(vec![])
    }

    pub async fn onboard_tenant(&self, _actor: &Actor, input: NewTenant) -> ApiResult<Tenant> {
        self.record("onboard_tenant", Some(input.bpo_id.0));
        Ok(Tenant {
            default_region: input.default_region,
            ..self.tenant(TenantId::new(), input.bpo_id)
        })
    }

    pub async fn get_tenant(&self, _actor: &Actor, tenant: TenantId) -> ApiResult<Tenant> {
        self.record("get_tenant", Some(tenant.0));
        let bpo = self
            .bpo_of(tenant)
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        Ok(self.tenant(tenant, bpo))
    }

    pub async fn list_tenants(&self, _actor: &Actor, bpo: BpoId) -> ApiResult<Vec<Tenant>> {
        self.record("list_tenants", Some(bpo.0));
        let w = &self.world;
        let all = [w.tenant_a, w.tenant_b, w.tenant_c];
        Ok(all
            .into_iter()
            .filter(|tenant| self.bpo_of(*tenant) == Some(bpo))
            .map(|tenant| self.tenant(tenant, bpo))
            .collect())
    }

    /// The billing service's machine lookup: one tenant, a BPO's, or all.
    pub async fn tenant_directory(
        &self,
        bpo: Option<BpoId>,
        tenant: Option<TenantId>,
    ) -> ApiResult<Vec<Tenant>> {
        self.record("tenant_directory", tenant.map(|t| t.0).or(bpo.map(|b| b.0)));
        let w = &self.world;
        Ok([w.tenant_a, w.tenant_b, w.tenant_c]
            .into_iter()
            .filter(|id| tenant.is_none_or(|asked| asked == *id))
            .filter_map(|id| Some(self.tenant(id, self.bpo_of(id)?)))
            .filter(|found| bpo.is_none_or(|asked| asked == found.bpo_id))
            .collect())
    }

    pub async fn create_user(&self, _actor: &Actor, input: NewUser) -> ApiResult<User> {
        let target = input.tenant_id.map(|t| t.0).or(input.bpo_id.map(|b| b.0));
        self.record("create_user", target);
        Ok(User {
            id: UserId::new(),
            subject: input.subject,
            role: input.role,
            tenant_id: input.tenant_id,
            bpo_id: input.bpo_id,
            agent_id: input.agent_id,
            created_at: at(),
        })
    }

    pub async fn list_users(&self, _actor: &Actor, tenant: TenantId) -> ApiResult<Vec<User>> {
        self.record("list_users", Some(tenant.0));
        Ok(vec![])
    }

    pub async fn create_api_key(
        &self,
        _actor: &Actor,
        tenant: TenantId,
        _name: String,
    ) -> ApiResult<CreatedApiKey> {
        self.record("create_api_key", Some(tenant.0));
        Ok(CreatedApiKey {
            key: self.api_key(tenant, Uuid::new_v4()),
            secret: "cvk_abcd_test_secret".into(),
        })
    }

    pub async fn revoke_api_key(
        &self,
        _actor: &Actor,
        tenant: TenantId,
        key: Uuid,
    ) -> ApiResult<ApiKey> {
        self.record("revoke_api_key", Some(tenant.0));
        let mut key = self.api_key(tenant, key);
        key.revoked_at = Some(at());
        Ok(key)
    }

    pub async fn list_api_keys(&self, _actor: &Actor, tenant: TenantId) -> ApiResult<Vec<ApiKey>> {
        self.record("list_api_keys", Some(tenant.0));
        Ok(vec![self.api_key(tenant, Uuid::new_v4())])
    }

    pub async fn verify_api_key(&self, _secret: String) -> ApiResult<ApiKeyGrant> {
        self.record("verify_api_key", None);
        Err(ApiError::new(ErrorCode::Unauthenticated, "unknown key"))
    }

    pub async fn known_recordings(
        &self,
        tenant: TenantId,
        _ids: Vec<RecordingId>,
    ) -> ApiResult<Vec<RecordingId>> {
        // The gateway has no operation that asks this: recorded, to prove it.
        self.record("known_recordings", Some(tenant.0));
        Ok(Vec::new())
    }

    pub async fn search_recordings(
        &self,
        _actor: &Actor,
        tenant: TenantId,
        filter: RecordingFilter,
        _page: PageRequest,
    ) -> ApiResult<RecordingPage> {
        self.record("search_recordings", Some(tenant.0));
        *self.last_filter.lock().expect("lock") = Some(filter.clone());
        let w = &self.world;
        let mut items = Vec::new();
        if tenant == w.tenant_a {
            items.push(self.recording(tenant, w.rec_a1, "ag-1"));
            items.push(self.recording(tenant, w.rec_a2, "ag-2"));
        }
        items.retain(|rec| filter.agent.is_none() || rec.agent == filter.agent);
        Ok(RecordingPage {
            items,
            end_cursor: Some("cursor-1".into()),
            has_next_page: false,
        })
    }

    pub async fn get_recording(
        &self,
        _actor: &Actor,
        tenant: TenantId,
        id: RecordingId,
    ) -> ApiResult<Recording> {
        self.record("get_recording", Some(tenant.0));
        let w = &self.world;
        match (tenant == w.tenant_a, id) {
            (true, id) if id == w.rec_a1 => Ok(self.recording(tenant, id, "ag-1")),
            (true, id) if id == w.rec_a2 => Ok(self.recording(tenant, id, "ag-2")),
            _ => Err(ApiError::not_found("recording")),
        }
    }

    pub async fn call_recordings(&self, tenant: TenantId) -> ApiResult<Vec<Recording>> {
        self.record("call_recordings", Some(tenant.0));
        let w = &self.world;
        if tenant != w.tenant_a {
            return Ok(Vec::new());
        }
        Ok(vec![self.recording(tenant, w.rec_a1, "ag-1")])
    }
}

/// The double as a service: every operation routed to its method.
pub fn router(fake: &Arc<FakeMetadata>) -> Router {
    let mut router = Router::new();
    router
        .route(fake, |f, r: catalogue::CallRecordings| async move {
            f.call_recordings(r.tenant).await
        })
        .route(fake, |f, r: tenancy::CreateBpo| async move {
            f.create_bpo(&r.actor, r.name).await
        })
        .route(fake, |f, r: tenancy::ListBpos| async move {
            f.list_bpos(&r.actor).await
        })
        .route(fake, |f, r: tenancy::OnboardTenant| async move {
            f.onboard_tenant(&r.actor, r.input).await
        })
        .route(fake, |f, r: tenancy::GetTenant| async move {
            f.get_tenant(&r.actor, r.tenant).await
        })
        .route(fake, |f, r: tenancy::ListTenants| async move {
            f.list_tenants(&r.actor, r.bpo).await
        })
        .route(fake, |f, r: tenancy::TenantDirectory| async move {
            f.tenant_directory(r.bpo, r.tenant).await
        })
        .route(fake, |f, r: tenancy::CreateUser| async move {
            f.create_user(&r.actor, r.input).await
        })
        .route(fake, |f, r: tenancy::ListUsers| async move {
            f.list_users(&r.actor, r.tenant).await
        })
        .route(fake, |f, r: tenancy::CreateApiKey| async move {
            f.create_api_key(&r.actor, r.tenant, r.name).await
        })
        .route(fake, |f, r: tenancy::ListApiKeys| async move {
            f.list_api_keys(&r.actor, r.tenant).await
        })
        .route(fake, |f, r: tenancy::RevokeApiKey| async move {
            f.revoke_api_key(&r.actor, r.tenant, r.key).await
        })
        .route(fake, |f, r: tenancy::VerifyApiKey| async move {
            f.verify_api_key(r.secret).await
        })
        .route(fake, |f, r: catalogue::SearchRecordings| async move {
            f.search_recordings(&r.actor, r.tenant, r.filter, r.page)
                .await
        })
        .route(fake, |f, r: catalogue::KnownRecordings| async move {
            f.known_recordings(r.tenant, r.ids).await
        })
        .route(fake, |f, r: catalogue::GetRecording| async move {
            f.get_recording(&r.actor, r.tenant, r.id).await
        });
    router
}
