//! Recorder API keys: only their SHA-256 is stored.

use callvault_contracts::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::db::entity::{api_key, tenant};

pub(crate) async fn insert<C: ConnectionTrait>(conn: &C, row: api_key::Model) -> Result<(), DbErr> {
    api_key::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Vec<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant.0))
        .order_by_asc(api_key::Column::CreatedAt)
        .order_by_asc(api_key::Column::Id)
        .all(conn)
        .await
}

pub(crate) async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant.0))
        .filter(api_key::Column::Id.eq(id))
        .one(conn)
        .await
}

/// Sets `revoked_at` unless already set, so the first revocation's time is
/// the one kept. Returns the key as it now is, `None` if the tenant has no
/// such key.
pub(crate) async fn revoke<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(at))
        .filter(api_key::Column::TenantId.eq(tenant.0))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    get(conn, tenant, id).await
}

/// The key with this secret hash and its tenant's key reference.
pub(crate) async fn find_by_secret_hash<C: ConnectionTrait>(
    conn: &C,
    secret_sha256: &str,
) -> Result<Option<(api_key::Model, tenant::Model)>, DbErr> {
    let Some(key) = api_key::Entity::find()
        .filter(api_key::Column::SecretSha256.eq(secret_sha256))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let tenant = tenant::Entity::find_by_id(key.tenant_id).one(conn).await?;
    Ok(tenant.map(|tenant| (key, tenant)))
}
