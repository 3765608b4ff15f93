//! The `tus_uploads` row, hand-written so the column types stay the ones
//! the migration creates on both SQLite and PostgreSQL.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tus_uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The audio's type, from the upload's metadata.
    pub content_type: String,
    pub upload_length: i64,
    /// Bytes received and committed to disk.
    pub upload_offset: i64,
    /// The call metadata's JSON, sealed under the upload's key.
    pub sealed_call: Vec<u8>,
    /// The upload's data key, sealed under the staging key.
    pub wrapped_key: Vec<u8>,
    /// The receipt once the recording is stored.
    pub receipt: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
