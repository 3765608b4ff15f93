//! Legal holds: a case freezes listed recordings, or every recording (present
//! and future) its search filter matches, until it is released. Every
//! deletion path asks [`MetadataService::holds_covering`] first.

use callvault_bus::Router;
use callvault_contracts::events::{LegalHoldPlacedV1, LegalHoldReleasedV1};
use callvault_contracts::lifecycle_api::{AuditAction, HoldScope, LegalHold, NewLegalHold};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, RecordingFilter};
use callvault_contracts::{Actor, RecordingId, TenantId};
use sea_orm::{ConnectionTrait, TransactionTrait};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

use super::{MetadataService, corrupt};
use crate::audit::{self, AuditRecord};
use crate::db::entity::legal_hold;
use crate::db::entity::recording::{self, direction_str};
use crate::db::{db_time, internal};
use crate::phone::Region;
use crate::pii::{Party, TenantPii};
use crate::store::holds::{SCOPE_FILTER, SCOPE_RECORDINGS};
use crate::{input, store};
use callvault_contracts::permissions::Permission;

const MAX_HOLD_RECORDINGS: usize = 1000;
/// Reasons and notes: a sentence or a paragraph, not a document.
pub(super) const MAX_REASON_CHARS: usize = 2000;

impl MetadataService {
    pub async fn place_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hold: NewLegalHold,
    ) -> ApiResult<LegalHold> {
        let (_, tenant_row) = self
            .authorize_tenant_row(actor, Permission::ManageHolds, tenant)
            .await?;
        let region = input::stored_region(tenant_row.and_then(|row| row.default_region).as_deref());
        let case_name = input::name(&hold.case_name, "case_name")?;
        let reason = free_text(&hold.reason, "reason", MAX_REASON_CHARS)?;
        let pii = self.tenant_pii(tenant).await?;
        let id = Uuid::new_v4();
        let placed_at = db_time(self.now());
        let mut row = legal_hold::Model {
            tenant_id: tenant.0,
            id,
            case_name,
            reason,
            scope_kind: String::new(),
            filter: None,
            filter_phone_ciphertext: None,
            filter_phone_index: None,
            placed_by: actor.subject.clone(),
            placed_at,
            released_by: None,
            released_at: None,
            release_reason: None,
        };
        let ids = match hold.scope {
            HoldScope::Recordings { ids } => {
                row.scope_kind = SCOPE_RECORDINGS.to_string();
                hold_ids(ids)?
            }
            HoldScope::Filter { filter } => {
                let filter = validate_filter(filter, &pii, region)?;
                row.scope_kind = SCOPE_FILTER.to_string();
                if let Some(number) = &filter.filter.phone_number {
                    // The hold id stands in for the recording id in the
                    // additional data: the ciphertext opens for this hold of
                    // this tenant only.
                    let sealed = pii.seal(RecordingId(id), Party::Caller, number).map_err(
                        |err| {
                            tracing::error!(error = %err, "sealing a hold's phone number failed");
                            ApiError::new(ErrorCode::Internal, "internal error")
                        },
                    )?;
                    row.filter_phone_ciphertext = Some(sealed);
                    row.filter_phone_index = filter.phone_index;
                }
                let stored = RecordingFilter {
                    phone_number: None,
                    ..filter.filter
                };
                row.filter = Some(serde_json::to_string(&stored).map_err(|err| {
                    tracing::error!(error = %err, "encoding a hold filter failed");
                    ApiError::new(ErrorCode::Internal, "internal error")
                })?);
                Vec::new()
            }
        };

        let txn = self.db.begin().await.map_err(internal)?;
        // Holds of both kinds and deletion claims serialise on the tenant's
        // row: a case's filter locks no recording, so without it a deletion
        // could claim a matching recording and read "no filter holds" while
        // this hold commits. On SQLite it also makes this transaction the
        // writer before it reads, so a write committed in between can't make
        // the upgrade fail with SQLITE_BUSY.
        lock_tenant(&txn, tenant).await?;
        if !ids.is_empty() {
            let found = store::holds::lock_recordings(&txn, tenant, &ids)
                .await
                .map_err(internal)?;
            // One unknown id (or another tenant's) refuses the whole hold:
            // a case must not silently cover less than it names. Rolled
            // back explicitly, not on drop: the rows stay locked (see
            // `lock_recordings`) until the ROLLBACK runs.
            if found.len() != ids.len() {
                txn.rollback().await.map_err(internal)?;
                return Err(ApiError::not_found("recording"));
            }
            if let Some(id) = ids
                .iter()
                .find(|id| found.get(id).is_some_and(Option::is_some))
            {
                txn.rollback().await.map_err(internal)?;
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("recording {id} is being deleted"),
                ));
            }
        }
        store::holds::insert(&txn, row.clone(), &ids)
            .await
            .map_err(internal)?;
        audit::append(
            &txn,
            tenant,
            actor,
            placed_at,
            AuditRecord {
                action: AuditAction::HoldPlaced,
                target: Some(id.to_string()),
                reason: Some(row.reason.clone()),
                details: hold_details(&row, &ids),
            },
        )
        .await
        .map_err(internal)?;
        let placed = LegalHoldPlacedV1 {
            tenant_id: tenant,
            hold_id: id,
            recording_ids: ids.iter().copied().map(RecordingId).collect(),
            by_filter: row.scope_kind == SCOPE_FILTER,
            placed_at,
        };
        super::publish(&txn, &placed).await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, hold_id = %id, scope = %row.scope_kind, "legal hold placed");
        hold_from_row(&pii, row, ids)
    }

    /// Releasing a released hold is a `Conflict`: the first release's who,
    /// when and why stay the record.
    pub async fn release_hold(
        &self,
        actor: &Actor,
        tenant: TenantId,
        hold: Uuid,
        reason: String,
    ) -> ApiResult<LegalHold> {
        self.authorize_tenant(actor, Permission::ManageHolds, tenant)
            .await?;
        let reason = free_text(&reason, "reason", MAX_REASON_CHARS)?;
        let pii = self.tenant_pii(tenant).await?;
        let released_at = db_time(self.now());
        let txn = self.db.begin().await.map_err(internal)?;
        // Writer first (see `place_hold_impl`): on SQLite a read before the
        // first write could fail to upgrade instead of waiting.
        lock_tenant(&txn, tenant).await?;
        // Rolled back explicitly, not on drop: the tenant's row stays locked
        // until the ROLLBACK runs.
        let Some(mut row) = store::holds::get(&txn, tenant, hold)
            .await
            .map_err(internal)?
        else {
            txn.rollback().await.map_err(internal)?;
            return Err(ApiError::not_found("legal hold"));
        };
        let released =
            store::holds::release(&txn, tenant, hold, &actor.subject, released_at, &reason)
                .await
                .map_err(internal)?;
        if row.released_at.is_some() || !released {
            txn.rollback().await.map_err(internal)?;
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "the legal hold is already released",
            ));
        }
        let ids = store::holds::recordings_of(&txn, tenant, &[hold])
            .await
            .map_err(internal)?
            .remove(&hold)
            .unwrap_or_default();
        row.released_by = Some(actor.subject.clone());
        row.released_at = Some(released_at);
        row.release_reason = Some(reason.clone());
        audit::append(
            &txn,
            tenant,
            actor,
            released_at,
            AuditRecord {
                action: AuditAction::HoldReleased,
                target: Some(hold.to_string()),
                reason: Some(reason),
                details: hold_details(&row, &ids),
            },
        )
        .await
        .map_err(internal)?;
        let released = LegalHoldReleasedV1 {
            tenant_id: tenant,
            hold_id: hold,
            released_at,
        };
        super::publish(&txn, &released).await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, hold_id = %hold, "legal hold released");
        hold_from_row(&pii, row, ids)
    }

    /// Every hold of the tenant, active or released, newest first.
    pub async fn list_holds(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<LegalHold>> {
        self.authorize_tenant(actor, Permission::ManageHolds, tenant)
            .await?;
        let pii = self.tenant_pii(tenant).await?;
        let rows = store::holds::list(&self.db, tenant)
            .await
            .map_err(internal)?;
        let hold_ids: Vec<Uuid> = rows
            .iter()
            .filter(|row| row.scope_kind == SCOPE_RECORDINGS)
            .map(|row| row.id)
            .collect();
        let mut listed = store::holds::recordings_of(&self.db, tenant, &hold_ids)
            .await
            .map_err(internal)?;
        rows.into_iter()
            .map(|row| {
                let ids = listed.remove(&row.id).unwrap_or_default();
                hold_from_row(&pii, row, ids)
            })
            .collect()
    }

    /// The active holds (explicit, or a case whose filter matches) covering
    /// `recording`. Used by `recording_lifecycle` and by every deletion path.
    pub(super) async fn holds_covering(
        &self,
        tenant: TenantId,
        recording: &recording::Model,
    ) -> ApiResult<Vec<Uuid>> {
        holds_covering_on(&self.db, tenant, recording).await
    }
}

