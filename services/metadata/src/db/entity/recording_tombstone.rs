use sea_orm::entity::prelude::*;

/// What is left of a deleted recording: no personal data (no numbers, no
/// agent, no queue), only what proves it existed and was deleted. The
/// daily manifest reads these columns.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recording_tombstones")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recording_id: Uuid,
    pub ingested_at: DateTimeUtc,
    pub sha256: String,
    pub deleted_at: DateTimeUtc,
    /// `retention`, `user_request` or `erasure`.
    pub reason: String,
    pub policy: String,
    pub deleted_by: String,
    pub certificate_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
