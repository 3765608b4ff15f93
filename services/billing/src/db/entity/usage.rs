use sea_orm::entity::prelude::*;

/// One metered event: its meter, when it happened and how much, in the
/// meter's integer unit (docs/billing.md, "Meters").
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub dedupe_key: String,
    pub meter: String,
    pub at_s: i64,
    pub quantity: i64,
    pub subject: Option<String>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
