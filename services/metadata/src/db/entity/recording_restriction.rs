use sea_orm::entity::prelude::*;

/// A recording restricted by a data-subject request (GDPR art. 18): one row
/// per recording and request, removed when the request lifts it or the
/// recording is deleted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recording_restrictions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recording_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: Uuid,
    pub reason: String,
    pub restricted_at: DateTimeUtc,
    /// The subject of the person the disclosure service named.
    pub restricted_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
