use sea_orm::entity::prelude::*;

/// A tenant's offboarding: present means frozen. `state` is `offboarding`
/// (started: the tenant refuses everything but the offboarding itself,
/// and a new call resumes it) or `offboarded` (done: `body` and
/// `signature` are the signed certificate).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_offboardings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The certificate's id.
    pub id: Uuid,
    pub state: String,
    pub requested_by: String,
    pub started_at: DateTimeUtc,
    pub export_sha256: String,
    /// The tenant's master key when the offboarding started.
    pub key_ref: String,
    pub key_destroyed: Option<bool>,
    pub recordings_shredded: Option<i64>,
    pub finished_at: Option<DateTimeUtc>,
    /// Canonical JSON, signed.
    pub body: Option<String>,
    /// Base64 Ed25519 over `body`.
    pub signature: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
