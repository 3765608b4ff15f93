//! Who may do what, enforced below the resolvers.
//!
//! Resolvers never hold the metadata or lifecycle API. They ask the
//! request's [`Scope`] for a handle on one target (the platform, a BPO, a
//! tenant) *with one permission*, and the handle exposes only the calls that
//! permission covers, already bound to that target. The handles have
//! private fields and are built only here, after [`reach`] said yes, so a
//! resolver that forgets to check cannot reach the metadata service at all:
//! it has nothing to call.
//!
//! A handle has only its permission's calls. This compiles:
//!
//! ```no_run
//! # use callvault_gateway::access::{TenantScope, perm};
//! # async fn f(
//! #     users: TenantScope<'_, perm::ManageUsers>,
//! #     deletion: TenantScope<'_, perm::ManageDeletion>,
//! # ) {
//! let _ = users.list_users().await;
//! let _ = deletion.run_deletion().await;
//! # }
//! ```
//!
//! and this does not (a recordings handle can't list users):
//!
//! ```compile_fail
//! # use callvault_gateway::access::{TenantScope, perm};
//! # async fn f(recordings: TenantScope<'_, perm::ReadRecordings>) {
//! let _ = recordings.list_users().await;
//! # }
//! ```
//!
//! nor this (a legal-hold handle can't delete recordings):
//!
//! ```compile_fail
//! # use callvault_gateway::access::{TenantScope, perm};
//! # async fn f(holds: TenantScope<'_, perm::ManageHolds>) {
//! let _ = holds.run_deletion().await;
//! # }
//! ```
//!
//! The metadata service checks every call again (defence in depth); this
//! layer exists so that a refused request never leaves the gateway.
//! The matrix is written out in `services/gateway/PERMISSIONS.md`.

mod handles;
mod lifecycle;
mod scope;

use callvault_contracts::{Actor, BpoId, Role, TenantId};

pub use handles::{BpoScope, NewTenant, PlatformScope, TenantScope};
pub use lifecycle::PublicLifecycle;
pub use scope::{Backend, Caller, Scope, ScopeExt, TenantLookups};

/// What a caller wants to do. Each has a marker type in [`perm`] that the
/// scoped handles are parameterised by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Create and list BPOs.
    ManageBpos,
    /// List a BPO's tenants; read one tenant's settings.
    ViewTenants,
    /// Onboard a tenant into a BPO.
    OnboardTenants,
    /// List and create users.
    ManageUsers,
    /// List, create and revoke recorder API keys.
    ManageApiKeys,
    /// Search and get recordings, their lifecycle (retention, holds), and
    /// the playback URLs that come with them (each playback authorised and
    /// audited).
    ReadRecordings,
    /// Read and change the tenant's retention policy and rules.
    ManagePolicy,
    /// Place, release and list legal holds.
    ManageHolds,
    /// Delete recordings now, run the deletion worker, list its certificates.
    ManageDeletion,
    /// Read and verify the audit trail; fetch the signed daily manifests.
    ReadAudit,
    /// Change the tenant's master key: rotate it, or switch to the tenant's
    /// own.
    ManageKeys,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::ManageBpos,
        Permission::ViewTenants,
        Permission::OnboardTenants,
        Permission::ManageUsers,
        Permission::ManageApiKeys,
        Permission::ReadRecordings,
        Permission::ManagePolicy,
        Permission::ManageHolds,
        Permission::ManageDeletion,
        Permission::ReadAudit,
        Permission::ManageKeys,
    ];
}

/// How far a role's permission extends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reach {
    Nowhere,
    /// The tenant named by the caller's `tenant_id`.
    OwnTenant,
    /// The caller's BPO (`bpo_id`) and every tenant in it.
    OwnBpo,
    /// The platform, every BPO and every tenant.
    Anywhere,
}

