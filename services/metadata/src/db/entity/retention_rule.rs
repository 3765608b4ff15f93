use sea_orm::entity::prelude::*;

/// One retention rule of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// `RetentionMatch` as JSON.
    pub matches: String,
    pub retention_days: i32,
    pub overriding: bool,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    /// Set for a statutory rule: the legal duty to keep what it matches.
    pub legal_basis: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
