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
//! | get_policy, set_policy, list/create/delete_retention_rule | – | own BPO's tenants | own tenant | – | own tenant | – | – |
//! | recording_lifecycle, authorize_playback | –         | own BPO's tenants| own tenant   | own tenant | own tenant         | own calls only | –       |
//! | place_hold, release_hold, list_holds | –            | –                | own tenant   | –          | own tenant         | –              | –       |
//! | delete_recording, run_deletion, list_deletion_certificates | – | –   | own tenant   | –          | own tenant         | –              | –       |
//! | change_tenant_key                  | –              | own BPO's tenants| own tenant   | –          | –                  | –              | –       |
//! | audit_trail, verify_audit_chain, daily_manifest | –  | –                | –            | –          | own tenant         | –              | own tenant |
//! | manifest_public_key                | public: no actor needed |||||||
//!
//! - "–" is `Forbidden`. A tenant role acting on another tenant, or a BPO
//!   admin on another BPO's tenant, is `Forbidden`; a BPO admin naming a
//!   tenant that does not exist is `Forbidden` too, so tenant ids can't be
//!   probed across BPOs.
//! - A recording id of another tenant, or (for an agent) of another agent's
//!   call, is `NotFound`: the reply never tells that it exists.
//! - Every tenant member may read its own tenant (name, time zone,
//!   retention): each UI needs the time zone to show call times.
//! - The auditor reads the audit trail, verifies the chain and fetches the
//!   signed manifests, and nothing else but its tenant's settings: it never
//!   plays or lists calls.
//! - Holds, deletion and the audit trail are the tenant's own compliance
//!   business: a BPO admin runs the tenant's retention settings for it, but
//!   can neither hold, delete nor read the trail.
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
    /// Search and read recordings, their lifecycle, and authorize playback.
    ReadRecordings,
    /// Tenant policy (default retention, playback reason) and retention rules.
    ManagePolicy,
    /// Place, release and list legal holds.
    ManageHolds,
    /// Delete recordings, run the deletion worker, list certificates.
    ManageDeletion,
    /// The audit trail, its verification and the daily manifests.
    ReadAudit,
    /// Change the tenant's master key (rotate it, or switch to its own).
    ManageKeys,
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
    use TenantAction::{
        ManageApiKeys, ManageDeletion, ManageHolds, ManageKeys, ManagePolicy, ManageUsers,
        ReadAudit, ReadRecordings, ReadTenant,
    };
    match actor.role {
        Role::PlatformAdmin => match action {
            ReadTenant | ManageUsers => Ok(RecordingScope::All),
            ManageApiKeys | ReadRecordings | ManagePolicy | ManageHolds | ManageDeletion
            | ReadAudit | ManageKeys => Err(ApiError::forbidden()),
        },
        Role::BpoAdmin => {
            let own = actor.bpo_id.is_some() && actor.bpo_id == tenant_bpo;
            if !own {
                return Err(ApiError::forbidden());
            }
            match action {
                ReadTenant | ManageUsers | ManageApiKeys | ReadRecordings | ManagePolicy
                | ManageKeys => Ok(RecordingScope::All),
                ManageHolds | ManageDeletion | ReadAudit => Err(ApiError::forbidden()),
            }
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
    use TenantAction::{
        ManageApiKeys, ManageDeletion, ManageHolds, ManageKeys, ManagePolicy, ManageUsers,
        ReadAudit, ReadRecordings, ReadTenant,
    };
    match (action, role) {
        (ReadTenant, _) => Ok(RecordingScope::All),
        (ManageUsers | ManageApiKeys | ManageKeys, Role::TenantAdmin) => Ok(RecordingScope::All),
        (
            ManagePolicy | ManageHolds | ManageDeletion,
            Role::TenantAdmin | Role::ComplianceOfficer,
        ) => Ok(RecordingScope::All),
        (ReadAudit, Role::ComplianceOfficer | Role::Auditor) => Ok(RecordingScope::All),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, tenant: Option<TenantId>, bpo: Option<BpoId>) -> Actor {
        Actor {
            subject: "s".into(),
            role,
            bpo_id: bpo,
            tenant_id: tenant,
            agent_id: (role == Role::Agent).then(|| "agent-7".into()),
            origin: None,
        }
    }

    /// The lifecycle rows of the matrix, on the actor's own tenant: which
    /// roles each action admits.
    #[test]
    fn lifecycle_actions_follow_the_matrix() {
        use TenantAction::{
            ManageDeletion, ManageHolds, ManageKeys, ManagePolicy, ReadAudit, ReadRecordings,
        };
        let tenant = TenantId::new();
        let bpo = BpoId::new();
        let roles = [
            Role::PlatformAdmin,
            Role::BpoAdmin,
            Role::TenantAdmin,
            Role::Supervisor,
            Role::ComplianceOfficer,
            Role::Agent,
            Role::Auditor,
        ];
        // Columns in the order of `roles`.
        let table: [(TenantAction, [bool; 7]); 6] = [
            (ManagePolicy, [false, true, true, false, true, false, false]),
            (ReadRecordings, [false, true, true, true, true, true, false]),
            (ManageHolds, [false, false, true, false, true, false, false]),
            (
                ManageDeletion,
                [false, false, true, false, true, false, false],
            ),
            (ReadAudit, [false, false, false, false, true, false, true]),
            (ManageKeys, [false, true, true, false, false, false, false]),
        ];
        for (action, allowed) in table {
            for (role, allowed) in roles.into_iter().zip(allowed) {
                let own = match role {
                    Role::PlatformAdmin => actor(role, None, None),
                    Role::BpoAdmin => actor(role, None, Some(bpo)),
                    _ => actor(role, Some(tenant), Some(bpo)),
                };
                let outcome = tenant_scope(&own, action, tenant, bpo);
                assert_eq!(outcome.is_ok(), allowed, "{role:?} {action:?}");
                if role == Role::Agent && allowed {
                    assert_eq!(outcome.ok(), Some(RecordingScope::Agent("agent-7".into())));
                }
                // Never on another tenant, nor another BPO's.
                let elsewhere = match role {
                    Role::BpoAdmin => actor(role, None, Some(BpoId::new())),
                    Role::PlatformAdmin => continue,
                    _ => actor(role, Some(TenantId::new()), Some(bpo)),
                };
                let refused = tenant_scope(&elsewhere, action, tenant, bpo);
                assert!(refused.is_err(), "{role:?} {action:?} elsewhere");
            }
        }
    }

    fn tenant_scope(
        actor: &Actor,
        action: TenantAction,
        tenant_id: TenantId,
        bpo: BpoId,
    ) -> ApiResult<RecordingScope> {
        tenant(actor, action, tenant_id, Some(bpo))
    }
}
