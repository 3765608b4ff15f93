use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub bpo_id: Uuid,
    pub name: String,
    pub time_zone: String,
    pub default_retention_days: i32,
    pub key_ref: String,
    pub created_at: DateTimeUtc,
    pub require_playback_reason: bool,
    /// ISO 3166 alpha-2; `None`: numbers are only numbers with a country
    /// code (see `crate::phone`).
    pub default_region: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
