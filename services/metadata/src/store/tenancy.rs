//! BPOs, tenants and users.

use callvault_contracts::{BpoId, TenantId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};

use crate::db::entity::{bpo, tenant, user};

pub(crate) async fn insert_bpo<C: ConnectionTrait>(conn: &C, row: bpo::Model) -> Result<(), DbErr> {
    bpo::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub(crate) async fn list_bpos<C: ConnectionTrait>(conn: &C) -> Result<Vec<bpo::Model>, DbErr> {
    bpo::Entity::find()
        .order_by_asc(bpo::Column::CreatedAt)
        .order_by_asc(bpo::Column::Id)
        .all(conn)
        .await
}

pub(crate) async fn bpo_exists<C: ConnectionTrait>(conn: &C, id: BpoId) -> Result<bool, DbErr> {
    Ok(bpo::Entity::find_by_id(id.0).one(conn).await?.is_some())
}

pub(crate) async fn insert_tenant<C: ConnectionTrait>(
    conn: &C,
    row: tenant::Model,
) -> Result<(), DbErr> {
    tenant::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub(crate) async fn get_tenant<C: ConnectionTrait>(
    conn: &C,
    id: TenantId,
) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find_by_id(id.0).one(conn).await
}

pub(crate) async fn list_tenants<C: ConnectionTrait>(
    conn: &C,
    bpo: BpoId,
) -> Result<Vec<tenant::Model>, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::BpoId.eq(bpo.0))
        .order_by_asc(tenant::Column::CreatedAt)
        .order_by_asc(tenant::Column::Id)
        .all(conn)
        .await
}

/// Fails with a unique violation when the subject exists in the scope.
pub(crate) async fn insert_user<C: ConnectionTrait>(
    conn: &C,
    row: user::Model,
) -> Result<(), DbErr> {
    user::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub(crate) async fn list_users<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Vec<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant.0))
        .order_by_asc(user::Column::CreatedAt)
        .order_by_asc(user::Column::Id)
        .all(conn)
        .await
}
