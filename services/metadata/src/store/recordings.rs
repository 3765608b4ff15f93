//! The recordings catalogue: rows plus one row per tag and per custom
//! attribute.

use std::collections::{BTreeMap, HashMap};

use callvault_contracts::{RecordingId, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::cursor::Cursor;
use crate::db::entity::{recording, recording_attribute, recording_tag};

/// A validated search within one tenant. Text filters are exact matches.
#[derive(Clone, Debug, Default)]
pub(crate) struct SearchQuery {
    /// Inclusive.
    pub started_after: Option<DateTime<Utc>>,
    /// Exclusive.
    pub started_before: Option<DateTime<Utc>>,
    pub agent: Option<String>,
    /// An agent's own calls only, on top of `agent`.
    pub only_agent: Option<String>,
    pub queue: Option<String>,
    pub direction: Option<&'static str>,
    /// The phone number's blind index, matched against caller or callee.
    pub phone_index: Option<Vec<u8>>,
    /// Every one must be present.
    pub tags: Vec<String>,
    /// Every one must have this value.
    pub attributes: BTreeMap<String, String>,
    pub min_duration_ms: Option<i64>,
    pub max_duration_ms: Option<i64>,
    /// Calls whose notice is unknown (`NULL`) match neither value.
    pub notice_played: Option<bool>,
    pub after: Option<Cursor>,
    pub limit: u64,
}

/// Inserts a recording, its tags and its attributes unless the tenant
/// already has one with this id; returns whether it did. Run it in a
/// transaction: tags and attributes go in statements of their own.
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    row: recording::Model,
    tags: &[String],
    attributes: &BTreeMap<String, String>,
) -> Result<bool, DbErr> {
    let tenant_id = row.tenant_id;
    let recording_id = row.id;
    let inserted = recording::Entity::insert(row.into_active_model())
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
        return Ok(false);
    }
    let tag_rows = tags.iter().enumerate().map(|(position, tag)| {
        recording_tag::Model {
            tenant_id,
            recording_id,
            tag: tag.clone(),
            position: i32::try_from(position).unwrap_or(i32::MAX),
        }
        .into_active_model()
    });
    if !tags.is_empty() {
        recording_tag::Entity::insert_many(tag_rows)
            .exec_without_returning(conn)
            .await?;
    }
    if !attributes.is_empty() {
        let attribute_rows = attributes.iter().map(|(name, value)| {
            recording_attribute::Model {
                tenant_id,
                recording_id,
                name: name.clone(),
                value: value.clone(),
            }
            .into_active_model()
        });
        recording_attribute::Entity::insert_many(attribute_rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(true)
}

pub(crate) async fn get<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: RecordingId,
) -> Result<Option<recording::Model>, DbErr> {
    recording::Entity::find()
        .filter(recording::Column::TenantId.eq(tenant.0))
        .filter(recording::Column::Id.eq(id.0))
        .one(conn)
        .await
}

/// Which of `ids` are catalogued for `tenant`.
pub(crate) async fn known<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    ids: &[RecordingId],
) -> Result<Vec<RecordingId>, DbErr> {
    let rows = recording::Entity::find()
        .select_only()
        .column(recording::Column::Id)
        .filter(recording::Column::TenantId.eq(tenant.0))
        .filter(recording::Column::Id.is_in(ids.iter().map(|id| id.0)))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(RecordingId).collect())
}

/// The segments of one call of `tenant`, in segment order (and, for an
/// agent, only theirs).
pub(crate) async fn of_call<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    external_call_id: &str,
    only_agent: Option<&str>,
) -> Result<Vec<recording::Model>, DbErr> {
    use recording::Column;

    let mut filter = Condition::all()
        .add(Column::TenantId.eq(tenant.0))
        .add(Column::ExternalCallId.eq(external_call_id));
    if let Some(agent) = only_agent {
        filter = filter.add(Column::Agent.eq(agent));
    }
    recording::Entity::find()
        .filter(filter)
        .order_by_asc(Column::Segment)
        .order_by_asc(Column::Id)
        .limit(MAX_SEGMENTS)
        .all(conn)
        .await
}

/// More segments than any real call has (a pause/resume per minute of a
/// day-long call): a bound, not a page.
const MAX_SEGMENTS: u64 = 1_000;

