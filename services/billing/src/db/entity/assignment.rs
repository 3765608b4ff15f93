use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_assignments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub account_kind: String,
    pub account_id: Uuid,
    pub plan_id: Uuid,
    pub time_zone: String,
    pub effective_from: DateTimeUtc,
    pub assigned_at: DateTimeUtc,
    pub assigned_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
