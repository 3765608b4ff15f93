//! The metadata API over request/reply: a client implementing
//! `MetadataApi` by sending `MetadataRequest`s to the `metadata` queue, and
//! the server side dispatching them to a `MetadataApi` implementation.
//!
//! On the wire: the request is the JSON of [`MetadataRequest`], the reply
//! the JSON of [`MetadataReply`] (`{"Ok": <result>}` or `{"Err": <ApiError>}`).
//! Bodies carry secrets (recorder keys) and personal data (phone numbers):
//! nothing here logs them, only the method name and error codes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_contracts::metadata_api::{
    ApiKey, ApiKeyGrant, ApiResult, Bpo, CreateUser, CreatedApiKey, MetadataApi, MetadataReply,
    MetadataRequest, OnboardTenant, PageRequest, Recording, RecordingFilter, RecordingPage, Tenant,
    User,
};
use callvault_contracts::{Actor, BpoId, RecordingId, TenantId};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::api_wire::{ApiCaller, ApiServer, Dispatch, to_reply};
use crate::{Bus, BusError};

/// The queue the metadata service serves.
pub const METADATA_QUEUE: &str = "metadata";

/// [`MetadataApi`] over the bus.
#[derive(Clone)]
pub struct MetadataClient {
    caller: ApiCaller,
}

impl MetadataClient {
    /// `timeout` bounds each call; past it the call fails `Unavailable`.
    pub fn new(bus: Arc<dyn Bus>, timeout: Duration) -> Self {
        MetadataClient {
            caller: ApiCaller::new(bus, METADATA_QUEUE, "metadata", timeout),
        }
    }

    async fn call<T: DeserializeOwned>(&self, request: MetadataRequest) -> ApiResult<T> {
        self.caller
            .call(MetadataServer::method_name(&request), &request)
            .await
    }
}

#[async_trait]
impl MetadataApi for MetadataClient {
    async fn create_bpo(&self, actor: &Actor, name: String) -> ApiResult<Bpo> {
        let actor = actor.clone();
        self.call(MetadataRequest::CreateBpo { actor, name }).await
    }

    async fn list_bpos(&self, actor: &Actor) -> ApiResult<Vec<Bpo>> {
        let actor = actor.clone();
        self.call(MetadataRequest::ListBpos { actor }).await
    }

    async fn onboard_tenant(&self, actor: &Actor, input: OnboardTenant) -> ApiResult<Tenant> {
        let actor = actor.clone();
        self.call(MetadataRequest::OnboardTenant { actor, input })
            .await
    }

