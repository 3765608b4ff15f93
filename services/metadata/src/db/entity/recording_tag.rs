use sea_orm::entity::prelude::*;

/// One tag of one recording: a row per tag so "has every tag" is a plain
/// `EXISTS` per tag on both backends (no JSON or array operators).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recording_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recording_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
    /// Where the recorder listed it, so the reply keeps the recorder's order.
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
