use sea_orm::entity::prelude::*;

/// One export made of a tenant: what it covered and its digest, never its
/// content (which holds decrypted phone numbers and is handed to the caller
/// only). Offboarding compares the latest with the tenant's current state.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub size_bytes: i64,
    pub recordings: i64,
    /// The last audit entry the content holds.
    pub audit_seq: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
