//! Who may do what: checked inside every [`crate::MetadataService`] method,
//! whatever the gateway already checked (defence in depth).
//!
//! | operation                          | platform_admin | bpo_admin        | tenant_admin | supervisor | compliance_officer | agent          | auditor |
//! |------------------------------------|----------------|------------------|--------------|------------|--------------------|----------------|---------|
//! | create_bpo, list_bpos              | yes            | –                | –            | –          | –                  | –              | –       |
//! | onboard_tenant, list_tenants       | any BPO        | own BPO          | –            | –          | –                  | –              | –       |
//! | get_tenant                         | any            | own BPO's        | own tenant   | own tenant | own tenant         | own tenant     | own tenant |
//! | create_user, list_users            | anywhere       | own BPO's tenants, own BPO's admins | own tenant (tenant roles) | – | – | – | – |
//! | create/list/revoke API keys        | –              | own BPO's tenants| own tenant   | –          | –                  | –              | –       |
//! | search_recordings, get_recording   | –              | own BPO's tenants| own tenant   | own tenant | own tenant         | own calls only | –       |
//!
//! - "–" is `Forbidden`. A tenant role acting on another tenant, or a BPO
//!   admin on another BPO's tenant, is `Forbidden`; a BPO admin naming a
//!   tenant that does not exist is `Forbidden` too, so tenant ids can't be
//!   probed across BPOs.
//! - A recording id of another tenant, or (for an agent) of another agent's
//!   call, is `NotFound`: the reply never tells that it exists.
//! - Every tenant member may read its own tenant (name, time zone,
//!   retention): each UI needs the time zone to show call times.
//! - The auditor's trail comes with the audit log; until then it reaches
//!   nothing but its tenant's settings.
//! - An actor whose scope is incomplete (a BPO admin without a BPO, a tenant
//!   role without a tenant, an agent without an agent id) reaches nothing.
//!
//! services/metadata/PERMISSIONS.md carries the same table.

use callvault_contracts::metadata_api::{ApiError, ApiResult};
use callvault_contracts::{Actor, BpoId, Role, TenantId};

/// What an actor wants to do within one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TenantAction {
    ReadTenant,
    ManageUsers,
    ManageApiKeys,
    ReadRecordings,
}

/// Which recordings of the tenant the actor may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RecordingScope {
    All,
    /// Only calls whose `agent` is this agent id.
    Agent(String),
}

/// Platform-wide operations: BPOs.
pub(crate) fn platform(actor: &Actor) -> ApiResult<()> {
    if actor.role == Role::PlatformAdmin {
        return Ok(());
    }
    Err(ApiError::forbidden())
}

/// Operations on one BPO: onboarding and listing its tenants, creating its
/// admins.
pub(crate) fn bpo(actor: &Actor, bpo: BpoId) -> ApiResult<()> {
    match actor.role {
        Role::PlatformAdmin => Ok(()),
        Role::BpoAdmin if actor.bpo_id == Some(bpo) => Ok(()),
        _ => Err(ApiError::forbidden()),
    }
}

/// Operations within one tenant. `tenant_bpo` is the tenant's BPO as
/// stored, `None` when there is no such tenant.
pub(crate) fn tenant(
    actor: &Actor,
    action: TenantAction,
    tenant: TenantId,
    tenant_bpo: Option<BpoId>,
) -> ApiResult<RecordingScope> {
    let scope = role_scope(actor, action, tenant, tenant_bpo)?;
    // Only an actor entitled to the tenant learns whether it exists.
    if tenant_bpo.is_none() {
        return Err(ApiError::not_found("tenant"));
    }
    Ok(scope)
}

fn role_scope(
    actor: &Actor,
    action: TenantAction,
    tenant: TenantId,
    tenant_bpo: Option<BpoId>,
) -> ApiResult<RecordingScope> {
    use TenantAction::{ManageApiKeys, ManageUsers, ReadRecordings, ReadTenant};
    match actor.role {
        Role::PlatformAdmin => match action {
            ReadTenant | ManageUsers => Ok(RecordingScope::All),
            ManageApiKeys | ReadRecordings => Err(ApiError::forbidden()),
        },
        Role::BpoAdmin => {
            let own = actor.bpo_id.is_some() && actor.bpo_id == tenant_bpo;
            if !own {
                return Err(ApiError::forbidden());
            }
            Ok(RecordingScope::All)
        }
        role => {
            if actor.tenant_id != Some(tenant) {
                return Err(ApiError::forbidden());
            }
            tenant_role_scope(actor, role, action)
        }
    }
}

fn tenant_role_scope(actor: &Actor, role: Role, action: TenantAction) -> ApiResult<RecordingScope> {
    use TenantAction::{ManageApiKeys, ManageUsers, ReadRecordings, ReadTenant};
    match (action, role) {
        (ReadTenant, _) => Ok(RecordingScope::All),
        (ManageUsers | ManageApiKeys, Role::TenantAdmin) => Ok(RecordingScope::All),
        (ReadRecordings, Role::TenantAdmin | Role::Supervisor | Role::ComplianceOfficer) => {
            Ok(RecordingScope::All)
        }
        (ReadRecordings, Role::Agent) => match &actor.agent_id {
            Some(agent) if !agent.trim().is_empty() => Ok(RecordingScope::Agent(agent.clone())),
            _ => Err(ApiError::forbidden()),
        },
        _ => Err(ApiError::forbidden()),
    }
}
