//! Who may do what: checked inside every [`crate::MetadataService`] method,
//! whatever the gateway already checked (defence in depth), from the one
//! table both read ([`callvault_contracts::permissions::reach`]).
//!
//! | operation                          | platform_admin | bpo_admin        | tenant_admin | supervisor | compliance_officer | agent          | auditor |
//! |------------------------------------|----------------|------------------|--------------|------------|--------------------|----------------|---------|
//! | create_bpo, list_bpos              | yes            | –                | –            | –          | –                  | –              | –       |
//! | onboard_tenant, list_tenants       | any BPO        | own BPO          | –            | –          | –                  | –              | –       |
//! | get_tenant                         | any            | own BPO's        | own tenant   | own tenant | own tenant         | own tenant     | own tenant |
//! | create_user, list_users            | anywhere       | own BPO's tenants, own BPO's admins | own tenant (tenant roles) | – | – | – | – |
//! | create/list/revoke API keys        | –              | own BPO's tenants| own tenant   | –          | –                  | –              | –       |
//! | search_recordings, get_recording, call_recordings | –              | own BPO's tenants| own tenant   | own tenant | own tenant         | own calls only | –       |
//! | get_policy, set_policy, list/create/delete_retention_rule | – | own BPO's tenants | own tenant | – | own tenant | – | – |
//! | recording_lifecycle, authorize_playback | –         | own BPO's tenants| own tenant   | own tenant | own tenant         | own calls only | –       |
//! | place_hold, release_hold, list_holds | –            | –                | own tenant   | –          | own tenant         | –              | –       |
//! | delete_recording, run_deletion, list_deletion_certificates | – | –   | own tenant   | –          | own tenant         | –              | –       |
//! | change_tenant_key                  | –              | own BPO's tenants| own tenant   | –          | –                  | –              | –       |
//! | audit_trail, verify_audit_chain, daily_manifest | –  | –                | –            | –          | own tenant         | –              | own tenant |
//! | manifest_public_key                | public: no actor needed |||||||
//! | export_tenant, offboard_tenant, offboarding_certificate | any | own BPO's tenants | – | – | – | – | – |
//! | data-subject requests (the disclosure service checks `HandleDisclosure` / `ReadDisclosure`) | – | own BPO's tenants | – | – | own tenant (handle, read) | – | own tenant (read) |
//! | index_subject_numbers, subject_tenant, find_subject_recordings, subject_recordings, preserve_for_request, restrict_recordings, erase_for_request, record_disclosure_audit, sign_disclosure_evidence | machine calls from the disclosure service: no actor checked, the tenant must exist and not be offboarded |||||||
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
//! - Offboarding is the operator's (platform, the tenant's BPO), never the
//!   tenant's own users'; once it started, the tenant is frozen: every
//!   other operation on it but `get_tenant` is `TenantOffboarded`.
//! - A recording restricted by a data-subject request is played or
//!   downloaded (`authorize_playback`) by nobody but a compliance officer
//!   giving a reason (`RecordingRestricted` otherwise); an auditor plays
//!   nothing, restricted or not.
//! - An actor whose scope is incomplete (a BPO admin without a BPO, a tenant
//!   role without a tenant, an agent without an agent id) reaches nothing.
//!
//! services/metadata/PERMISSIONS.md carries the same table.

use callvault_contracts::metadata_api::{ApiError, ApiResult};
use callvault_contracts::permissions::{Permission, Target, allows};
use callvault_contracts::{Actor, BpoId, Role, TenantId};

/// Which recordings of the tenant the actor may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RecordingScope {
    All,
    /// Only calls whose `agent` is this agent id.
    Agent(String),
}

/// Platform-wide operations: BPOs, platform admins.
pub(crate) fn platform(actor: &Actor, permission: Permission) -> ApiResult<()> {
    if allows(actor, permission, Target::Platform) {
        return Ok(());
    }
    Err(ApiError::forbidden())
}

/// Operations on one BPO: onboarding and listing its tenants, creating its
/// admins.
pub(crate) fn bpo(actor: &Actor, permission: Permission, bpo: BpoId) -> ApiResult<()> {
    if allows(actor, permission, Target::Bpo(bpo)) {
        return Ok(());
    }
    Err(ApiError::forbidden())
}

/// Operations within one tenant. `tenant_bpo` is the tenant's BPO as
/// stored, `None` when there is no such tenant.
pub(crate) fn tenant(
    actor: &Actor,
    action: Permission,
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
    permission: Permission,
    tenant: TenantId,
    tenant_bpo: Option<BpoId>,
) -> ApiResult<RecordingScope> {
    let target = Target::Tenant {
        tenant,
        bpo: tenant_bpo,
    };
    if !allows(actor, permission, target) {
        return Err(ApiError::forbidden());
    }
    // An agent reads its own calls only; without an agent id, none.
    if actor.role == Role::Agent && permission == Permission::ReadRecordings {
        return match &actor.agent_id {
            Some(agent) if !agent.trim().is_empty() => Ok(RecordingScope::Agent(agent.clone())),
            _ => Err(ApiError::forbidden()),
        };
    }
    Ok(RecordingScope::All)
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
        use Permission::{
            HandleDisclosure, ManageDeletion, ManageHolds, ManageKeys, ManagePolicy,
            OffboardTenants, ReadAudit, ReadDisclosure, ReadRecordings, VerifyRecordings,
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
        let table: [(Permission, [bool; 7]); 10] = [
            (ManagePolicy, [false, true, true, false, true, false, false]),
            (ReadRecordings, [false, true, true, true, true, true, false]),
            (ManageHolds, [false, false, true, false, true, false, false]),
            (
                ManageDeletion,
                [false, false, true, false, true, false, false],
            ),
            (ReadAudit, [false, false, false, false, true, false, true]),
            (
                VerifyRecordings,
                [false, false, false, false, true, false, true],
            ),
            (ManageKeys, [false, true, true, false, false, false, false]),
            (
                OffboardTenants,
                [true, true, false, false, false, false, false],
            ),
            // Checked by the disclosure service; the metadata service
            // serves it machine calls (`ops::subject`).
            (
                HandleDisclosure,
                [false, true, false, false, true, false, false],
            ),
            (
                ReadDisclosure,
                [false, true, false, false, true, false, true],
            ),
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
        action: Permission,
        tenant_id: TenantId,
        bpo: BpoId,
    ) -> ApiResult<RecordingScope> {
        tenant(actor, action, tenant_id, Some(bpo))
    }
}
