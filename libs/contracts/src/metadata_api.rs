//! The metadata service's domain: tenancy and the catalogue, and the error
//! every operation answers with. The operations themselves are in
//! [`crate::ops`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::call::{Channel, Direction, PauseSpan};
use crate::{BpoId, RecordingId, Role, TenantId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Unknown token, key or role for this operation.
    Unauthenticated,
    /// Authenticated but not allowed (wrong role, or another BPO's/tenant's data).
    Forbidden,
    NotFound,
    InvalidInput,
    Conflict,
    /// A dependency is down; retry.
    Unavailable,
    Internal,
    /// The tenant's master key is disabled, deleted or not usable by the
    /// platform: what it protects (recordings, the catalogue's phone
    /// numbers) can't be read until the tenant's key is usable again.
    TenantKeyUnusable,
    /// The tenant is being offboarded, or was: it is frozen, nothing is
    /// uploaded, played, searched or changed in it any more.
    TenantOffboarded,
    /// Offboarding refused: no export of the tenant's current state was
    /// made (`exportTenant` first, after the last change).
    ExportRequired,
    /// Offboarding refused: a legal hold is active in the tenant.
    LegalHoldActive,
    /// The recording is restricted (a data-subject request, GDPR art. 18):
    /// it is not played or downloaded, but by a compliance officer giving a
    /// reason.
    RecordingRestricted,
    /// A billing plan was refused: tiers that overlap or don't increase, a
    /// negative price, a unit its meter isn't counted in, an unknown
    /// currency (docs/billing.md).
    InvalidPlan,
    /// A webhook URL was refused: not http(s), or its host resolves to a
    /// loopback, private, link-local or otherwise non-public address the
    /// operator did not allow (docs/webhooks.md).
    WebhookUrlRefused,
}

impl ErrorCode {
    /// The code clients see in GraphQL `extensions.code` and JSON errors.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InvalidInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::TenantKeyUnusable => "TENANT_KEY_UNUSABLE",
            ErrorCode::TenantOffboarded => "TENANT_OFFBOARDED",
            ErrorCode::ExportRequired => "EXPORT_REQUIRED",
            ErrorCode::LegalHoldActive => "LEGAL_HOLD_ACTIVE",
            ErrorCode::RecordingRestricted => "RECORDING_RESTRICTED",
            ErrorCode::InvalidPlan => "INVALID_PLAN",
            ErrorCode::WebhookUrlRefused => "WEBHOOK_URL_REFUSED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    /// Lowercase, safe to show to the caller: no personal data, no secrets.
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "not allowed")
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

// ---- tenancy ----

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Bpo {
    pub id: BpoId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// Where a tenant's master key comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum KeyMode {
    /// callvault creates a key for the tenant (a KMS key + alias, or a local
    /// keyring entry in embedded mode).
    Managed,
    /// The tenant brings its own KMS key.
    External { key_arn: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewTenant {
    pub bpo_id: BpoId,
    pub name: String,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    pub default_retention_days: u32,
    pub key_mode: KeyMode,
    /// ISO 3166 alpha-2 region phone numbers without a country code are
    /// read in (`JP`: `03-1234-5678` is `+81312345678`). Absent: derived
    /// from the time zone's country, or none (then only numbers with a
    /// country code are numbers).
    #[serde(default)]
    pub default_region: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub bpo_id: BpoId,
    pub name: String,
    pub time_zone: String,
    pub default_retention_days: u32,
    /// The master key its recordings' data keys are wrapped under.
    pub key_ref: String,
    pub created_at: DateTime<Utc>,
    /// ISO 3166 alpha-2 region phone numbers without a country code are
    /// read in; `None`: only numbers with a country code are numbers.
    #[serde(default)]
    pub default_region: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NewUser {
    /// The identity provider's subject (`sub` claim), or an email in
    /// embedded mode.
    pub subject: String,
    pub role: Role,
    /// Required for tenant roles.
    pub tenant_id: Option<TenantId>,
    /// Required for BPO admins.
    pub bpo_id: Option<BpoId>,
    /// For agents: the agent id their calls carry.
    pub agent_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub id: UserId,
    pub subject: String,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
    pub bpo_id: Option<BpoId>,
    pub agent_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A recorder API key as listed: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new key: the only time its secret is ever returned.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: String,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What a valid recorder key allows: ingest into this tenant, under this key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiKeyGrant {
    pub key_id: Uuid,
    pub tenant_id: TenantId,
    pub key_ref: String,
    /// The tenant has a recording policy or a do-not-record list: ingestion
    /// asks `decide_upload` before storing. Without, every call is kept and
    /// that round trip is saved.
    #[serde(default)]
    pub recording_policy: bool,
}

// ---- catalogue ----

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingFilter {
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    /// Matches caller or callee, through the tenant's blind index.
    pub phone_number: Option<String>,
    /// Every tag listed must be present.
    #[serde(default)]
    pub tags: Vec<String>,
    pub min_duration_ms: Option<u64>,
    pub max_duration_ms: Option<u64>,
    /// Whether the caller heard the recording announcement.
    #[serde(default)]
    pub notice_played: Option<bool>,
    /// Every listed custom attribute must have exactly this value (keys and
    /// values compared as sent: case and spaces count).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageRequest {
    /// At most 100.
    pub first: u32,
    /// An opaque cursor from a previous page.
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Recording {
    pub id: RecordingId,
    pub tenant_id: TenantId,
    pub external_call_id: String,
    pub segment: u32,
    pub direction: Direction,
    pub caller_number: String,
    pub callee_number: String,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub tags: Vec<String>,
    pub agent_channel: Option<Channel>,
    pub customer_channel: Option<Channel>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub notice_played: Option<bool>,
    #[serde(default)]
    pub pauses: Vec<PauseSpan>,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration_ms: u64,
    pub size: u64,
    pub sha256: String,
    pub ingested_at: DateTime<Utc>,
    /// Restricted by a data-subject request (GDPR art. 18): still listed,
    /// but played or downloaded only by a compliance officer with a reason.
    #[serde(default)]
    pub restricted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingPage {
    pub items: Vec<Recording>,
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// What the metadata service needs from the storage service's key provider:
/// a master key per tenant at onboarding, and its changes later.
#[async_trait]
pub trait TenantKeys: Send + Sync + 'static {
    /// Creates (or finds) the managed key of `tenant`; returns its reference.
    async fn create_tenant_key(&self, tenant: TenantId) -> ApiResult<String>;
    /// Checks a key the tenant brings is usable.
    async fn check_external_key(&self, key_arn: &str) -> ApiResult<String>;
    /// Rotates a managed key to a new version; data keys wrapped under the
    /// earlier versions stay readable until they are re-wrapped.
    async fn rotate_tenant_key(&self, key_ref: &str) -> ApiResult<()>;
}
