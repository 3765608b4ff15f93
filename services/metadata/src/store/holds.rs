//! Legal holds and the recordings explicit holds list.

use std::collections::HashMap;

use callvault_contracts::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationDef,
};
use uuid::Uuid;

use crate::db::entity::{legal_hold, legal_hold_recording, recording};

/// Inserts a hold and the recordings it lists. Run it in a transaction.
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    row: legal_hold::Model,
    recordings: &[Uuid],
) -> Result<(), DbErr> {
    let (tenant_id, hold_id) = (row.tenant_id, row.id);
    legal_hold::Entity::insert(row.into_active_model())
        .exec_without_returning(conn)
        .await?;
    if recordings.is_empty() {
        return Ok(());
    }
    let rows = recordings.iter().map(|&recording_id| {
        legal_hold_recording::Model {
            tenant_id,
            hold_id,
            recording_id,
        }
        .into_active_model()
    });
    legal_hold_recording::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub(crate) async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<legal_hold::Model>, DbErr> {
    legal_hold::Entity::find()
        .filter(legal_hold::Column::TenantId.eq(tenant.0))
        .filter(legal_hold::Column::Id.eq(id))
        .one(conn)
        .await
}

/// Every hold of the tenant, newest first.
pub(crate) async fn list<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Vec<legal_hold::Model>, DbErr> {
    legal_hold::Entity::find()
        .filter(legal_hold::Column::TenantId.eq(tenant.0))
        .order_by_desc(legal_hold::Column::PlacedAt)
        .order_by_desc(legal_hold::Column::Id)
        .all(conn)
        .await
}

/// The recordings each of these holds lists, in id order.
pub(crate) async fn recordings_of<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    holds: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, DbErr> {
    let mut by_hold: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if holds.is_empty() {
        return Ok(by_hold);
    }
    let rows = legal_hold_recording::Entity::find()
        .filter(legal_hold_recording::Column::TenantId.eq(tenant.0))
        .filter(legal_hold_recording::Column::HoldId.is_in(holds.iter().copied()))
        .order_by_asc(legal_hold_recording::Column::HoldId)
        .order_by_asc(legal_hold_recording::Column::RecordingId)
        .all(conn)
        .await?;
    for row in rows {
        by_hold
            .entry(row.hold_id)
            .or_default()
            .push(row.recording_id);
    }
    Ok(by_hold)
}

/// Releases the hold unless it already is; returns whether it did.
pub(crate) async fn release<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
    by: &str,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<bool, DbErr> {
    use legal_hold::Column;
    let result = legal_hold::Entity::update_many()
        .col_expr(Column::ReleasedBy, Expr::value(by))
        .col_expr(Column::ReleasedAt, Expr::value(at))
        .col_expr(Column::ReleaseReason, Expr::value(reason))
        .filter(Column::TenantId.eq(tenant.0))
        .filter(Column::Id.eq(id))
        .filter(Column::ReleasedAt.is_null())
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Active explicit holds listing this recording.
pub(crate) async fn active_listing<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    recording: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    legal_hold::Entity::find()
        .select_only()
        .column(legal_hold::Column::Id)
        .join(JoinType::InnerJoin, listed_recordings())
        .filter(legal_hold::Column::TenantId.eq(tenant.0))
        .filter(legal_hold::Column::ReleasedAt.is_null())
        .filter(legal_hold_recording::Column::RecordingId.eq(recording))
        .order_by_asc(legal_hold::Column::Id)
        .into_tuple::<Uuid>()
        .all(conn)
        .await
}

/// [`active_listing`] for many recordings at once: by recording, each
/// list in hold id order.
pub(crate) async fn active_listing_many<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    recordings: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Uuid>>, DbErr> {
    let mut by_recording: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for chunk in recordings.chunks(500) {
        let rows = legal_hold::Entity::find()
            .select_only()
            .column(legal_hold_recording::Column::RecordingId)
            .column(legal_hold::Column::Id)
            .join(JoinType::InnerJoin, listed_recordings())
            .filter(legal_hold::Column::TenantId.eq(tenant.0))
            .filter(legal_hold::Column::ReleasedAt.is_null())
            .filter(legal_hold_recording::Column::RecordingId.is_in(chunk.iter().copied()))
            .order_by_asc(legal_hold::Column::Id)
            .into_tuple::<(Uuid, Uuid)>()
            .all(conn)
            .await?;
        for (recording, hold) in rows {
            by_recording.entry(recording).or_default().push(hold);
        }
    }
    Ok(by_recording)
}

/// `legal_holds` → `legal_hold_recordings` on (tenant, hold).
fn listed_recordings() -> RelationDef {
    legal_hold::Entity::belongs_to(legal_hold_recording::Entity)
        .from((legal_hold::Column::TenantId, legal_hold::Column::Id))
        .to((
            legal_hold_recording::Column::TenantId,
            legal_hold_recording::Column::HoldId,
        ))
        .into()
}

/// Active holds by filter (cases), oldest first.
pub(crate) async fn active_filters<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<Vec<legal_hold::Model>, DbErr> {
    legal_hold::Entity::find()
        .filter(legal_hold::Column::TenantId.eq(tenant.0))
        .filter(legal_hold::Column::ReleasedAt.is_null())
        .filter(legal_hold::Column::ScopeKind.eq(SCOPE_FILTER))
        .order_by_asc(legal_hold::Column::PlacedAt)
        .order_by_asc(legal_hold::Column::Id)
        .all(conn)
        .await
}

pub(crate) const SCOPE_RECORDINGS: &str = "recordings";
pub(crate) const SCOPE_FILTER: &str = "filter";

/// Which of `ids` are recordings of `tenant`, with their deletion claim.
/// On PostgreSQL the rows are locked until the transaction ends: a
/// deletion claiming one of them (an UPDATE) waits for the hold to commit,
/// then sees it; a hold placed after a claim sees the claim. SQLite has a
/// single writer, which gives the same order.
pub(crate) async fn lock_recordings<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Option<DateTime<Utc>>>, DbErr> {
    let mut select = Query::select();
    select
        .column(recording::Column::Id)
        .column(Alias::new("deleting_since"))
        .from(recording::Entity)
        .and_where(Expr::col(recording::Column::TenantId).eq(tenant.0))
        .and_where(Expr::col(recording::Column::Id).is_in(ids.iter().copied()));
    if conn.get_database_backend() == DbBackend::Postgres {
        select.lock_exclusive();
    }
    let rows = conn.query_all(&select).await?;
    rows.iter()
        .map(|row| {
            let id: Uuid = row.try_get("", "id")?;
            let since: Option<DateTime<Utc>> = row.try_get("", "deleting_since")?;
            Ok((id, since))
        })
        .collect()
}
