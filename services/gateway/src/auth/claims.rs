//! The token's claims and the caller they describe.

use callvault_contracts::{Actor, BpoId, Role, TenantId};
use serde::Deserialize;

use super::AuthError;

/// The claims we read. `exp`, `nbf`, `iss` and `aud` are checked by
/// `jsonwebtoken::Validation` before this is used.
#[derive(Deserialize)]
pub(super) struct Claims {
    /// Defaulted so that a missing `sub` is reported by the validation as
    /// a missing claim rather than as unparseable claims.
    #[serde(default)]
    sub: String,
    /// Required and checked by the validation (defaulted for the same
    /// reason as `sub`); read again for the lifetime.
    #[serde(default)]
    exp: u64,
    iat: Option<u64>,
    role: Role,
    tenant_id: Option<TenantId>,
    bpo_id: Option<BpoId>,
    agent_id: Option<String>,
}

impl Claims {
    /// Refuses a token valid for longer than `max_secs`: counted from its
    /// `iat` when it has one, else from now (a token without `iat` can't
    /// claim a lifetime it hasn't got left).
    pub(super) fn check_lifetime(&self, max_secs: u64, leeway_secs: u64) -> Result<(), AuthError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let from = self
            .iat
            .map_or(now, |iat| iat.min(now.saturating_add(leeway_secs)));
        if self.exp.saturating_sub(from) > max_secs.saturating_add(leeway_secs) {
            return Err(AuthError::LifetimeTooLong);
        }
        Ok(())
    }

    /// The caller, if its role and scope agree: a token that names a role
    /// without the scope that role works in (or with a scope it can't have)
    /// is refused rather than guessed at.
    pub(super) fn into_actor(self) -> Result<Actor, AuthError> {
        if self.sub.trim().is_empty() {
            return Err(AuthError::InvalidClaims("empty subject"));
        }
        match self.role {
            Role::PlatformAdmin => {
                if self.tenant_id.is_some() || self.bpo_id.is_some() {
                    return Err(AuthError::InvalidClaims("platform_admin is not scoped"));
                }
            }
            Role::BpoAdmin => {
                if self.bpo_id.is_none() {
                    return Err(AuthError::InvalidClaims("bpo_admin needs bpo_id"));
                }
                if self.tenant_id.is_some() {
                    return Err(AuthError::InvalidClaims("bpo_admin has no tenant_id"));
                }
            }
            role => {
                debug_assert!(role.is_tenant_role());
                if self.tenant_id.is_none() {
                    return Err(AuthError::InvalidClaims("tenant role needs tenant_id"));
                }
                // An agent sees only the calls carrying its agent id: without
                // one there is nothing it could be scoped to.
                if role == Role::Agent && self.agent_id.as_deref().is_none_or(str::is_empty) {
                    return Err(AuthError::InvalidClaims("agent needs agent_id"));
                }
            }
        }
        Ok(Actor {
            subject: self.sub,
            role: self.role,
            bpo_id: self.bpo_id,
            tenant_id: self.tenant_id,
            agent_id: self.agent_id,
            origin: None,
        })
    }
}