/// Takes the tenant's row lock for the rest of the transaction (see
/// [`store::tenancy::lock_tenant`]).
async fn lock_tenant<C: ConnectionTrait>(txn: &C, tenant: TenantId) -> ApiResult<()> {
    store::tenancy::lock_tenant(txn, tenant)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(())
}

/// [`MetadataService::holds_covering`] on `conn`: a deletion asks inside
/// the transaction that claims the recording.
pub(super) async fn holds_covering_on<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    recording: &recording::Model,
) -> ApiResult<Vec<Uuid>> {
    let mut holds = store::holds::active_listing(conn, tenant, recording.id)
        .await
        .map_err(internal)?;
    let cases = store::holds::active_filters(conn, tenant)
        .await
        .map_err(internal)?;
    if cases.is_empty() {
        return Ok(holds);
    }
    let mut tags: Option<Vec<String>> = None;
    for case in cases {
        let filter = stored_filter(&case)?;
        if !filter.tags.is_empty() && tags.is_none() {
            let mut by_recording = store::recordings::tags(conn, tenant, &[recording.id])
                .await
                .map_err(internal)?;
            tags = Some(by_recording.remove(&recording.id).unwrap_or_default());
        }
        let phone_index = case.filter_phone_index.as_deref();
        if filter_matches(&filter, phone_index, recording, tags.as_deref())
            && !holds.contains(&case.id)
        {
            holds.push(case.id);
        }
    }
    Ok(holds)
}

