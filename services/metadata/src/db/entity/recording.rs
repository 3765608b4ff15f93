use callvault_contracts::call::{Channel, Direction};
use sea_orm::entity::prelude::*;

/// One recording in the catalogue. The phone numbers are only here as
/// AES-256-GCM ciphertext and as per-tenant blind indexes (see `crate::pii`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recordings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub external_call_id: String,
    pub segment: i64,
    pub direction: String,
    pub caller_ciphertext: Vec<u8>,
    /// `None` when the number has no digits (anonymous, withheld): such
    /// calls must not all match one another.
    pub caller_index: Option<Vec<u8>>,
    pub callee_ciphertext: Vec<u8>,
    pub callee_index: Option<Vec<u8>>,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub started_at: DateTimeUtc,
    pub ended_at: DateTimeUtc,
    pub agent_channel: Option<String>,
    pub customer_channel: Option<String>,
    pub codec: String,
    pub sample_rate: i64,
    pub channels: i32,
    pub duration_ms: i64,
    pub size: i64,
    pub sha256: String,
    pub key_ref: String,
    pub ingested_at: DateTimeUtc,
    /// When the recording becomes due for deletion (started_at plus the
    /// effective rule's days); recomputed whenever the rules change.
    pub retain_until: DateTimeUtc,
    /// The rule that set `retain_until`; `None` is the tenant's default.
    pub retention_rule_id: Option<Uuid>,
    /// `CallMetadata::attributes` as a JSON object of strings.
    pub attributes: String,
    pub notice_played: Option<bool>,
    /// `CallMetadata::pauses` as a JSON array of pause spans.
    pub pauses: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The `direction` column's values.
pub(crate) fn direction_str(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
        Direction::Internal => "internal",
    }
}

/// The `agent_channel` / `customer_channel` columns' values.
pub(crate) fn channel_str(channel: Channel) -> &'static str {
    match channel {
        Channel::Left => "left",
        Channel::Right => "right",
        Channel::Mixed => "mixed",
    }
}
