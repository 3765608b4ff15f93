//! BPOs, tenants and users.

use callvault_contracts::{BpoId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::db::entity::{bpo, catalogue_key, tenant, user};

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

/// Locks the tenant's row for the rest of the transaction and returns it:
/// changes to its retention settings and rules serialise on it, so two of
/// them can't recompute the recordings' dates from different rule sets, nor
/// together pass the rule limit.
///
/// On SQLite the lock is a write (a no-op update): a transaction that only
/// read before its first write could fail to upgrade to the writer lock
/// instead of waiting for it.
pub(crate) async fn lock_tenant<C: ConnectionTrait>(
    conn: &C,
    id: TenantId,
) -> Result<Option<tenant::Model>, DbErr> {
    if conn.get_database_backend() == DbBackend::Sqlite {
        tenant::Entity::update_many()
            .col_expr(
                tenant::Column::RequirePlaybackReason,
                Expr::col(tenant::Column::RequirePlaybackReason),
            )
            .filter(tenant::Column::Id.eq(id.0))
            .exec(conn)
            .await?;
        return get_tenant(conn, id).await;
    }
    tenant::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await
}

/// The tenant's row, share-locked on PostgreSQL until the transaction
/// ends: ingest reads the retention rules under it, so a rule change (which
/// takes [`lock_tenant`]) either commits before and is seen, or waits for
/// the ingest to commit and then recomputes its recording too.
///
/// On SQLite the caller's transaction must already have written (ingest's
/// inbox row): it then holds the database's one writer lock, which orders
/// it against every rule change just as well.
pub(crate) async fn get_tenant_for_share<C: ConnectionTrait>(
    conn: &C,
    id: TenantId,
) -> Result<Option<tenant::Model>, DbErr> {
    if conn.get_database_backend() == DbBackend::Sqlite {
        return get_tenant(conn, id).await;
    }
    tenant::Entity::find_by_id(id.0)
        .lock_shared()
        .one(conn)
        .await
}

/// The tenant-wide lifecycle settings.
/// Points the tenant at another master key (a key change).
pub(crate) async fn set_key_ref<C: ConnectionTrait>(
    conn: &C,
    id: TenantId,
    key_ref: &str,
) -> Result<(), DbErr> {
    tenant::Entity::update_many()
        .col_expr(tenant::Column::KeyRef, Expr::value(key_ref))
        .filter(tenant::Column::Id.eq(id.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// How many tenants other than `id` use `key_ref` as their master key.
pub(crate) async fn others_using_key<C: ConnectionTrait>(
    conn: &C,
    id: TenantId,
    key_ref: &str,
) -> Result<u64, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::KeyRef.eq(key_ref))
        .filter(tenant::Column::Id.ne(id.0))
        .count(conn)
        .await
}

pub(crate) async fn update_policy<C: ConnectionTrait>(
    conn: &C,
    id: TenantId,
    default_retention_days: i32,
    require_playback_reason: bool,
) -> Result<(), DbErr> {
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::DefaultRetentionDays,
            Expr::value(default_retention_days),
        )
        .col_expr(
            tenant::Column::RequirePlaybackReason,
            Expr::value(require_playback_reason),
        )
        .filter(tenant::Column::Id.eq(id.0))
        .exec(conn)
        .await?;
    Ok(())
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

/// Every tenant, a BPO's, or one, oldest first.
pub(crate) async fn tenant_directory<C: ConnectionTrait>(
    conn: &C,
    bpo: Option<BpoId>,
    id: Option<TenantId>,
) -> Result<Vec<tenant::Model>, DbErr> {
    let mut query = tenant::Entity::find();
    if let Some(bpo) = bpo {
        query = query.filter(tenant::Column::BpoId.eq(bpo.0));
    }
    if let Some(id) = id {
        query = query.filter(tenant::Column::Id.eq(id.0));
    }
    query
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

/// The tenant's wrapped catalogue data key, if one was made.
pub(crate) async fn get_catalogue_key<C: ConnectionTrait>(
    conn: &C,
    id: TenantId,
) -> Result<Option<catalogue_key::Model>, DbErr> {
    catalogue_key::Entity::find_by_id(id.0).one(conn).await
}

/// Stores a tenant's first catalogue key; false when another process
/// stored one first (the caller then uses that one).
pub(crate) async fn insert_catalogue_key<C: ConnectionTrait>(
    conn: &C,
    row: catalogue_key::Model,
) -> Result<bool, DbErr> {
    let inserted = catalogue_key::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(catalogue_key::Column::TenantId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted > 0)
}

/// Replaces the wrapped key with the same key re-wrapped, unless another
/// process replaced `previous` first (false then).
pub(crate) async fn rewrap_catalogue_key<C: ConnectionTrait>(
    conn: &C,
    previous: &catalogue_key::Model,
    master_key_ref: &str,
    wrapped_key_ref: &str,
    wrapped_key: Vec<u8>,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = catalogue_key::Entity::update_many()
        .col_expr(
            catalogue_key::Column::MasterKeyRef,
            Expr::value(master_key_ref),
        )
        .col_expr(
            catalogue_key::Column::WrappedKeyRef,
            Expr::value(wrapped_key_ref),
        )
        .col_expr(catalogue_key::Column::WrappedKey, Expr::value(wrapped_key))
        .col_expr(catalogue_key::Column::WrappedAt, Expr::value(at))
        .filter(catalogue_key::Column::TenantId.eq(previous.tenant_id))
        .filter(catalogue_key::Column::WrappedKey.eq(previous.wrapped_key.clone()))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Destroys the tenant's wrapped catalogue data key: with it goes every
/// phone number and blind index of the tenant's catalogue (sealed under
/// keys only it yields), whatever copies of the rows remain, even while
/// the tenant's master key still exists. For offboarding (crypto-shred);
/// a later use of the catalogue would make a new, unrelated key. Callers
/// should also forget the key in memory
/// ([`crate::catalogue_keys::CatalogueKeys::forget`]). True when there
/// was one.
pub(crate) async fn delete_catalogue_key<C: ConnectionTrait>(
    conn: &C,
    id: TenantId,
) -> Result<bool, DbErr> {
    let deleted = catalogue_key::Entity::delete_by_id(id.0).exec(conn).await?;
    Ok(deleted.rows_affected > 0)
}