/// [`holds_covering_on`] for many recordings at once (`tags` are each
/// row's tags): the holds covering each row, in the same order.
pub(super) async fn holds_covering_each<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    rows: &[(&recording::Model, &[String])],
) -> ApiResult<Vec<Vec<Uuid>>> {
    let ids: Vec<Uuid> = rows.iter().map(|(row, _)| row.id).collect();
    let mut listed = store::holds::active_listing_many(conn, tenant, &ids)
        .await
        .map_err(internal)?;
    let cases = store::holds::active_filters(conn, tenant)
        .await
        .map_err(internal)?;
    let filters = cases
        .iter()
        .map(|case| {
            Ok((
                case.id,
                stored_filter(case)?,
                case.filter_phone_index.as_deref(),
            ))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(rows
        .iter()
        .map(|(row, tags)| {
            let mut holds = listed.remove(&row.id).unwrap_or_default();
            for (id, filter, phone_index) in &filters {
                if filter_matches(filter, *phone_index, row, Some(tags)) && !holds.contains(id) {
                    holds.push(*id);
                }
            }
            holds
        })
        .collect())
}

/// Whether a case's filter matches the row, with the search's semantics:
/// `started_after` inclusive, `started_before` exclusive, durations
/// inclusive, text exact, every tag present, the number as caller or callee.
fn filter_matches(
    filter: &RecordingFilter,
    phone_index: Option<&[u8]>,
    row: &recording::Model,
    tags: Option<&[String]>,
) -> bool {
    let duration = u64::try_from(row.duration_ms).unwrap_or(0);
    filter
        .started_after
        .is_none_or(|after| row.started_at >= after)
        && filter
            .started_before
            .is_none_or(|before| row.started_at < before)
        && filter
            .agent
            .as_ref()
            .is_none_or(|agent| row.agent.as_ref() == Some(agent))
        && filter
            .queue
            .as_ref()
            .is_none_or(|queue| row.queue.as_ref() == Some(queue))
        && filter
            .direction
            .is_none_or(|direction| row.direction == direction_str(direction))
        && filter.min_duration_ms.is_none_or(|min| duration >= min)
        && filter.max_duration_ms.is_none_or(|max| duration <= max)
        && filter
            .notice_played
            .is_none_or(|played| row.notice_played == Some(played))
        && phone_index.is_none_or(|index| {
            row.caller_index.as_deref() == Some(index) || row.callee_index.as_deref() == Some(index)
        })
        && filter
            .tags
            .iter()
            .all(|tag| tags.is_some_and(|tags| tags.contains(tag)))
        && attributes_match(&filter.attributes, row)
}

/// Every attribute the filter lists has its value on the row. A row whose
/// attributes can't be read matches: for a legal hold, keeping a recording
/// by mistake is the safe side.
fn attributes_match(wanted: &BTreeMap<String, String>, row: &recording::Model) -> bool {
    if wanted.is_empty() {
        return true;
    }
    match serde_json::from_str::<BTreeMap<String, String>>(&row.attributes) {
        Ok(stored) => wanted
            .iter()
            .all(|(key, value)| stored.get(key) == Some(value)),
        Err(_) => true,
    }
}

/// A case filter as checked, normalized and ready to store.
struct ValidFilter {
    filter: RecordingFilter,
    phone_index: Option<Vec<u8>>,
}

/// The search's own checks (see `catalogue::search_query`), keeping the
/// filter in the shape it is matched in.
fn validate_filter(
    filter: RecordingFilter,
    pii: &TenantPii,
    region: Option<Region>,
) -> ApiResult<ValidFilter> {
    if let (Some(after), Some(before)) = (filter.started_after, filter.started_before)
        && after > before
    {
        return Err(ApiError::invalid(
            "started_after must not be later than started_before",
        ));
    }
    let min = input::duration_ms(filter.min_duration_ms, "min_duration_ms")?;
    let max = input::duration_ms(filter.max_duration_ms, "max_duration_ms")?;
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(ApiError::invalid(
            "min_duration_ms must not be greater than max_duration_ms",
        ));
    }
    let (phone_number, phone_index) = match filter.phone_number {
        None => (None, None),
        Some(number) => {
            let index = pii.blind_index(&input::phone_search_key(&number, region)?);
            (Some(number.trim().to_string()), Some(index))
        }
    };
    Ok(ValidFilter {
        filter: RecordingFilter {
            started_after: filter.started_after.map(db_time),
            started_before: filter.started_before.map(db_time),
            agent: input::filter_text(filter.agent.as_ref(), "agent")?,
            queue: input::filter_text(filter.queue.as_ref(), "queue")?,
            direction: filter.direction,
            phone_number,
            tags: input::filter_tags(&filter.tags)?,
            min_duration_ms: filter.min_duration_ms,
            max_duration_ms: filter.max_duration_ms,
            notice_played: filter.notice_played,
            attributes: input::filter_attributes(&filter.attributes)?,
        },
        phone_index,
    })
}

/// 1..=1000 distinct ids, in id order (the order they are stored and
/// listed in).
fn hold_ids(ids: Vec<RecordingId>) -> ApiResult<Vec<Uuid>> {
    if ids.is_empty() || ids.len() > MAX_HOLD_RECORDINGS {
        return Err(ApiError::invalid(format!(
            "a hold lists between 1 and {MAX_HOLD_RECORDINGS} recordings"
        )));
    }
    let mut ids: Vec<Uuid> = ids.into_iter().map(|id| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Free text a person writes (a reason, a note): trimmed, 1..=`max`
/// characters, line breaks and tabs allowed, no other control characters.
pub(super) fn free_text(raw: &str, field: &str, max: usize) -> ApiResult<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ApiError::invalid(format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(trimmed.to_string())
}

/// What the audit keeps of a hold: never the filter (it may carry a phone
/// number), only its kind and, for a list, how many recordings it names.
fn hold_details(row: &legal_hold::Model, ids: &[Uuid]) -> serde_json::Value {
    let count = (row.scope_kind == SCOPE_RECORDINGS).then_some(ids.len());
    serde_json::json!({
        "case_name": row.case_name,
        "scope": row.scope_kind,
        "count": count,
    })
}

fn stored_filter(row: &legal_hold::Model) -> ApiResult<RecordingFilter> {
    let raw = row.filter.as_deref().ok_or_else(|| corrupt("filter"))?;
    serde_json::from_str(raw).map_err(|_| corrupt("filter"))
}

fn hold_from_row(pii: &TenantPii, row: legal_hold::Model, ids: Vec<Uuid>) -> ApiResult<LegalHold> {
    let scope = match row.scope_kind.as_str() {
        SCOPE_RECORDINGS => HoldScope::Recordings {
            ids: ids.into_iter().map(RecordingId).collect(),
        },
        SCOPE_FILTER => {
            let mut filter = stored_filter(&row)?;
            if let Some(sealed) = &row.filter_phone_ciphertext {
                let number = pii
                    .open(RecordingId(row.id), Party::Caller, sealed)
                    .map_err(|err| {
                        tracing::error!(
                            tenant_id = %row.tenant_id,
                            hold_id = %row.id,
                            error = %err,
                            "a hold's phone number does not decrypt"
                        );
                        ApiError::new(ErrorCode::Internal, "internal error")
                    })?;
                filter.phone_number = Some(number);
            }
            HoldScope::Filter { filter }
        }
        _ => return Err(corrupt("scope_kind")),
    };
    Ok(LegalHold {
        id: row.id,
        tenant_id: TenantId(row.tenant_id),
        case_name: row.case_name,
        reason: row.reason,
        scope,
        placed_by: row.placed_by,
        placed_at: row.placed_at,
        released_by: row.released_by,
        released_at: row.released_at,
        release_reason: row.release_reason,
    })
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::lifecycle::{ListHolds, PlaceHold, ReleaseHold};
    router
        .route(service, |s, r: PlaceHold| async move {
            s.place_hold(&r.actor, r.tenant, r.hold).await
        })
        .route(service, |s, r: ReleaseHold| async move {
            s.release_hold(&r.actor, r.tenant, r.hold, r.reason).await
        })
        .route(service, |s, r: ListHolds| async move {
            s.list_holds(&r.actor, r.tenant).await
        });
}
