//! The scoped handles: one impl block per permission, each exposing only
//! the metadata calls that permission covers, bound to its target.
//!
//! Fields are `pub(super)`: only `access::scope` builds a handle, after the
//! permission check; nothing outside `access` can.

use std::marker::PhantomData;

use callvault_bus::RpcClient;
use callvault_contracts::metadata_api::{
    ApiError, ApiKey, Bpo, CreatedApiKey, ErrorCode, KeyMode, NewTenant, NewUser, PageRequest,
    Recording, RecordingFilter, RecordingPage, Tenant, User,
};
use callvault_contracts::ops::catalogue::{CallRecordings, GetRecording, SearchRecordings};
use callvault_contracts::ops::tenancy::{
    CreateApiKey, CreateBpo, CreateUser, GetTenant, ListApiKeys, ListBpos, ListTenants, ListUsers,
    OnboardTenant, RevokeApiKey,
};
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId};
use tracing::error;
use uuid::Uuid;

use super::Permission;
use super::perm;
use super::scope::deny;
use crate::error::{bad_input, coded, from_api};

type Result<T> = async_graphql::Result<T>;

/// Platform-wide operations allowed by `P`.
pub struct PlatformScope<'a, P> {
    pub(super) actor: &'a Actor,
    pub(super) rpc: &'a RpcClient,
    pub(super) _permission: PhantomData<P>,
}

impl PlatformScope<'_, perm::ManageBpos> {
    pub async fn create_bpo(&self, name: String) -> Result<Bpo> {
        self.rpc
            .call(CreateBpo {
                actor: self.actor.clone(),
                name,
            })
            .await
            .map_err(from_api)
    }

    pub async fn list_bpos(&self) -> Result<Vec<Bpo>> {
        self.rpc
            .call(ListBpos {
                actor: self.actor.clone(),
            })
            .await
            .map_err(from_api)
    }
}

impl PlatformScope<'_, perm::ManageUsers> {
    pub async fn create_platform_admin(&self, subject: String) -> Result<User> {
        let input = NewUser {
            subject,
            role: Role::PlatformAdmin,
            tenant_id: None,
            bpo_id: None,
            agent_id: None,
        };
        self.rpc
            .call(CreateUser {
                actor: self.actor.clone(),
                input,
            })
            .await
            .map_err(from_api)
    }
}

/// Operations on one BPO allowed by `P`.
pub struct BpoScope<'a, P> {
    pub(super) actor: &'a Actor,
    pub(super) rpc: &'a RpcClient,
    pub(super) bpo: BpoId,
    pub(super) _permission: PhantomData<P>,
}

impl BpoScope<'_, perm::ViewTenants> {
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let tenants = self
            .rpc
            .call(ListTenants {
                actor: self.actor.clone(),
                bpo: self.bpo,
            })
            .await
            .map_err(from_api)?;
        if tenants.iter().any(|tenant| tenant.bpo_id != self.bpo) {
            error!(bpo = %self.bpo, "metadata listed another bpo's tenant");
            return Err(coded(ErrorCode::Internal, "internal error"));
        }
        Ok(tenants)
    }
}

/// A tenant to onboard, without its BPO: the scope supplies that.
pub struct TenantSettings {
    pub name: String,
    pub time_zone: String,
    pub default_retention_days: u32,
    pub key_mode: KeyMode,
    /// ISO 3166 alpha-2; `None` derives it from the time zone.
    pub default_region: Option<String>,
}

impl BpoScope<'_, perm::OnboardTenants> {
    pub async fn onboard_tenant(&self, tenant: TenantSettings) -> Result<Tenant> {
        let input = NewTenant {
            bpo_id: self.bpo,
            name: tenant.name,
            time_zone: tenant.time_zone,
            default_retention_days: tenant.default_retention_days,
            key_mode: tenant.key_mode,
            default_region: tenant.default_region,
        };
        self.rpc
            .call(OnboardTenant {
                actor: self.actor.clone(),
                input,
            })
            .await
            .map_err(from_api)
    }
}

impl BpoScope<'_, perm::ManageUsers> {
    pub async fn create_bpo_admin(&self, subject: String) -> Result<User> {
        let input = NewUser {
            subject,
            role: Role::BpoAdmin,
            tenant_id: None,
            bpo_id: Some(self.bpo),
            agent_id: None,
        };
        self.rpc
            .call(CreateUser {
                actor: self.actor.clone(),
                input,
            })
            .await
            .map_err(from_api)
    }
}

