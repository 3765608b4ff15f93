//! The `tus_uploads` rows: created, moved forward by committed parts,
//! marked done with the receipt, swept when expired.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Set, sea_query::Expr,
};
use uuid::Uuid;

use super::entity::{self, Entity, Model};

pub(crate) async fn insert<C: ConnectionTrait>(conn: &C, row: Model) -> Result<(), DbErr> {
    entity::ActiveModel {
        id: Set(row.id),
        tenant_id: Set(row.tenant_id),
        content_type: Set(row.content_type),
        upload_length: Set(row.upload_length),
        upload_offset: Set(row.upload_offset),
        sealed_call: Set(row.sealed_call),
        wrapped_key: Set(row.wrapped_key),
        receipt: Set(row.receipt),
        created_at: Set(row.created_at),
        expires_at: Set(row.expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The tenant's upload, if it is theirs: another tenant's id is not found.
pub(crate) async fn find<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id)
        .filter(entity::Column::TenantId.eq(tenant))
        .one(conn)
        .await
}

/// Moves the offset from `from` to `to`; false if it was not at `from`.
pub(crate) async fn advance<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    from: u64,
    to: u64,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = Entity::update_many()
        .col_expr(entity::Column::UploadOffset, Expr::value(signed(to)))
        .col_expr(entity::Column::ExpiresAt, Expr::value(expires_at))
        .filter(entity::Column::Id.eq(id))
        .filter(entity::Column::UploadOffset.eq(signed(from)))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Stored: every byte counts as received, and the receipt is kept.
pub(crate) async fn finish<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    receipt: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(entity::Column::Receipt, Expr::value(receipt))
        .col_expr(
            entity::Column::UploadOffset,
            Expr::col(entity::Column::UploadLength),
        )
        .filter(entity::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

pub(crate) async fn delete<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<(), DbErr> {
    Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// Ids of uploads that expired before `now`, at most `limit`.
pub(crate) async fn expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Uuid>, DbErr> {
    Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .filter(entity::Column::ExpiresAt.lt(now))
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await
}

/// Every upload id, for telling the staging directory's orphans.
pub(crate) async fn all_ids<C: ConnectionTrait>(conn: &C) -> Result<Vec<Uuid>, DbErr> {
    Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .into_tuple()
        .all(conn)
        .await
}

/// Offsets and lengths are at most the upload limit, far below 2^63.
pub(crate) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
