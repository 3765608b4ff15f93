use sea_orm::entity::prelude::*;

/// A tenant's signed manifest of one UTC day, kept once signed so the
/// answer for a day never changes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "daily_manifests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub date: Date,
    /// The signed bytes (canonical JSON).
    pub body: String,
    /// Base64 Ed25519 signature over `body`.
    pub signature: String,
    pub signed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
