//! The `uploads` row, hand-written so the column types stay the ones the
//! migration creates on both SQLite and PostgreSQL.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub external_call_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub segment: i32,
    /// The recording the current attempt stores under; a take-over gives
    /// the key a new one.
    pub recording_id: Uuid,
    pub state: String,
    /// The 201 body, replayed to retries; set once done.
    pub response: Option<String>,
    pub created_at: DateTimeUtc,
    /// Moves while an upload streams (heartbeat), so a long upload is not
    /// mistaken for an abandoned one.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const STATE_IN_PROGRESS: &str = "in_progress";
pub const STATE_DONE: &str = "done";
