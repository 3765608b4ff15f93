//! The recording policy's rows: the policy, the do-not-record list and the
//! calls kept as metadata only.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::db::entity::{do_not_record_number, not_recorded_call, recording_policy};

pub(crate) async fn policy<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
) -> Result<Option<recording_policy::Model>, DbErr> {
    recording_policy::Entity::find_by_id(tenant).one(conn).await
}

pub(crate) async fn save_policy<C: ConnectionTrait>(
    conn: &C,
    row: recording_policy::Model,
) -> Result<(), DbErr> {
    let active = recording_policy::ActiveModel {
        tenant_id: Set(row.tenant_id),
        policy: Set(row.policy),
        version: Set(row.version),
        updated_at: Set(row.updated_at),
    };
    recording_policy::Entity::insert(active)
        .on_conflict(
            OnConflict::column(recording_policy::Column::TenantId)
                .update_columns([
                    recording_policy::Column::Policy,
                    recording_policy::Column::Version,
                    recording_policy::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Whether ingestion must ask before storing the tenant's uploads.
pub(crate) async fn has_policy<C: ConnectionTrait>(conn: &C, tenant: Uuid) -> Result<bool, DbErr> {
    if policy(conn, tenant).await?.is_some() {
        return Ok(true);
    }
    let listed = do_not_record_number::Entity::find()
        .filter(do_not_record_number::Column::TenantId.eq(tenant))
        .limit(1)
        .one(conn)
        .await?;
    Ok(listed.is_some())
}

/// Adds the numbers not listed yet; how many were new.
pub(crate) async fn add_numbers<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<do_not_record_number::Model>,
) -> Result<u64, DbErr> {
    let mut added = 0;
    for row in rows {
        let active = do_not_record_number::ActiveModel {
            tenant_id: Set(row.tenant_id),
            number_index: Set(row.number_index),
            number_ciphertext: Set(row.number_ciphertext),
            added_at: Set(row.added_at),
        };
        let inserted = do_not_record_number::Entity::insert(active)
            .on_conflict(
                OnConflict::columns([
                    do_not_record_number::Column::TenantId,
                    do_not_record_number::Column::NumberIndex,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
        added += inserted;
    }
    Ok(added)
}

pub(crate) async fn remove_numbers<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    indexes: Vec<Vec<u8>>,
) -> Result<u64, DbErr> {
    let removed = do_not_record_number::Entity::delete_many()
        .filter(do_not_record_number::Column::TenantId.eq(tenant))
        .filter(do_not_record_number::Column::NumberIndex.is_in(indexes))
        .exec(conn)
        .await?;
    Ok(removed.rows_affected)
}

/// Whether any of `indexes` is on the tenant's list.
pub(crate) async fn any_listed<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    indexes: Vec<Vec<u8>>,
) -> Result<bool, DbErr> {
    if indexes.is_empty() {
        return Ok(false);
    }
    let found = do_not_record_number::Entity::find()
        .filter(do_not_record_number::Column::TenantId.eq(tenant))
        .filter(do_not_record_number::Column::NumberIndex.is_in(indexes))
        .limit(1)
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// A page of the list in index order (which says nothing of the numbers),
/// after the index `after`.
pub(crate) async fn numbers_page<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    after: Option<Vec<u8>>,
    limit: u64,
) -> Result<Vec<do_not_record_number::Model>, DbErr> {
    let mut query = do_not_record_number::Entity::find()
        .filter(do_not_record_number::Column::TenantId.eq(tenant));
    if let Some(after) = after {
        query = query.filter(do_not_record_number::Column::NumberIndex.gt(after));
    }
    query
        .order_by_asc(do_not_record_number::Column::NumberIndex)
        .limit(limit)
        .all(conn)
        .await
}

pub(crate) async fn count_numbers<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
) -> Result<u64, DbErr> {
    do_not_record_number::Entity::find()
        .filter(do_not_record_number::Column::TenantId.eq(tenant))
        .count(conn)
        .await
}

/// Keeps a not-recorded call once: a retry of its upload finds it there.
pub(crate) async fn keep_not_recorded<C: ConnectionTrait>(
    conn: &C,
    row: not_recorded_call::Model,
) -> Result<(), DbErr> {
    let active = not_recorded_call::ActiveModel {
        tenant_id: Set(row.tenant_id),
        external_call_id: Set(row.external_call_id),
        segment: Set(row.segment),
        recording_id: Set(row.recording_id),
        reason: Set(row.reason),
        policy_version: Set(row.policy_version),
        agent: Set(row.agent),
        call: Set(row.call),
        decided_at: Set(row.decided_at),
    };
    not_recorded_call::Entity::insert(active)
        .on_conflict(
            OnConflict::columns([
                not_recorded_call::Column::TenantId,
                not_recorded_call::Column::ExternalCallId,
                not_recorded_call::Column::Segment,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// A page of not-recorded calls by (external call id, segment), after that
/// key.
pub(crate) async fn not_recorded_page<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    after: Option<(String, i64)>,
    limit: u64,
) -> Result<Vec<not_recorded_call::Model>, DbErr> {
    use sea_orm::Condition;
    let mut query =
        not_recorded_call::Entity::find().filter(not_recorded_call::Column::TenantId.eq(tenant));
    if let Some((call, segment)) = after {
        let later = Condition::any()
            .add(not_recorded_call::Column::ExternalCallId.gt(call.clone()))
            .add(
                Condition::all()
                    .add(not_recorded_call::Column::ExternalCallId.eq(call))
                    .add(not_recorded_call::Column::Segment.gt(segment)),
            );
        query = query.filter(later);
    }
    query
        .order_by_asc(not_recorded_call::Column::ExternalCallId)
        .order_by_asc(not_recorded_call::Column::Segment)
        .limit(limit)
        .all(conn)
        .await
}

/// Everything of the tenant's policy, for offboarding.
pub(crate) async fn delete_tenant<C: ConnectionTrait>(conn: &C, tenant: Uuid) -> Result<(), DbErr> {
    not_recorded_call::Entity::delete_many()
        .filter(not_recorded_call::Column::TenantId.eq(tenant))
        .exec(conn)
        .await?;
    do_not_record_number::Entity::delete_many()
        .filter(do_not_record_number::Column::TenantId.eq(tenant))
        .exec(conn)
        .await?;
    recording_policy::Entity::delete_many()
        .filter(recording_policy::Column::TenantId.eq(tenant))
        .exec(conn)
        .await?;
    Ok(())
}
