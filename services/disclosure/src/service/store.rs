//! Rows of the disclosure database: a request's load and guarded update,
//! its numbers' blind indexes, the audit queue and the outbox.

use callvault_contracts::TenantId;
use callvault_contracts::disclosure_api::{DisclosureFilter, RequestKind, RequestState};
use callvault_contracts::events::{Event, Message};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

use crate::db::entity::{audit_queue, request, request_number};
use crate::db::{db_time, internal};
use crate::doc::RequestDoc;
use crate::lifecycle::{parse_state, state_name};

pub(super) fn corrupt(field: &'static str) -> ApiError {
    tracing::error!(field, "disclosure row holds a value out of range");
    ApiError::new(ErrorCode::Internal, "internal error")
}

pub(super) fn state_of(row: &request::Model) -> ApiResult<RequestState> {
    parse_state(&row.state).ok_or_else(|| corrupt("state"))
}

pub(super) fn doc_of(row: &request::Model) -> ApiResult<RequestDoc> {
    serde_json::from_str(&row.doc).map_err(|_| corrupt("doc"))
}

pub(super) fn kind_name(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Access => "ACCESS",
        RequestKind::Erasure => "ERASURE",
        RequestKind::Restriction => "RESTRICTION",
        RequestKind::Portability => "PORTABILITY",
    }
}

pub(super) fn parse_kind(raw: &str) -> ApiResult<RequestKind> {
    [
        RequestKind::Access,
        RequestKind::Erasure,
        RequestKind::Restriction,
        RequestKind::Portability,
    ]
    .into_iter()
    .find(|kind| kind_name(*kind) == raw)
    .ok_or_else(|| corrupt("kind"))
}

/// The request, only if it is the tenant's (`NotFound` otherwise: another
/// tenant's id says nothing).
pub(super) async fn load<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
) -> ApiResult<(request::Model, RequestDoc)> {
    let row = request::Entity::find_by_id(id)
        .filter(request::Column::TenantId.eq(tenant.0))
        .one(conn)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such disclosure request"))?;
    let doc = doc_of(&row)?;
    Ok((row, doc))
}

/// Writes `doc` and `state` over the row if nobody changed it since it was
/// read (`CONFLICT` otherwise: the caller retries on fresh data).
pub(super) async fn update<C: ConnectionTrait>(
    conn: &C,
    row: &request::Model,
    state: RequestState,
    doc: &RequestDoc,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    let doc_text = serde_json::to_string(doc).map_err(|_| corrupt("doc"))?;
    let answered = matches!(
        state,
        RequestState::Delivered | RequestState::Refused | RequestState::Withdrawn
    ) && row.answered_at.is_none();
    let mut update = request::Entity::update_many()
        .col_expr(request::Column::State, Expr::value(state_name(state)))
        .col_expr(request::Column::Doc, Expr::value(doc_text))
        .col_expr(
            request::Column::DueDate,
            Expr::value(doc.deadline.due_date.to_string()),
        )
        .col_expr(request::Column::Version, Expr::value(row.version + 1))
        .col_expr(request::Column::UpdatedAt, Expr::value(db_time(now)));
    if answered {
        update = update.col_expr(request::Column::AnsweredAt, Expr::value(db_time(now)));
    }
    if doc.deadline.due_date.to_string() != row.due_date {
        // A new deadline (extended, or moved by an identity wait): its
        // warnings are owed again.
        update = update
            .col_expr(request::Column::DueSoonSent, Expr::value(false))
            .col_expr(request::Column::OverdueSent, Expr::value(false));
    }
    if state.is_open() && row.answered_at.is_some() {
        // Reopened: not answered any more.
        update = update.col_expr(
            request::Column::AnsweredAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        );
    }
    let result = update
        .filter(request::Column::Id.eq(row.id))
        .filter(request::Column::Version.eq(row.version))
        .exec(conn)
        .await
        .map_err(internal)?;
    if result.rows_affected != 1 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the request changed meanwhile: read it again",
        ));
    }
    Ok(())
}

/// Marks whether metadata preserves what the row says.
pub(super) async fn set_preservation_synced<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    synced: bool,
) -> ApiResult<()> {
    request::Entity::update_many()
        .col_expr(request::Column::PreservationSynced, Expr::value(synced))
        .filter(request::Column::Id.eq(id))
        .exec(conn)
        .await
        .map_err(internal)?;
    Ok(())
}

pub(super) async fn insert_numbers<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    request_id: Uuid,
    indexes: &[String],
) -> ApiResult<()> {
    let mut unique: Vec<&String> = indexes.iter().collect();
    unique.sort();
    unique.dedup();
    for index in unique {
        let row = request_number::ActiveModel {
            request_id: Set(request_id),
            blind_index: Set(index.clone()),
            tenant_id: Set(tenant.0),
        };
        request_number::Entity::insert(row)
            .exec_without_returning(conn)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Requests of the tenant about any of these numbers.
pub(super) async fn requests_with_numbers(
    db: &DatabaseConnection,
    tenant: TenantId,
    indexes: &[String],
) -> ApiResult<Vec<Uuid>> {
    let rows = request_number::Entity::find()
        .filter(request_number::Column::TenantId.eq(tenant.0))
        .filter(request_number::Column::BlindIndex.is_in(indexes.iter().cloned()))
        .all(db)
        .await
        .map_err(internal)?;
    let mut ids: Vec<Uuid> = rows.into_iter().map(|row| row.request_id).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The tenant's requests matching the filter's columns (the caller checks
/// `overdue` against today), oldest deadline first.
pub(super) async fn list(
    db: &DatabaseConnection,
    tenant: TenantId,
    filter: &DisclosureFilter,
    ids: Option<Vec<Uuid>>,
) -> ApiResult<Vec<request::Model>> {
    let mut query = request::Entity::find().filter(request::Column::TenantId.eq(tenant.0));
    if let Some(state) = filter.state {
        query = query.filter(request::Column::State.eq(state_name(state)));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(request::Column::Kind.eq(kind_name(kind)));
    }
    if let Some(due_before) = filter.due_before {
        query = query.filter(request::Column::DueDate.lte(due_before.to_string()));
    }
    if let Some(ids) = ids {
        query = query.filter(request::Column::Id.is_in(ids));
    }
    query
        .order_by_asc(request::Column::DueDate)
        .order_by_asc(request::Column::ReceivedAt)
        .all(db)
        .await
        .map_err(internal)
}

/// Queues an audit entry in the caller's transaction.
pub(super) async fn queue_audit<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    entry: &callvault_contracts::ops::subject::RecordDisclosureAudit,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    let row = audit_queue::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        entry: Set(serde_json::to_string(entry).map_err(|_| corrupt("audit entry"))?),
        created_at: Set(db_time(now)),
    };
    audit_queue::Entity::insert(row)
        .exec_without_returning(conn)
        .await
        .map_err(internal)?;
    Ok(())
}

/// Adds an event to the outbox in the caller's transaction.
pub(super) async fn publish<C: ConnectionTrait, E: Event>(conn: &C, event: &E) -> ApiResult<()> {
    let message = Message::new(event).map_err(|_| corrupt("event"))?;
    callvault_bus::outbox::enqueue(conn, &message)
        .await
        .map_err(internal)
}
