use sea_orm::entity::prelude::*;

/// How much of a meter finalized invoices billed for one period of an
/// account (base unit, an exact decimal as text).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_billed")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub period_start: DateTimeUtc,
    #[sea_orm(primary_key, auto_increment = false)]
    pub meter: String,
    pub quantity: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
