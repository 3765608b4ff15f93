//! The audit tables: the head row appenders serialise on, and the entries.

use callvault_contracts::TenantId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::chain::GENESIS_HASH;
use crate::db::entity::{audit_entry, audit_head};

/// Creates the tenant's head (seq 0, the genesis hash) unless it exists.
pub(super) async fn ensure_head<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<(), DbErr> {
    let head = audit_head::Model {
        tenant_id: tenant.0,
        seq: 0,
        hash: GENESIS_HASH.to_owned(),
    };
    audit_head::Entity::insert(head.into_active_model())
        .on_conflict_do_nothing_on([audit_head::Column::TenantId])
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// A no-op write of the head: on PostgreSQL it takes the row lock, so
/// concurrent appenders of the tenant queue here until the holder commits
/// (and then read the head it left). On SQLite the transaction's write
/// lock already serialises them.
pub(super) async fn lock_head<C: ConnectionTrait>(conn: &C, tenant: TenantId) -> Result<(), DbErr> {
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Seq, Expr::col(audit_head::Column::Seq))
        .filter(audit_head::Column::TenantId.eq(tenant.0))
        .exec(conn)
        .await?;
    Ok(())
}

pub(super) async fn head<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Option<audit_head::Model>, DbErr> {
    audit_head::Entity::find_by_id(tenant.0).one(conn).await
}

/// Moves the head from `from` to `to` if nobody moved it since it was
/// read; `false` when somebody did.
pub(super) async fn advance_head<C: ConnectionTrait>(
    conn: &C,
    from: &audit_head::Model,
    to_seq: i64,
    to_hash: &str,
) -> Result<bool, DbErr> {
    let result = audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Seq, Expr::value(to_seq))
        .col_expr(audit_head::Column::Hash, Expr::value(to_hash))
        .filter(audit_head::Column::TenantId.eq(from.tenant_id))
        .filter(audit_head::Column::Seq.eq(from.seq))
        .filter(audit_head::Column::Hash.eq(from.hash.as_str()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

pub(super) async fn insert_entry<C: ConnectionTrait>(
    conn: &C,
    row: audit_entry::Model,
) -> Result<(), DbErr> {
    audit_entry::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Up to `limit` entries after `after_seq`, oldest first.
pub(super) async fn entries_after<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    after_seq: i64,
    limit: u64,
) -> Result<Vec<audit_entry::Model>, DbErr> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::TenantId.eq(tenant.0))
        .filter(audit_entry::Column::Seq.gt(after_seq))
        .order_by_asc(audit_entry::Column::Seq)
        .limit(limit)
        .all(conn)
        .await
}
