use sea_orm::entity::prelude::*;

/// One deletion run (or user deletion). Its deleted recordings are the
/// tombstones carrying its id; the lists here are JSON arrays of ids.
/// Once finished it is signed (`body`, `signature`: `crate::certificate`),
/// and the signed body never changes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deletion_certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    pub held_back: String,
    pub failed: String,
    /// False from the run's start until its outcome is written; rows from
    /// before signing existed are finished.
    pub finished: bool,
    /// The signed canonical JSON; `None` until signed.
    pub body: Option<String>,
    /// Base64 Ed25519 signature over `body`.
    pub signature: Option<String>,
    /// JSON array of `{recording_id, request_id}`: due recordings an open
    /// data-subject request preserved.
    pub held_by_request: String,
    /// The erasure request the certificate's deletions were made for.
    pub request_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