/// Operations on one tenant allowed by `P` (the lifecycle ones are in
/// `access::lifecycle`).
pub struct TenantScope<'a, P> {
    pub(super) actor: &'a Actor,
    pub(super) rpc: &'a RpcClient,
    pub(super) tenant: TenantId,
    /// The tenant, when it had to be looked up to decide access.
    pub(super) record: Option<Tenant>,
    pub(super) _permission: PhantomData<P>,
}

impl<P> TenantScope<'_, P> {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }
}

impl TenantScope<'_, perm::ViewTenants> {
    pub async fn get_tenant(&self) -> Result<Tenant> {
        if let Some(record) = &self.record {
            return Ok(record.clone());
        }
        self.rpc
            .call(GetTenant {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)
    }
}

impl TenantScope<'_, perm::ManageUsers> {
    pub async fn list_users(&self) -> Result<Vec<User>> {
        self.rpc
            .call(ListUsers {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)
    }

    /// Creates a user of this tenant. BPO and platform roles are created
    /// through their own scopes, so a tenant admin can't mint one.
    pub async fn create_user(
        &self,
        subject: String,
        role: Role,
        agent_id: Option<String>,
    ) -> Result<User> {
        if !role.is_tenant_role() {
            return Err(bad_input("role is not a tenant role"));
        }
        if role == Role::Agent && agent_id.as_deref().is_none_or(str::is_empty) {
            return Err(bad_input("an agent needs an agent id"));
        }
        let input = NewUser {
            subject,
            role,
            tenant_id: Some(self.tenant),
            bpo_id: None,
            agent_id,
        };
        self.rpc
            .call(CreateUser {
                actor: self.actor.clone(),
                input,
            })
            .await
            .map_err(from_api)
    }
}

impl TenantScope<'_, perm::ManageApiKeys> {
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        self.rpc
            .call(ListApiKeys {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)
    }

    pub async fn create_api_key(&self, name: String) -> Result<CreatedApiKey> {
        self.rpc
            .call(CreateApiKey {
                actor: self.actor.clone(),
                tenant: self.tenant,
                name,
            })
            .await
            .map_err(from_api)
    }

    pub async fn revoke_api_key(&self, key: Uuid) -> Result<ApiKey> {
        self.rpc
            .call(RevokeApiKey {
                actor: self.actor.clone(),
                tenant: self.tenant,
                key,
            })
            .await
            .map_err(from_api)
    }
}

impl TenantScope<'_, perm::ReadRecordings> {
    /// Searches the tenant's recordings. An agent's search is pinned to its
    /// own agent id here as well as in the metadata service.
    pub async fn search_recordings(
        &self,
        mut filter: RecordingFilter,
        page: PageRequest,
    ) -> Result<RecordingPage> {
        if self.actor.role == Role::Agent {
            filter.agent = Some(self.own_agent_id()?.to_owned());
        }
        let page = self
            .rpc
            .call(SearchRecordings {
                actor: self.actor.clone(),
                tenant: self.tenant,
                filter,
                page,
            })
            .await
            .map_err(from_api)?;
        for recording in &page.items {
            self.check_belongs(recording)?;
        }
        Ok(page)
    }

    pub async fn call_recordings(&self, external_call_id: String) -> Result<Vec<Recording>> {
        let request = CallRecordings {
            actor: self.actor.clone(),
            tenant: self.tenant,
            external_call_id,
        };
        let segments = self.rpc.call(request).await.map_err(from_api)?;
        for recording in &segments {
            self.check_belongs(recording)?;
        }
        Ok(segments)
    }

    pub async fn get_recording(&self, id: RecordingId) -> Result<Recording> {
        let recording = self
            .rpc
            .call(GetRecording {
                actor: self.actor.clone(),
                tenant: self.tenant,
                id,
            })
            .await
            .map_err(from_api)?;
        self.check_belongs(&recording)?;
        if self.actor.role == Role::Agent
            && recording.agent.as_deref() != Some(self.own_agent_id()?)
        {
            // Not the agent's call: as if it didn't exist.
            return Err(from_api(ApiError::not_found("recording")));
        }
        Ok(recording)
    }

    pub(super) fn own_agent_id(&self) -> Result<&str> {
        // Tokens without one are refused at verification; this is the
        // fail-closed answer for an actor built some other way.
        self.actor
            .agent_id
            .as_deref()
            .ok_or_else(|| deny(self.actor, Permission::ReadRecordings))
    }

    pub(super) fn check_belongs(&self, recording: &Recording) -> Result<()> {
        if recording.tenant_id == self.tenant {
            return Ok(());
        }
        error!(tenant = %self.tenant, recording = %recording.id, "metadata returned another tenant's recording");
        Err(coded(ErrorCode::Internal, "internal error"))
    }
}
