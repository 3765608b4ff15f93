use sea_orm::entity::prelude::*;

/// An export bundle: a sealed object in the blob store, its wrapped data
/// key, and its retention.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disclosure_bundles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub request_id: Uuid,
    pub state: String,
    pub object_key: Option<String>,
    pub key_ref: Option<String>,
    pub wrapped_key: Option<Vec<u8>>,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub created_at: DateTimeUtc,
    pub ready_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    pub shredded_at: Option<DateTimeUtc>,
    pub downloads: i32,
    /// Until when a process holds the build (see `service::bundles`).
    pub building_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
