//! What data-subject requests keep in the catalogue: the recordings an open
//! request preserves, the recordings a request restricts, the subject's
//! recordings found by blind index, and the tombstones an erasure left.

use std::collections::{HashMap, HashSet};

use callvault_contracts::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::db::entity::{
    deletion_certificate, recording, recording_restriction, recording_tombstone,
    request_preservation,
};

/// Ids per `IN (…)` list: well under both backends' bound-parameter limits.
const CHUNK: usize = 500;

/// The requests preserving this recording, in id order.
pub(crate) async fn preserving<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    recording: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    use request_preservation::Column;
    request_preservation::Entity::find()
        .select_only()
        .column(Column::RequestId)
        .filter(Column::TenantId.eq(tenant.0))
        .filter(Column::RecordingId.eq(recording))
        .order_by_asc(Column::RequestId)
        .into_tuple::<Uuid>()
        .all(conn)
        .await
}

/// Makes `ids` exactly what `request` preserves. Run it in a transaction.
pub(crate) async fn replace_preservations<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    request: Uuid,
    ids: &[Uuid],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    use request_preservation::Column;
    request_preservation::Entity::delete_many()
        .filter(Column::TenantId.eq(tenant.0))
        .filter(Column::RequestId.eq(request))
        .exec(conn)
        .await?;
    for chunk in ids.chunks(CHUNK) {
        let rows = chunk.iter().map(|&recording_id| {
            request_preservation::Model {
                tenant_id: tenant.0,
                request_id: request,
                recording_id,
                preserved_at: at,
            }
            .into_active_model()
        });
        request_preservation::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Which of `ids` some request restricts.
pub(crate) async fn restricted_among<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    ids: &[Uuid],
) -> Result<HashSet<Uuid>, DbErr> {
    use recording_restriction::Column;
    let mut restricted = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = recording_restriction::Entity::find()
            .select_only()
            .column(Column::RecordingId)
            .distinct()
            .filter(Column::TenantId.eq(tenant.0))
            .filter(Column::RecordingId.is_in(chunk.iter().copied()))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?;
        restricted.extend(rows);
    }
    Ok(restricted)
}

/// Restricts the recording for the request unless it already is; returns
/// whether it did.
pub(crate) async fn insert_restriction<C: ConnectionTrait>(
    conn: &C,
    row: recording_restriction::Model,
) -> Result<bool, DbErr> {
    let inserted = recording_restriction::Entity::insert(row.into_active_model())
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

/// Lifts the request's restriction of `ids` (of every recording it
/// restricts when `ids` is `None`); returns the recordings it lifted, in id
/// order.
pub(crate) async fn lift_restrictions<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    request: Uuid,
    ids: Option<&[Uuid]>,
) -> Result<Vec<Uuid>, DbErr> {
    use recording_restriction::Column;
    let mut filter = Condition::all()
        .add(Column::TenantId.eq(tenant.0))
        .add(Column::RequestId.eq(request));
    if let Some(ids) = ids {
        filter = filter.add(Column::RecordingId.is_in(ids.iter().copied()));
    }
    let lifted = recording_restriction::Entity::find()
        .select_only()
        .column(Column::RecordingId)
        .filter(filter.clone())
        .order_by_asc(Column::RecordingId)
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    recording_restriction::Entity::delete_many()
        .filter(filter)
        .exec(conn)
        .await?;
    Ok(lifted)
}

/// Removes what requests said of a recording that is being purged.
pub(crate) async fn forget_recording<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    recording: Uuid,
) -> Result<(), DbErr> {
    request_preservation::Entity::delete_many()
        .filter(request_preservation::Column::TenantId.eq(tenant.0))
        .filter(request_preservation::Column::RecordingId.eq(recording))
        .exec(conn)
        .await?;
    recording_restriction::Entity::delete_many()
        .filter(recording_restriction::Column::TenantId.eq(tenant.0))
        .filter(recording_restriction::Column::RecordingId.eq(recording))
        .exec(conn)
        .await?;
    Ok(())
}

/// Removes every preservation and restriction of an offboarded tenant (the
/// restrictions name people and carry free text).
pub(crate) async fn forget_tenant<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<(), DbErr> {
    request_preservation::Entity::delete_many()
        .filter(request_preservation::Column::TenantId.eq(tenant.0))
        .exec(conn)
        .await?;
    recording_restriction::Entity::delete_many()
        .filter(recording_restriction::Column::TenantId.eq(tenant.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// The tenant's recordings whose caller or callee has one of `indexes`,
/// started in `[from, to)`, oldest first, at most `limit`.
pub(crate) async fn by_indexes<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    indexes: &[Vec<u8>],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: u64,
) -> Result<Vec<recording::Model>, DbErr> {
    use recording::Column;
    let mut filter = Condition::all().add(Column::TenantId.eq(tenant.0)).add(
        Condition::any()
            .add(Column::CallerIndex.is_in(indexes.iter().cloned()))
            .add(Column::CalleeIndex.is_in(indexes.iter().cloned())),
    );
    if let Some(from) = from {
        filter = filter.add(Column::StartedAt.gte(from));
    }
    if let Some(to) = to {
        filter = filter.add(Column::StartedAt.lt(to));
    }
    recording::Entity::find()
        .filter(filter)
        .order_by_asc(Column::StartedAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// The tenant's catalogue rows of `ids`, by id.
pub(crate) async fn rows<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, recording::Model>, DbErr> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = recording::Entity::find()
            .filter(recording::Column::TenantId.eq(tenant.0))
            .filter(recording::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        found.extend(rows.into_iter().map(|row| (row.id, row)));
    }
    Ok(found)
}

/// The tenant's tombstones of `ids`, by recording id.
pub(crate) async fn tombstones<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, recording_tombstone::Model>, DbErr> {
    use recording_tombstone::Column;
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = recording_tombstone::Entity::find()
            .filter(Column::TenantId.eq(tenant.0))
            .filter(Column::RecordingId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        found.extend(rows.into_iter().map(|row| (row.recording_id, row)));
    }
    Ok(found)
}

/// The newest certificate naming the erasure request that certifies a
/// deletion (a tombstone names it), if any.
pub(crate) async fn latest_certificate_of_request<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    request: Uuid,
) -> Result<Option<Uuid>, DbErr> {
    use deletion_certificate::Column;
    let certifies = Query::select()
        .expr(Expr::val(1))
        .from(recording_tombstone::Entity)
        .and_where(
            Expr::col((
                recording_tombstone::Entity,
                recording_tombstone::Column::TenantId,
            ))
            .equals((deletion_certificate::Entity, Column::TenantId)),
        )
        .and_where(
            Expr::col((
                recording_tombstone::Entity,
                recording_tombstone::Column::CertificateId,
            ))
            .equals((deletion_certificate::Entity, Column::Id)),
        )
        .to_owned();
    deletion_certificate::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::TenantId.eq(tenant.0))
        .filter(Column::RequestId.eq(request))
        .filter(Column::Finished.eq(true))
        .filter(Expr::exists(certifies))
        .order_by_desc(Column::StartedAt)
        .order_by_desc(Column::Id)
        .into_tuple::<Uuid>()
        .one(conn)
        .await
}
