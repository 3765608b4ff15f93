//! Who is asking: the verified identity the gateway passes with every
//! request, so each service can check scope again (defence in depth).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{BpoId, TenantId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the platform: creates BPOs. Sees no recordings.
    PlatformAdmin,
    /// Runs one BPO: onboards and configures its tenants.
    BpoAdmin,
    /// Administers one tenant: users, recorder keys, everything in it.
    TenantAdmin,
    /// QA / supervisor: searches and plays the tenant's recordings.
    Supervisor,
    /// An agent: only their own calls.
    Agent,
    /// Compliance officer: recordings, holds, disclosure.
    ComplianceOfficer,
    /// Auditor: the audit trail only.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::PlatformAdmin,
        Role::BpoAdmin,
        Role::TenantAdmin,
        Role::Supervisor,
        Role::Agent,
        Role::ComplianceOfficer,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::BpoAdmin => "bpo_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
            Role::ComplianceOfficer => "compliance_officer",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == raw)
    }

    /// Roles that belong to one tenant (as opposed to a BPO or the platform).
    pub fn is_tenant_role(self) -> bool {
        !matches!(self, Role::PlatformAdmin | Role::BpoAdmin)
    }
}

/// A verified caller. Built only by the gateway from a verified token (or by
/// a service for its own machine calls); services trust it because the bus
/// is internal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    /// The token subject (user id or service name). Never a secret.
    pub subject: String,
    pub role: Role,
    /// Set for BPO admins; for tenant roles, the tenant's BPO if known.
    pub bpo_id: Option<BpoId>,
    /// Set for tenant roles.
    pub tenant_id: Option<TenantId>,
    /// For agents: the agent id their calls carry (`CallMetadata::agent`).
    pub agent_id: Option<String>,
    /// The client address the gateway saw, for the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}
