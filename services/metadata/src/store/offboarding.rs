//! Tenant offboarding: the exports' records, the offboarding row (the
//! tenant's freeze and state machine) and the purge of what the tenant
//! leaves behind.

use callvault_contracts::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::db::entity::{legal_hold, recording, tenant_export, tenant_offboarding};

/// `tenant_offboardings.state` while the shred runs (or was interrupted).
pub(crate) const STATE_OFFBOARDING: &str = "offboarding";
/// `tenant_offboardings.state` once the certificate is signed.
pub(crate) const STATE_OFFBOARDED: &str = "offboarded";

pub(crate) async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Option<tenant_offboarding::Model>, DbErr> {
    tenant_offboarding::Entity::find_by_id(tenant.0)
        .one(conn)
        .await
}

/// Whether the tenant is frozen: its offboarding started (or finished).
pub(crate) async fn is_frozen<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<bool, DbErr> {
    Ok(tenant_offboarding::Entity::find_by_id(tenant.0)
        .select_only()
        .column(tenant_offboarding::Column::TenantId)
        .into_tuple::<Uuid>()
        .one(conn)
        .await?
        .is_some())
}

/// The tenants whose offboarding started and never finished.
pub(crate) async fn interrupted<C: ConnectionTrait>(conn: &C) -> Result<Vec<Uuid>, DbErr> {
    tenant_offboarding::Entity::find()
        .select_only()
        .column(tenant_offboarding::Column::TenantId)
        .filter(tenant_offboarding::Column::State.eq(STATE_OFFBOARDING))
        .order_by_asc(tenant_offboarding::Column::StartedAt)
        .into_tuple::<Uuid>()
        .all(conn)
        .await
}

/// Freezes the tenant: fails with a unique violation when it already is.
pub(crate) async fn start<C: ConnectionTrait>(
    conn: &C,
    row: tenant_offboarding::Model,
) -> Result<(), DbErr> {
    tenant_offboarding::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// What the finished offboarding certifies.
pub(crate) struct Finished {
    pub key_destroyed: bool,
    pub recordings_shredded: i64,
    pub finished_at: DateTime<Utc>,
    pub body: String,
    pub signature: String,
}

/// Moves the offboarding to `offboarded` with its certificate; false when
/// it was not `offboarding` any more (a concurrent resume finished first).
pub(crate) async fn finish<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    finished: Finished,
) -> Result<bool, DbErr> {
    use tenant_offboarding::Column;
    let result = tenant_offboarding::Entity::update_many()
        .col_expr(Column::State, Expr::value(STATE_OFFBOARDED))
        .col_expr(Column::KeyDestroyed, Expr::value(finished.key_destroyed))
        .col_expr(
            Column::RecordingsShredded,
            Expr::value(finished.recordings_shredded),
        )
        .col_expr(Column::FinishedAt, Expr::value(finished.finished_at))
        .col_expr(Column::Body, Expr::value(finished.body))
        .col_expr(Column::Signature, Expr::value(finished.signature))
        .filter(Column::TenantId.eq(tenant.0))
        .filter(Column::State.eq(STATE_OFFBOARDING))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

pub(crate) async fn insert_export<C: ConnectionTrait>(
    conn: &C,
    row: tenant_export::Model,
) -> Result<(), DbErr> {
    tenant_export::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The tenant's most recent export.
pub(crate) async fn latest_export<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Option<tenant_export::Model>, DbErr> {
    tenant_export::Entity::find()
        .filter(tenant_export::Column::TenantId.eq(tenant.0))
        .order_by_desc(tenant_export::Column::CreatedAt)
        .order_by_desc(tenant_export::Column::AuditSeq)
        .one(conn)
        .await
}

/// How many legal holds of the tenant are active.
pub(crate) async fn active_holds<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    legal_hold::Entity::find()
        .filter(legal_hold::Column::TenantId.eq(tenant.0))
        .filter(legal_hold::Column::ReleasedAt.is_null())
        .count(conn)
        .await
}

/// One page of the tenant's catalogued recordings, in id order after
/// `after`.
pub(crate) async fn recordings<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<recording::Model>, DbErr> {
    let mut query = recording::Entity::find().filter(recording::Column::TenantId.eq(tenant.0));
    if let Some(after) = after {
        query = query.filter(recording::Column::Id.gt(after));
    }
    query
        .order_by_asc(recording::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Deletes the catalogue row (its tags go with it, by cascade), whatever
/// deletion claim it carries: an offboarding outranks them all. Returns
/// whether it did.
pub(crate) async fn purge_recording<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = recording::Entity::delete_many()
        .filter(recording::Column::TenantId.eq(tenant.0))
        .filter(recording::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes the personal fields that outlive the catalogue: the phone
/// number a legal hold's filter named (ciphertext and blind index). The
/// recordings' own numbers go with their rows.
pub(crate) async fn remove_personal_fields<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<u64, DbErr> {
    use legal_hold::Column;
    let result = legal_hold::Entity::update_many()
        .col_expr(Column::FilterPhoneCiphertext, Expr::value(None::<Vec<u8>>))
        .col_expr(Column::FilterPhoneIndex, Expr::value(None::<Vec<u8>>))
        .filter(Column::TenantId.eq(tenant.0))
        .filter(
            sea_orm::Condition::any()
                .add(Column::FilterPhoneCiphertext.is_not_null())
                .add(Column::FilterPhoneIndex.is_not_null()),
        )
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}