/// THE permission matrix: the one place that says which role may do what,
/// and how far. Mirrors the metadata service's checks and PERMISSIONS.md.
pub fn reach(role: Role, permission: Permission) -> Reach {
    use Permission as P;
    match (role, permission) {
        // The platform operator runs BPOs and onboarding, and can create
        // users anywhere (to bootstrap a BPO), but sees no recordings, holds
        // no tenant's recorder keys and has no say in a tenant's lifecycle.
        (
            Role::PlatformAdmin,
            P::ManageBpos | P::ViewTenants | P::OnboardTenants | P::ManageUsers,
        ) => Reach::Anywhere,

        // A BPO configures its tenants (retention and their keys included)
        // and works their calls, but legal holds, deletion and the audit
        // trail are the client company's own business.
        (
            Role::BpoAdmin,
            P::ViewTenants
            | P::OnboardTenants
            | P::ManageUsers
            | P::ManageApiKeys
            | P::ReadRecordings
            | P::ManagePolicy
            | P::ManageKeys,
        ) => Reach::OwnBpo,

        (
            Role::TenantAdmin,
            P::ViewTenants
            | P::ManageUsers
            | P::ManageApiKeys
            | P::ReadRecordings
            | P::ManagePolicy
            | P::ManageHolds
            | P::ManageDeletion
            | P::ManageKeys,
        ) => Reach::OwnTenant,
        (
            Role::ComplianceOfficer,
            P::ViewTenants
            | P::ReadRecordings
            | P::ManagePolicy
            | P::ManageHolds
            | P::ManageDeletion
            | P::ReadAudit,
        ) => Reach::OwnTenant,
        (Role::Supervisor | Role::Agent, P::ViewTenants | P::ReadRecordings) => Reach::OwnTenant,
        // Reading its own tenant's settings (name, time zone) is harmless and
        // every member needs the time zone to read dates.
        (Role::Auditor, P::ViewTenants | P::ReadAudit) => Reach::OwnTenant,

        _ => Reach::Nowhere,
    }
}

/// What a permission is asked on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Platform,
    Bpo(BpoId),
    /// A tenant; its BPO is known only when it was looked up.
    Tenant {
        tenant: TenantId,
        bpo: Option<BpoId>,
    },
}

/// Whether `actor` may use `permission` on `target`. For a BPO admin on a
/// tenant the tenant's BPO must be known; without it the answer is no.
pub(crate) fn allows(actor: &Actor, permission: Permission, target: Target) -> bool {
    match (reach(actor.role, permission), target) {
        (Reach::Nowhere, _) => false,
        (Reach::Anywhere, _) => true,
        (Reach::OwnBpo, Target::Bpo(bpo)) => actor.bpo_id == Some(bpo),
        (Reach::OwnBpo, Target::Tenant { bpo: Some(bpo), .. }) => actor.bpo_id == Some(bpo),
        (Reach::OwnTenant, Target::Tenant { tenant, .. }) => actor.tenant_id == Some(tenant),
        _ => false,
    }
}

/// Zero-sized markers naming a [`Permission`] at the type level, so a
/// `TenantScope<perm::ReadRecordings>` has recording methods and nothing
/// else.
pub mod perm {
    use super::Permission;

    mod sealed {
        pub trait Sealed {}
    }

    /// Implemented only by the markers below.
    pub trait Marker: sealed::Sealed + Copy + Send + Sync + 'static {
        const PERMISSION: Permission;
    }

    macro_rules! marker {
        ($name:ident) => {
            #[derive(Clone, Copy, Debug)]
            pub struct $name;
            impl sealed::Sealed for $name {}
            impl Marker for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        };
    }

    marker!(ManageBpos);
    marker!(ViewTenants);
    marker!(OnboardTenants);
    marker!(ManageUsers);
    marker!(ManageApiKeys);
    marker!(ReadRecordings);
    marker!(ManagePolicy);
    marker!(ManageHolds);
    marker!(ManageDeletion);
    marker!(ReadAudit);
    marker!(ManageKeys);
}
