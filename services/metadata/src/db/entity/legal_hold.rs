use sea_orm::entity::prelude::*;

/// A legal hold (a case). `scope_kind` is `recordings` (the ids are in
/// `legal_hold_recordings`) or `filter` (the search filter as JSON, its
/// phone number kept apart as ciphertext and blind index).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "legal_holds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_name: String,
    pub reason: String,
    pub scope_kind: String,
    pub filter: Option<String>,
    pub filter_phone_ciphertext: Option<Vec<u8>>,
    pub filter_phone_index: Option<Vec<u8>>,
    pub placed_by: String,
    pub placed_at: DateTimeUtc,
    pub released_by: Option<String>,
    pub released_at: Option<DateTimeUtc>,
    pub release_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
