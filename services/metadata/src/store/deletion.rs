//! Deleting recordings: the deletion claim, the purge, tombstones and
//! deletion certificates.

use std::collections::HashMap;

use callvault_contracts::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::db::entity::{
    deletion_certificate, recording, recording_tombstone, retention_rule, tenant,
};

/// Not in the recording entity: only deletion reads or writes it.
fn deleting_since() -> Alias {
    Alias::new("deleting_since")
}

/// Unclaimed, or claimed before `stale_before` by a worker that never
/// finished.
fn claimable(stale_before: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Expr::col(deleting_since()).is_null())
        .add(Expr::col(deleting_since()).lt(stale_before))
}

/// Claims the recording for deletion at `now`; false when there is no such
/// recording or another deletion holds a fresh claim on it.
pub(crate) async fn claim<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = recording::Entity::update_many()
        .col_expr(deleting_since(), Expr::value(now))
        .filter(recording::Column::TenantId.eq(tenant.0))
        .filter(recording::Column::Id.eq(id))
        .filter(claimable(stale_before))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes the catalogue row (its tags go with it, by cascade) if the claim
/// taken at `claimed_at` is still ours; returns whether it did.
pub(crate) async fn purge<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
    claimed_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = recording::Entity::delete_many()
        .filter(recording::Column::TenantId.eq(tenant.0))
        .filter(recording::Column::Id.eq(id))
        .filter(Expr::col(deleting_since()).eq(claimed_at))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// One batch of the tenant's recordings due at `now` and not being deleted
/// by someone else, in (retain_until, id) order after `after`.
pub(crate) async fn due<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<recording::Model>, DbErr> {
    use recording::Column;
    let mut filter = Condition::all()
        .add(Column::TenantId.eq(tenant.0))
        .add(Column::RetainUntil.lte(now))
        .add(claimable(stale_before));
    if let Some((retain_until, id)) = after {
        filter = filter.add(
            Condition::any()
                .add(Column::RetainUntil.gt(retain_until))
                .add(
                    Condition::all()
                        .add(Column::RetainUntil.eq(retain_until))
                        .add(Column::Id.gt(id)),
                ),
        );
    }
    recording::Entity::find()
        .filter(filter)
        .order_by_asc(Column::RetainUntil)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// The tenants with at least one recording due at `now`, one indexed
/// probe per tenant rather than a scan of every tenant's recordings.
pub(crate) async fn tenants_with_due<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbErr> {
    let due = Query::select()
        .expr(Expr::val(1))
        .from(recording::Entity)
        .and_where(
            Expr::col((recording::Entity, recording::Column::TenantId))
                .equals((tenant::Entity, tenant::Column::Id)),
        )
        .and_where(Expr::col((recording::Entity, recording::Column::RetainUntil)).lte(now))
        .cond_where(claimable(stale_before))
        .to_owned();
    tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .filter(Expr::exists(due))
        .order_by_asc(tenant::Column::Id)
        .into_tuple::<Uuid>()
        .all(conn)
        .await
}

/// A retention rule's name, for the tombstones of the recordings it set.
pub(crate) async fn rule_name<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    rule: Uuid,
) -> Result<Option<String>, DbErr> {
    retention_rule::Entity::find()
        .select_only()
        .column(retention_rule::Column::Name)
        .filter(retention_rule::Column::TenantId.eq(tenant.0))
        .filter(retention_rule::Column::Id.eq(rule))
        .into_tuple::<String>()
        .one(conn)
        .await
}

pub(crate) async fn insert_tombstone<C: ConnectionTrait>(
    conn: &C,
    row: recording_tombstone::Model,
) -> Result<(), DbErr> {
    recording_tombstone::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub(crate) async fn insert_certificate<C: ConnectionTrait>(
    conn: &C,
    row: deletion_certificate::Model,
) -> Result<(), DbErr> {
    deletion_certificate::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Writes a certificate's outcome into the row inserted when its run
/// started, and marks it finished (signable).
pub(crate) async fn finish_certificate<C: ConnectionTrait>(
    conn: &C,
    row: deletion_certificate::Model,
) -> Result<(), DbErr> {
    use deletion_certificate::Column;
    deletion_certificate::Entity::update_many()
        .col_expr(Column::FinishedAt, Expr::value(row.finished_at))
        .col_expr(Column::HeldBack, Expr::value(row.held_back))
        .col_expr(Column::Failed, Expr::value(row.failed))
        .col_expr(Column::HeldByRequest, Expr::value(row.held_by_request))
        .col_expr(Column::Finished, Expr::value(true))
        .filter(Column::TenantId.eq(row.tenant_id))
        .filter(Column::Id.eq(row.id))
        // A signed certificate is final.
        .filter(Column::Body.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Removes a certificate no tombstone names (its run deleted nothing and
/// is not to be certified).
pub(crate) async fn delete_certificate<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<(), DbErr> {
    deletion_certificate::Entity::delete_many()
        .filter(deletion_certificate::Column::TenantId.eq(tenant.0))
        .filter(deletion_certificate::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Every certificate of the tenant, newest first.
pub(crate) async fn certificates<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Vec<deletion_certificate::Model>, DbErr> {
    deletion_certificate::Entity::find()
        .filter(deletion_certificate::Column::TenantId.eq(tenant.0))
        .order_by_desc(deletion_certificate::Column::StartedAt)
        .order_by_desc(deletion_certificate::Column::Id)
        .all(conn)
        .await
}

/// The tombstones these certificates created, per certificate, in
/// (deleted_at, recording id) order.
pub(crate) async fn tombstones_of<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    certificates: &[Uuid],
) -> Result<HashMap<Uuid, Vec<recording_tombstone::Model>>, DbErr> {
    use recording_tombstone::Column;
    let mut by_certificate: HashMap<Uuid, Vec<recording_tombstone::Model>> = HashMap::new();
    if certificates.is_empty() {
        return Ok(by_certificate);
    }
    let rows = recording_tombstone::Entity::find()
        .filter(Column::TenantId.eq(tenant.0))
        .filter(Column::CertificateId.is_in(certificates.iter().copied()))
        .order_by_asc(Column::DeletedAt)
        .order_by_asc(Column::RecordingId)
        .all(conn)
        .await?;
    for row in rows {
        by_certificate
            .entry(row.certificate_id)
            .or_default()
            .push(row);
    }
    Ok(by_certificate)
}
