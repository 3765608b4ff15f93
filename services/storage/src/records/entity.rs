//! The `storage_objects` row, hand-written (not generated) so the column
//! types stay the ones the migration creates on both SQLite and PostgreSQL.
//!
//! This is the persistence shape only: it may hold states the domain rejects
//! (a stored row without a wrapped key), so nothing outside `records` sees it.
//! [`super::StorageRecord`] is what the rest of the service gets.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "storage_objects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recording_id: Uuid,
    pub object_key: String,
    pub key_ref: String,
    /// `None` once shredded: the row outlives the key so that a later read
    /// says "shredded" instead of "not found".
    pub wrapped_key: Option<Vec<u8>>,
    pub frame_size: i32,
    pub plaintext_len: i64,
    pub ciphertext_len: i64,
    pub sha256: Vec<u8>,
    pub state: String,
    pub created_at: DateTimeUtc,
    pub rewrapped_at: Option<DateTimeUtc>,
    pub shredded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Values of the `state` column.
pub const STATE_STORED: &str = "stored";
pub const STATE_SHREDDED: &str = "shredded";
