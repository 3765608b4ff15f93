use sea_orm::entity::prelude::*;

/// An audit entry written in the transaction of its step, appended to the
/// tenant's chain (metadata) right after, or by the timer if that failed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disclosure_audit_queue")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// JSON of the `RecordDisclosureAudit` to send.
    pub entry: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
