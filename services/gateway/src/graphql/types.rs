//! Output types and enums, converted from the contracts' types.

use async_graphql::{Enum, SimpleObject};
use callvault_contracts::Actor;
use callvault_contracts::metadata_api as api;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A role, as in the token's `role` claim (there in snake_case).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::Role")]
pub enum Role {
    PlatformAdmin,
    BpoAdmin,
    TenantAdmin,
    Supervisor,
    Agent,
    ComplianceOfficer,
    Auditor,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::call::Direction")]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
}

/// Which audio channel carries whom in a stereo recording.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::call::Channel")]
pub enum Channel {
    Left,
    Right,
    /// Mono: both parties mixed.
    Mixed,
}

/// The caller, as the token says.
#[derive(SimpleObject)]
pub struct Me {
    pub subject: String,
    pub role: Role,
    pub tenant_id: Option<Uuid>,
    pub bpo_id: Option<Uuid>,
    pub agent_id: Option<String>,
}

impl From<&Actor> for Me {
    fn from(actor: &Actor) -> Self {
        Self {
            subject: actor.subject.clone(),
            role: actor.role.into(),
            tenant_id: actor.tenant_id.map(|id| id.0),
            bpo_id: actor.bpo_id.map(|id| id.0),
            agent_id: actor.agent_id.clone(),
        }
    }
}

/// A contact-center operator.
#[derive(SimpleObject)]
pub struct Bpo {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<api::Bpo> for Bpo {
    fn from(bpo: api::Bpo) -> Self {
        Self {
            id: bpo.id.0,
            name: bpo.name,
            created_at: bpo.created_at,
        }
    }
}

/// A client company of a BPO. Its lifecycle fields (`policy`,
/// `auditTrail`…) are each checked on their own: a caller who may read the
/// tenant but not, say, its audit trail gets that field null with a
/// FORBIDDEN error, and the rest.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Tenant {
    pub id: Uuid,
    pub bpo_id: Uuid,
    pub name: String,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    pub default_retention_days: u32,
    /// The master key the tenant's recordings are encrypted under (a KMS key
    /// ARN or alias, or a local keyring id). A reference, never key material.
    pub key_ref: String,
    pub created_at: DateTime<Utc>,
    /// ISO 3166 alpha-2 country whose numbering plan reads phone numbers
    /// given without a country code, at ingest and in searches; null: only
    /// numbers with their country code are numbers.
    pub default_region: Option<String>,
}

impl From<api::Tenant> for Tenant {
    fn from(tenant: api::Tenant) -> Self {
        Self {
            id: tenant.id.0,
            bpo_id: tenant.bpo_id.0,
            name: tenant.name,
            time_zone: tenant.time_zone,
            default_retention_days: tenant.default_retention_days,
            key_ref: tenant.key_ref,
            created_at: tenant.created_at,
            default_region: tenant.default_region,
        }
    }
}

#[derive(SimpleObject)]
pub struct User {
    pub id: Uuid,
    /// The identity provider's subject (the token's `sub`).
    pub subject: String,
    pub role: Role,
    pub tenant_id: Option<Uuid>,
    pub bpo_id: Option<Uuid>,
    pub agent_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<api::User> for User {
    fn from(user: api::User) -> Self {
        Self {
            id: user.id.0,
            subject: user.subject,
            role: user.role.into(),
            tenant_id: user.tenant_id.map(|id| id.0),
            bpo_id: user.bpo_id.map(|id| id.0),
            agent_id: user.agent_id,
            created_at: user.created_at,
        }
    }
}

/// A recorder API key, as listed: never its secret.
#[derive(SimpleObject)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api::ApiKey> for ApiKey {
    fn from(key: api::ApiKey) -> Self {
        Self {
            id: key.id,
            tenant_id: key.tenant_id.0,
            name: key.name,
            prefix: key.prefix,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A new recorder API key.
#[derive(SimpleObject)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// The secret, shown this once: it can't be read back later.
    pub secret: String,
}

impl From<api::CreatedApiKey> for CreatedApiKey {
    fn from(created: api::CreatedApiKey) -> Self {
        Self {
            key: created.key.into(),
            secret: created.secret,
        }
    }
}
