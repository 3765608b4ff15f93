//! Tenancy: BPOs, tenants, users and recorder API keys (metadata service).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::metadata_api::{
    ApiKey, ApiKeyGrant, Bpo, CreatedApiKey, NewTenant, NewUser, Tenant, User,
};
use crate::rpc::{Rpc, Service};
use crate::{Actor, BpoId, TenantId};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreateBpo {
    pub actor: Actor,
    pub name: String,
}

impl Rpc for CreateBpo {
    type Reply = Bpo;
    const NAME: &'static str = "create_bpo";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListBpos {
    pub actor: Actor,
}

impl Rpc for ListBpos {
    type Reply = Vec<Bpo>;
    const NAME: &'static str = "list_bpos";
    const SERVICE: Service = Service::Metadata;
}

/// Onboards a tenant: creates it and its master key.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct OnboardTenant {
    pub actor: Actor,
    pub input: NewTenant,
}

impl Rpc for OnboardTenant {
    type Reply = Tenant;
    const NAME: &'static str = "onboard_tenant";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetTenant {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for GetTenant {
    type Reply = Tenant;
    const NAME: &'static str = "get_tenant";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListTenants {
    pub actor: Actor,
    pub bpo: BpoId,
}

impl Rpc for ListTenants {
    type Reply = Vec<Tenant>;
    const NAME: &'static str = "list_tenants";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreateUser {
    pub actor: Actor,
    pub input: NewUser,
}

impl Rpc for CreateUser {
    type Reply = User;
    const NAME: &'static str = "create_user";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListUsers {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for ListUsers {
    type Reply = Vec<User>;
    const NAME: &'static str = "list_users";
    const SERVICE: Service = Service::Metadata;
}

/// Creates a recorder API key; the reply is the only time its secret is
/// ever returned.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CreateApiKey {
    pub actor: Actor,
    pub tenant: TenantId,
    pub name: String,
}

impl Rpc for CreateApiKey {
    type Reply = CreatedApiKey;
    const NAME: &'static str = "create_api_key";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RevokeApiKey {
    pub actor: Actor,
    pub tenant: TenantId,
    pub key: Uuid,
}

impl Rpc for RevokeApiKey {
    type Reply = ApiKey;
    const NAME: &'static str = "revoke_api_key";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListApiKeys {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for ListApiKeys {
    type Reply = Vec<ApiKey>;
    const NAME: &'static str = "list_api_keys";
    const SERVICE: Service = Service::Metadata;
}

/// Machine call from ingestion: which tenant a recorder secret belongs to.
/// `Unauthenticated` for unknown or revoked keys.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct VerifyApiKey {
    pub secret: String,
}

impl std::fmt::Debug for VerifyApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyApiKey")
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Rpc for VerifyApiKey {
    type Reply = ApiKeyGrant;
    const NAME: &'static str = "verify_api_key";
    const SERVICE: Service = Service::Metadata;
}

/// Tenants, offboarded ones included, for the billing service (whose BPO a
/// tenant is, the time zone its periods are cut in, a BPO's tenants for its
/// wholesale usage): one tenant, a BPO's, or every one. A machine call: the
/// billing service checks the person asking itself. An unknown tenant is
/// an empty list.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TenantDirectory {
    pub bpo: Option<BpoId>,
    pub tenant: Option<TenantId>,
}

impl Rpc for TenantDirectory {
    type Reply = Vec<Tenant>;
    const NAME: &'static str = "tenant_directory";
    const SERVICE: Service = Service::Metadata;
}
