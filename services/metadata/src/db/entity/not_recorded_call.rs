use sea_orm::entity::prelude::*;

/// A call kept as metadata only: its audio was never stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "not_recorded_calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub external_call_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub segment: i64,
    pub recording_id: Uuid,
    pub reason: String,
    pub policy_version: i64,
    pub agent: Option<String>,
    /// The rest of the call metadata as JSON: direction, queue, times,
    /// tags, attributes. Never its phone numbers.
    pub call: String,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
