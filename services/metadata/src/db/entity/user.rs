use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `platform`, `bpo:<id>` or `tenant:<id>`: the subject is unique within
    /// it. A column of its own because a unique index over nullable
    /// `tenant_id`/`bpo_id` would let NULLs repeat on both backends.
    pub scope: String,
    pub subject: String,
    pub role: String,
    pub tenant_id: Option<Uuid>,
    pub bpo_id: Option<Uuid>,
    pub agent_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
