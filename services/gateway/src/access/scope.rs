//! The request's scope: the verified caller, and the permission checks
//! that hand out the scoped handles of [`super::handles`].

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};

use async_graphql::Context;
use callvault_bus::RpcClient;
use callvault_contracts::metadata_api::{ErrorCode, Tenant};
use callvault_contracts::ops::tenancy::GetTenant;
use callvault_contracts::{Actor, BpoId, TenantId};
use tracing::{error, info};

use super::handles::{BpoScope, PlatformScope, TenantScope};
use super::perm::Marker;
use super::{Permission, Reach, Target, allows, reach};
use crate::auth::AuthError;
use crate::error::{coded, forbidden, from_api};

type Result<T> = async_graphql::Result<T>;

/// The services' client as schema data. Its field is private to this
/// module: holding a `Backend` gives a resolver nothing to call.
pub struct Backend {
    rpc: RpcClient,
}

impl Backend {
    pub fn new(rpc: RpcClient) -> Self {
        Self { rpc }
    }
}

/// The outcome of verifying the request's token, as request data.
pub struct Caller(std::result::Result<Actor, AuthError>);

impl Caller {
    pub fn verified(actor: Actor) -> Self {
        Self(Ok(actor))
    }

    pub fn rejected(error: AuthError) -> Self {
        Self(Err(error))
    }
}

/// The tenants a BPO admin's request already looked up, as request data:
/// a page of recordings asks for a handle once per `playbackUrl`, and one
/// lookup per request is enough (a tenant doesn't change BPO mid-request).
#[derive(Default)]
pub struct TenantLookups(Mutex<HashMap<TenantId, Tenant>>);

impl TenantLookups {
    fn get(&self, tenant: TenantId) -> Option<Tenant> {
        let memo = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        memo.get(&tenant).cloned()
    }

    fn remember(&self, record: &Tenant) {
        let mut memo = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        memo.insert(record.id, record.clone());
    }
}

/// The verified caller and the backend APIs, for one request.
pub struct Scope<'a> {
    pub(super) actor: &'a Actor,
    pub(super) rpc: &'a RpcClient,
    lookups: Option<&'a TenantLookups>,
}

pub trait ScopeExt {
    /// The request's scope; `UNAUTHENTICATED` without a valid token.
    fn scope(&self) -> Result<Scope<'_>>;
}

impl ScopeExt for Context<'_> {
    fn scope(&self) -> Result<Scope<'_>> {
        let Some(Caller(verified)) = self.data_opt::<Caller>() else {
            return Err(coded(
                ErrorCode::Unauthenticated,
                AuthError::Missing.to_string(),
            ));
        };
        let actor = verified
            .as_ref()
            .map_err(|error| coded(ErrorCode::Unauthenticated, error.to_string()))?;
        let Some(backend) = self.data_opt::<Backend>() else {
            error!("schema built without a metadata backend");
            return Err(coded(ErrorCode::Internal, "internal error"));
        };
        Ok(Scope {
            actor,
            rpc: &backend.rpc,
            lookups: self.data_opt::<TenantLookups>(),
        })
    }
}

pub(super) fn deny(actor: &Actor, permission: Permission) -> async_graphql::Error {
    // Role and permission only: the subject may be an email address.
    info!(role = actor.role.as_str(), ?permission, "access denied");
    forbidden()
}

impl<'a> Scope<'a> {
    pub fn actor(&self) -> &'a Actor {
        self.actor
    }

    /// A handle on platform-wide operations.
    pub fn platform<P: Marker>(&self, _permission: P) -> Result<PlatformScope<'a, P>> {
        if !allows(self.actor, P::PERMISSION, Target::Platform) {
            return Err(deny(self.actor, P::PERMISSION));
        }
        Ok(PlatformScope {
            actor: self.actor,
            rpc: self.rpc,
            _permission: PhantomData,
        })
    }

    /// A handle on one BPO.
    pub fn bpo<P: Marker>(&self, bpo: BpoId, _permission: P) -> Result<BpoScope<'a, P>> {
        if !allows(self.actor, P::PERMISSION, Target::Bpo(bpo)) {
            return Err(deny(self.actor, P::PERMISSION));
        }
        Ok(BpoScope {
            actor: self.actor,
            rpc: self.rpc,
            bpo,
            _permission: PhantomData,
        })
    }

    /// A handle on one tenant.
    ///
    /// A BPO admin's reach over a tenant depends on the tenant's BPO, which
    /// only the metadata service knows: for that role alone the tenant is
    /// looked up first, *as the caller* (so the lookup itself is within the
    /// caller's rights), and the answer checked here. Other roles are
    /// decided from the token alone, without calling anything.
    pub async fn tenant<P: Marker>(
        &self,
        tenant: TenantId,
        _permission: P,
    ) -> Result<TenantScope<'a, P>> {
        let permission = P::PERMISSION;
        let record = match reach(self.actor.role, permission) {
            Reach::OwnBpo => Some(self.lookup_tenant(tenant, permission).await?),
            _ => None,
        };
        let target = Target::Tenant {
            tenant,
            bpo: record.as_ref().map(|record| record.bpo_id),
        };
        if !allows(self.actor, permission, target) {
            return Err(deny(self.actor, permission));
        }
        Ok(TenantScope {
            actor: self.actor,
            rpc: self.rpc,
            tenant,
            record,
            _permission: PhantomData,
        })
    }

    async fn lookup_tenant(&self, tenant: TenantId, permission: Permission) -> Result<Tenant> {
        if let Some(record) = self.lookups.and_then(|lookups| lookups.get(tenant)) {
            return Ok(record);
        }
        let request = GetTenant {
            actor: self.actor.clone(),
            tenant,
        };
        let record = match self.rpc.call(request).await {
            Ok(record) => record,
            // Another BPO's tenant and no tenant look the same to the caller.
            Err(error) if matches!(error.code, ErrorCode::NotFound | ErrorCode::Forbidden) => {
                return Err(deny(self.actor, permission));
            }
            Err(error) => return Err(from_api(error)),
        };
        if record.id != tenant {
            error!(%tenant, returned = %record.id, "metadata returned another tenant");
            return Err(coded(ErrorCode::Internal, "internal error"));
        }
        if let Some(lookups) = self.lookups {
            lookups.remember(&record);
        }
        Ok(record)
    }
}