/// One page, newest first (started_at desc, id desc), at most `limit` rows.
pub(crate) async fn search<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    query: &SearchQuery,
) -> Result<Vec<recording::Model>, DbErr> {
    use recording::Column;

    let mut filter = Condition::all().add(Column::TenantId.eq(tenant.0));
    if let Some(after) = query.started_after {
        filter = filter.add(Column::StartedAt.gte(after));
    }
    if let Some(before) = query.started_before {
        filter = filter.add(Column::StartedAt.lt(before));
    }
    for agent in [&query.agent, &query.only_agent].into_iter().flatten() {
        filter = filter.add(Column::Agent.eq(agent.as_str()));
    }
    if let Some(queue) = &query.queue {
        filter = filter.add(Column::Queue.eq(queue.as_str()));
    }
    if let Some(direction) = query.direction {
        filter = filter.add(Column::Direction.eq(direction));
    }
    if let Some(index) = &query.phone_index {
        filter = filter.add(
            Condition::any()
                .add(Column::CallerIndex.eq(index.clone()))
                .add(Column::CalleeIndex.eq(index.clone())),
        );
    }
    if let Some(min) = query.min_duration_ms {
        filter = filter.add(Column::DurationMs.gte(min));
    }
    if let Some(max) = query.max_duration_ms {
        filter = filter.add(Column::DurationMs.lte(max));
    }
    if let Some(notice_played) = query.notice_played {
        filter = filter.add(Column::NoticePlayed.eq(notice_played));
    }
    for tag in &query.tags {
        filter = filter.add(Expr::exists(has_tag(tag)));
    }
    for (name, value) in &query.attributes {
        filter = filter.add(Expr::exists(has_attribute(name, value)));
    }
    if let Some(cursor) = query.after {
        filter = filter.add(
            Condition::any()
                .add(Column::StartedAt.lt(cursor.started_at))
                .add(
                    Condition::all()
                        .add(Column::StartedAt.eq(cursor.started_at))
                        .add(Column::Id.lt(cursor.id)),
                ),
        );
    }
    recording::Entity::find()
        .filter(filter)
        .order_by_desc(Column::StartedAt)
        .order_by_desc(Column::Id)
        .limit(query.limit)
        .all(conn)
        .await
}

/// `SELECT 1 FROM recording_tags WHERE` same tenant, same recording, `tag`.
fn has_tag(tag: &str) -> sea_orm::sea_query::SelectStatement {
    use recording_tag::Column as Tag;
    Query::select()
        .expr(Expr::val(1))
        .from(recording_tag::Entity)
        .and_where(
            Expr::col((recording_tag::Entity, Tag::TenantId))
                .equals((recording::Entity, recording::Column::TenantId)),
        )
        .and_where(
            Expr::col((recording_tag::Entity, Tag::RecordingId))
                .equals((recording::Entity, recording::Column::Id)),
        )
        .and_where(Expr::col((recording_tag::Entity, Tag::Tag)).eq(tag))
        .to_owned()
}

/// `SELECT 1 FROM recording_attributes WHERE` same tenant, same recording,
/// `name = value`.
fn has_attribute(name: &str, value: &str) -> sea_orm::sea_query::SelectStatement {
    use recording_attribute::Column as Attribute;
    Query::select()
        .expr(Expr::val(1))
        .from(recording_attribute::Entity)
        .and_where(
            Expr::col((recording_attribute::Entity, Attribute::TenantId))
                .equals((recording::Entity, recording::Column::TenantId)),
        )
        .and_where(
            Expr::col((recording_attribute::Entity, Attribute::RecordingId))
                .equals((recording::Entity, recording::Column::Id)),
        )
        .and_where(Expr::col((recording_attribute::Entity, Attribute::Name)).eq(name))
        .and_where(Expr::col((recording_attribute::Entity, Attribute::Value)).eq(value))
        .to_owned()
}

/// The tags of these recordings of `tenant`, in the order they were given.
pub(crate) async fn tags<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, DbErr> {
    let mut by_recording: HashMap<Uuid, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_recording);
    }
    let rows = recording_tag::Entity::find()
        .filter(recording_tag::Column::TenantId.eq(tenant.0))
        .filter(recording_tag::Column::RecordingId.is_in(ids.iter().copied()))
        .order_by_asc(recording_tag::Column::RecordingId)
        .order_by_asc(recording_tag::Column::Position)
        .all(conn)
        .await?;
    for row in rows {
        by_recording
            .entry(row.recording_id)
            .or_default()
            .push(row.tag);
    }
    Ok(by_recording)
}
