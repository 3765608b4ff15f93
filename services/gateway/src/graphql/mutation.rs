//! The tenancy mutations: BPOs, tenants, users, API keys.

use async_graphql::{Context, Object, Result};
use callvault_contracts::{BpoId, TenantId};
use uuid::Uuid;

use super::inputs::{CreateUserInput, OnboardTenantInput, UserHome, checked_name};
use super::types::{ApiKey, Bpo, CreatedApiKey, Tenant, User};
use crate::access::{ScopeExt, perm};

#[derive(Default)]
pub struct TenancyMutation;

#[Object]
impl TenancyMutation {
    /// Creates a BPO (platform admins).
    async fn create_bpo(&self, ctx: &Context<'_>, name: String) -> Result<Bpo> {
        let scope = ctx.scope()?;
        let name = checked_name(&name, "name")?;
        let bpo = scope.platform(perm::ManageBpos)?.create_bpo(name).await?;
        Ok(bpo.into())
    }

    /// Onboards a tenant into a BPO and creates (or checks) its master key.
    async fn onboard_tenant(&self, ctx: &Context<'_>, input: OnboardTenantInput) -> Result<Tenant> {
        let scope = ctx.scope()?;
        let bpo = BpoId(input.bpo_id);
        let tenant = input.into_new_tenant()?;
        let tenant = scope
            .bpo(bpo, perm::OnboardTenants)?
            .onboard_tenant(tenant)
            .await?;
        Ok(tenant.into())
    }

    /// Creates a user. Who may create it depends on where it belongs: a
    /// tenant user needs `ManageUsers` on that tenant, a BPO admin on that
    /// BPO, a platform admin on the platform.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let scope = ctx.scope()?;
        let (subject, home) = input.into_parts()?;
        let user = match home {
            UserHome::Platform => {
                scope
                    .platform(perm::ManageUsers)?
                    .create_platform_admin(subject)
                    .await?
            }
            UserHome::Bpo(bpo) => {
                scope
                    .bpo(BpoId(bpo), perm::ManageUsers)?
                    .create_bpo_admin(subject)
                    .await?
            }
            UserHome::Tenant {
                tenant,
                role,
                agent_id,
            } => {
                scope
                    .tenant(TenantId(tenant), perm::ManageUsers)
                    .await?
                    .create_user(subject, role, agent_id)
                    .await?
            }
        };
        Ok(user.into())
    }

    /// Creates a recorder API key; its secret is returned this once.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        name: String,
    ) -> Result<CreatedApiKey> {
        let scope = ctx.scope()?;
        let name = checked_name(&name, "name")?;
        let created = scope
            .tenant(TenantId(tenant_id), perm::ManageApiKeys)
            .await?
            .create_api_key(name)
            .await?;
        Ok(created.into())
    }

    /// Revokes a recorder API key; recorders using it are refused from now.
    async fn revoke_api_key(&self, ctx: &Context<'_>, tenant_id: Uuid, id: Uuid) -> Result<ApiKey> {
        let scope = ctx.scope()?;
        let key = scope
            .tenant(TenantId(tenant_id), perm::ManageApiKeys)
            .await?
            .revoke_api_key(id)
            .await?;
        Ok(key.into())
    }
}
