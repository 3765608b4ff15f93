use sea_orm::entity::prelude::*;

/// A data-subject request: the columns it is found and watched by, its
/// personal data sealed under its own data key (`sealed`, wrapped key
/// beside it), and everything else in `doc` (JSON, no personal data).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disclosure_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub kind: String,
    pub regime: String,
    pub state: String,
    pub received_at: DateTimeUtc,
    /// ISO date, local to the tenant.
    pub due_date: String,
    pub due_soon_sent: bool,
    pub overdue_sent: bool,
    pub duplicate_of: Option<Uuid>,
    pub key_ref: String,
    pub wrapped_key: Vec<u8>,
    /// Nonce, then AES-256-GCM ciphertext and tag of the sealed JSON.
    pub sealed: Vec<u8>,
    pub doc: String,
    /// Bumped by every change: an update names the version it read.
    pub version: i64,
    /// Whether metadata preserves exactly what this row says it should.
    pub preservation_synced: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub answered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
