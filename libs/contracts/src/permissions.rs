//! Who may do what: the one permission table, read by the gateway (which
//! refuses before calling a service) and by each service (which checks
//! again, whatever the gateway did).

use crate::{Actor, BpoId, Role, TenantId};

/// What a caller wants to do. The gateway's scoped handles are
/// parameterised by a marker type for each (`access::perm`).
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
    /// Read a whole recording to prove it is intact (`verifyRecording`):
    /// every frame authenticated, the digest compared with ingest's. The
    /// answer says intact or not; no audio leaves storage.
    VerifyRecordings,
    /// Export a tenant's data and offboard it: freeze it, crypto-shred its
    /// recordings, personal fields and keys, and read the signed
    /// offboarding certificate afterwards. The operator's decision (the
    /// contract with the client company ends), never the tenant's own
    /// users'.
    OffboardTenants,
    /// Handle data-subject requests (docs/disclosure.md): create them,
    /// check identities, review and redact, approve (never one's own
    /// review), deliver, refuse, and set the tenant's disclosure settings.
    HandleDisclosure,
    /// Read data-subject requests, their register and settings.
    ReadDisclosure,
    /// Manage a BPO's billing (docs/billing.md): its retail plans, which of
    /// them each of its tenants is on, its own and its tenants' billing
    /// profiles, and finalizing its tenants' invoices.
    ManageBilling,
    /// Manage the platform's billing: wholesale plans, which one each BPO
    /// is on, the platform's billing profile, finalizing wholesale invoices,
    /// the storage reconciliation.
    ManageWholesale,
    /// Read usage, invoices and plans: a tenant's own, or a BPO's (its
    /// tenants' and its own wholesale ones, and its statement).
    ReadBilling,
    /// Subscribe a tenant's webhook endpoints, rotate their secrets, read
    /// their delivery log and replay deliveries (docs/webhooks.md).
    ManageWebhooks,
}

impl Permission {
    pub const ALL: [Permission; 19] = [
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
        Permission::VerifyRecordings,
        Permission::OffboardTenants,
        Permission::HandleDisclosure,
        Permission::ReadDisclosure,
        Permission::ManageBilling,
        Permission::ManageWholesale,
        Permission::ReadBilling,
        Permission::ManageWebhooks,
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
/// and how far. The gateway checks it before calling a service, and the
/// service checks it again (defence in depth); PERMISSIONS.md writes it out.
pub fn reach(role: Role, permission: Permission) -> Reach {
    use Permission as P;
    match (role, permission) {
        // The platform operator runs BPOs, onboarding and offboarding
        // (export, then crypto-shred, with a signed certificate), and can create
        // users anywhere (to bootstrap a BPO), but sees no recordings, holds
        // no tenant's recorder keys and has no say in a tenant's lifecycle.
        (
            Role::PlatformAdmin,
            P::ManageBpos
            | P::ViewTenants
            | P::OnboardTenants
            | P::ManageUsers
            | P::OffboardTenants
            // It bills the BPOs (wholesale), and no tenant.
            | P::ManageWholesale,
        ) => Reach::Anywhere,

        // A BPO configures its tenants (retention and their keys included),
        // onboards and offboards them, and works their calls, but legal holds, deletion and the audit
        // trail are the client company's own business.
        (
            Role::BpoAdmin,
            P::ViewTenants
            | P::OnboardTenants
            | P::ManageUsers
            | P::ManageApiKeys
            | P::ReadRecordings
            | P::ManagePolicy
            | P::ManageKeys
            | P::OffboardTenants
            // A processor acting for its client companies (GDPR art. 28(3)(e)).
            | P::HandleDisclosure
            | P::ReadDisclosure
            // It bills its tenants and reads what the platform bills it.
            | P::ManageBilling
            | P::ReadBilling
            // It integrates its tenants' systems, as it holds their
            // recorder keys.
            | P::ManageWebhooks,
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
            | P::ManageKeys
            // What its company is billed: usage and invoices, read only.
            | P::ReadBilling
            | P::ManageWebhooks,
        ) => Reach::OwnTenant,
        (
            Role::ComplianceOfficer,
            P::ViewTenants
            | P::ReadRecordings
            | P::ManagePolicy
            | P::ManageHolds
            | P::ManageDeletion
            | P::ReadAudit
            | P::VerifyRecordings
            | P::HandleDisclosure
            | P::ReadDisclosure,
        ) => Reach::OwnTenant,
        (Role::Supervisor | Role::Agent, P::ViewTenants | P::ReadRecordings) => Reach::OwnTenant,
        // Reading its own tenant's settings (name, time zone) is harmless and
        // every member needs the time zone to read dates.
        // An auditor also proves recordings intact: it hears nothing.
        // It reads the data-subject requests too, and changes none.
        (
            Role::Auditor,
            P::ViewTenants
            | P::ReadAudit
            | P::VerifyRecordings
            | P::ReadDisclosure
            | P::ReadBilling,
        ) => Reach::OwnTenant,

        _ => Reach::Nowhere,
    }
}

/// What a permission is asked on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
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
pub fn allows(actor: &Actor, permission: Permission, target: Target) -> bool {
    match (reach(actor.role, permission), target) {
        (Reach::Nowhere, _) => false,
        (Reach::Anywhere, _) => true,
        (Reach::OwnBpo, Target::Bpo(bpo)) => actor.bpo_id == Some(bpo),
        (Reach::OwnBpo, Target::Tenant { bpo: Some(bpo), .. }) => actor.bpo_id == Some(bpo),
        (Reach::OwnTenant, Target::Tenant { tenant, .. }) => actor.tenant_id == Some(tenant),
        _ => false,
    }
}
