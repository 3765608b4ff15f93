use sea_orm::entity::prelude::*;

/// The last invoice number an issuer gave.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_invoice_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer_kind: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer_id: Uuid,
    pub last_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
