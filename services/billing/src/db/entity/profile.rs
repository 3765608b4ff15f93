use sea_orm::entity::prelude::*;

/// A party's `BillingProfile` as JSON; the platform's party id is nil.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_profiles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub party_kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub party_id: Uuid,
    pub profile: String,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
