use sea_orm::entity::prelude::*;

/// A finalized invoice: `doc` is the `Invoice` as JSON, frozen. Drafts are
/// never stored; they are computed when read.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billing_invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub account_kind: String,
    pub account_id: Uuid,
    pub issuer_kind: String,
    pub issuer_id: Uuid,
    pub period_start: DateTimeUtc,
    pub seq: i64,
    pub number: String,
    pub doc: String,
    pub finalized_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