    async fn get_tenant(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Tenant> {
        let actor = actor.clone();
        self.call(MetadataRequest::GetTenant { actor, tenant })
            .await
    }

    async fn list_tenants(&self, actor: &Actor, bpo: BpoId) -> ApiResult<Vec<Tenant>> {
        let actor = actor.clone();
        self.call(MetadataRequest::ListTenants { actor, bpo }).await
    }

    async fn create_user(&self, actor: &Actor, input: CreateUser) -> ApiResult<User> {
        let actor = actor.clone();
        self.call(MetadataRequest::CreateUser { actor, input })
            .await
    }

    async fn list_users(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<User>> {
        let actor = actor.clone();
        self.call(MetadataRequest::ListUsers { actor, tenant })
            .await
    }

    async fn create_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        name: String,
    ) -> ApiResult<CreatedApiKey> {
        let actor = actor.clone();
        self.call(MetadataRequest::CreateApiKey {
            actor,
            tenant,
            name,
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        key: Uuid,
    ) -> ApiResult<ApiKey> {
        let actor = actor.clone();
        self.call(MetadataRequest::RevokeApiKey { actor, tenant, key })
            .await
    }

    async fn list_api_keys(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<ApiKey>> {
        let actor = actor.clone();
        self.call(MetadataRequest::ListApiKeys { actor, tenant })
            .await
    }

    async fn verify_api_key(&self, secret: String) -> ApiResult<ApiKeyGrant> {
        self.call(MetadataRequest::VerifyApiKey { secret }).await
    }

    async fn known_recordings(
        &self,
        tenant: TenantId,
        ids: Vec<RecordingId>,
    ) -> ApiResult<Vec<RecordingId>> {
        self.call(MetadataRequest::KnownRecordings { tenant, ids })
            .await
    }

    async fn search_recordings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        filter: RecordingFilter,
        page: PageRequest,
    ) -> ApiResult<RecordingPage> {
        let actor = actor.clone();
        self.call(MetadataRequest::SearchRecordings {
            actor,
            tenant,
            filter,
            page,
        })
        .await
    }

    async fn get_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: RecordingId,
    ) -> ApiResult<Recording> {
        let actor = actor.clone();
        self.call(MetadataRequest::GetRecording { actor, tenant, id })
            .await
    }
}

/// Serves the metadata queue on `bus` with `api`.
pub async fn serve_metadata(bus: &dyn Bus, api: Arc<dyn MetadataApi>) -> Result<(), BusError> {
    bus.serve(METADATA_QUEUE, Arc::new(ApiServer(MetadataServer { api })))
        .await
}

struct MetadataServer {
    api: Arc<dyn MetadataApi>,
}

#[async_trait]
impl Dispatch for MetadataServer {
    type Request = MetadataRequest;
    const SERVICE: &'static str = "metadata";

    fn method_name(request: &MetadataRequest) -> &'static str {
        match request {
            MetadataRequest::CreateBpo { .. } => "create_bpo",
            MetadataRequest::ListBpos { .. } => "list_bpos",
            MetadataRequest::OnboardTenant { .. } => "onboard_tenant",
            MetadataRequest::GetTenant { .. } => "get_tenant",
            MetadataRequest::ListTenants { .. } => "list_tenants",
            MetadataRequest::CreateUser { .. } => "create_user",
            MetadataRequest::ListUsers { .. } => "list_users",
            MetadataRequest::CreateApiKey { .. } => "create_api_key",
            MetadataRequest::RevokeApiKey { .. } => "revoke_api_key",
            MetadataRequest::ListApiKeys { .. } => "list_api_keys",
            MetadataRequest::VerifyApiKey { .. } => "verify_api_key",
            MetadataRequest::KnownRecordings { .. } => "known_recordings",
            MetadataRequest::SearchRecordings { .. } => "search_recordings",
            MetadataRequest::GetRecording { .. } => "get_recording",
        }
    }

    async fn dispatch(&self, request: MetadataRequest) -> MetadataReply {
        let api = self.api.as_ref();
        match request {
            MetadataRequest::CreateBpo { actor, name } => {
                to_reply(api.create_bpo(&actor, name).await)
            }
            MetadataRequest::ListBpos { actor } => to_reply(api.list_bpos(&actor).await),
            MetadataRequest::OnboardTenant { actor, input } => {
                to_reply(api.onboard_tenant(&actor, input).await)
            }
            MetadataRequest::GetTenant { actor, tenant } => {
                to_reply(api.get_tenant(&actor, tenant).await)
            }
            MetadataRequest::ListTenants { actor, bpo } => {
                to_reply(api.list_tenants(&actor, bpo).await)
            }
            MetadataRequest::CreateUser { actor, input } => {
                to_reply(api.create_user(&actor, input).await)
            }
            MetadataRequest::ListUsers { actor, tenant } => {
                to_reply(api.list_users(&actor, tenant).await)
            }
            MetadataRequest::CreateApiKey {
                actor,
                tenant,
                name,
            } => to_reply(api.create_api_key(&actor, tenant, name).await),
            MetadataRequest::RevokeApiKey { actor, tenant, key } => {
                to_reply(api.revoke_api_key(&actor, tenant, key).await)
            }
            MetadataRequest::ListApiKeys { actor, tenant } => {
                to_reply(api.list_api_keys(&actor, tenant).await)
            }
            MetadataRequest::VerifyApiKey { secret } => to_reply(api.verify_api_key(secret).await),
            MetadataRequest::KnownRecordings { tenant, ids } => {
                to_reply(api.known_recordings(tenant, ids).await)
            }
            MetadataRequest::SearchRecordings {
                actor,
                tenant,
                filter,
                page,
            } => to_reply(api.search_recordings(&actor, tenant, filter, page).await),
            MetadataRequest::GetRecording { actor, tenant, id } => {
                to_reply(api.get_recording(&actor, tenant, id).await)
            }
        }
    }
}
