use sea_orm::entity::prelude::*;

/// One entry of a tenant's hash-chained audit trail (see `crate::audit`).
/// `action` is the `AuditAction` in snake_case; `details` is canonical JSON.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub at: DateTimeUtc,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: Option<String>,
    pub origin: Option<String>,
    pub reason: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
