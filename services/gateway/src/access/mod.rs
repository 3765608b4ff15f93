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
//! nor this (a disclosure reader — an auditor — can't approve a
//! data-subject request):
//!
//! ```compile_fail
//! # use callvault_gateway::access::{TenantScope, perm};
//! # async fn f(reader: TenantScope<'_, perm::ReadDisclosure>, id: uuid::Uuid) {
//! let _ = reader.approve_request(id).await;
//! # }
//! ```
//!
//! while a disclosure handler can:
//!
//! ```no_run
//! # use callvault_gateway::access::{TenantScope, perm};
//! # async fn f(handler: TenantScope<'_, perm::HandleDisclosure>, id: uuid::Uuid) {
//! let _ = handler.approve_request(id).await;
//! # }
//! ```
//!
//! nor this (a billing reader — a tenant admin, an auditor — can't
//! finalize an invoice):
//!
//! ```compile_fail
//! # use callvault_gateway::access::BillingReader;
//! # async fn f(reader: BillingReader<'_>, id: uuid::Uuid) {
//! let _ = reader.finalize_invoice(id).await;
//! # }
//! ```
//!
//! while it reads one, and a billing manager finalizes it:
//!
//! ```no_run
//! # use callvault_gateway::access::{BillingManager, BillingReader};
//! # async fn f(reader: BillingReader<'_>, manager: BillingManager<'_>, id: uuid::Uuid) {
//! let _ = reader.invoice(id).await;
//! let _ = manager.finalize_invoice(id).await;
//! # }
//! ```
//!
//! nor this (a tenant's user manager can't subscribe its webhooks):
//!
//! ```compile_fail
//! # use callvault_gateway::access::{TenantScope, perm};
//! # async fn f(users: TenantScope<'_, perm::ManageUsers>, id: uuid::Uuid) {
//! let _ = users.rotate_webhook_secret(id).await;
//! # }
//! ```
//!
//! while a webhooks handle can:
//!
//! ```no_run
//! # use callvault_gateway::access::{TenantScope, perm};
//! # async fn f(hooks: TenantScope<'_, perm::ManageWebhooks>, id: uuid::Uuid) {
//! let _ = hooks.rotate_webhook_secret(id).await;
//! # }
//! ```
//!
//! The metadata service checks every call again (defence in depth); this
//! layer exists so that a refused request never leaves the gateway.
//! The matrix is written out in `services/gateway/PERMISSIONS.md`.

mod billing;
mod billing_scopes;
mod disclosure;
mod handles;
mod lifecycle;
mod offboarding;
mod recording_policy;
mod scope;
mod webhooks;

pub use callvault_contracts::permissions::{Permission, Reach, Target, allows, reach};

pub use billing::{BillingAccount, BillingManager, BillingReader};
pub use handles::{BpoScope, PlatformScope, TenantScope, TenantSettings};
pub use lifecycle::PublicLifecycle;
pub use scope::{Backend, Caller, Scope, ScopeExt, TenantLookups};

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
    marker!(VerifyRecordings);
    marker!(OffboardTenants);
    marker!(HandleDisclosure);
    marker!(ReadDisclosure);
    marker!(ManageBilling);
    marker!(ManageWholesale);
    marker!(ReadBilling);
    marker!(ManageWebhooks);
}
