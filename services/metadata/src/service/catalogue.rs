//! Searching and reading the recordings catalogue.

use callvault_bus::Router;
use callvault_contracts::call::{Channel, Direction};
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::{
    ApiError, ApiResult, ErrorCode, PageRequest, Recording, RecordingFilter, RecordingPage,
};
use callvault_contracts::{Actor, RecordingId, TenantId};
use sea_orm::TransactionTrait;
use serde_json::json;
use std::sync::Arc;

use super::{MetadataService, corrupt};
use crate::audit::{self, AuditRecord};
use callvault_contracts::ops::catalogue::MAX_KNOWN_RECORDINGS_ASKED;
use callvault_contracts::permissions::Permission;

use crate::authz::RecordingScope;
use crate::cursor::Cursor;
use crate::db::entity::recording::{self, channel_str, direction_str};
use crate::db::internal;
use crate::phone::Region;
use crate::pii::{Party, PiiError, TenantPii};
use crate::store::recordings::SearchQuery;
use crate::{input, store};

impl MetadataService {
    pub async fn search_recordings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        filter: RecordingFilter,
        page: PageRequest,
    ) -> ApiResult<RecordingPage> {
        let (scope, row) = self
            .authorize_tenant_row(actor, Permission::ReadRecordings, tenant)
            .await?;
        let region = input::stored_region(row.and_then(|row| row.default_region).as_deref());
        let pii = self.tenant_pii(tenant).await?;
        let mut query = search_query(&filter, &page, &pii, region)?;
        let mut details = search_details(&query);
        let first = query.limit;
        // One more than asked: its presence is what `has_next_page` says.
        query.limit = first + 1;
        if let RecordingScope::Agent(agent) = scope {
            query.only_agent = Some(agent);
        }

        let mut rows = store::recordings::search(&self.db, tenant, &query)
            .await
            .map_err(internal)?;
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        let end_cursor = rows.last().map(|row| {
            Cursor {
                started_at: row.started_at,
                id: row.id,
            }
            .encode()
        });
        let items = self.recordings_from_rows(tenant, &pii, rows).await?;
        details["result_count"] = json!(items.len());
        self.audit_read(actor, tenant, AuditAction::Search, None, details)
            .await?;
        Ok(RecordingPage {
            items,
            end_cursor,
            has_next_page,
        })
    }

    /// No actor: a machine call, like `verify_api_key`, that only says
    /// whether random ids exist.
    pub async fn known_recordings(
        &self,
        tenant: TenantId,
        ids: Vec<RecordingId>,
    ) -> ApiResult<Vec<RecordingId>> {
        if ids.len() > MAX_KNOWN_RECORDINGS_ASKED {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("at most {MAX_KNOWN_RECORDINGS_ASKED} recording ids per call"),
            ));
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        store::recordings::known(&self.db, tenant, &ids)
            .await
            .map_err(internal)
    }

    pub async fn call_recordings(
        &self,
        actor: &Actor,
        tenant: TenantId,
        external_call_id: &str,
    ) -> ApiResult<Vec<Recording>> {
        let scope = self
            .authorize_tenant(actor, Permission::ReadRecordings, tenant)
            .await?;
        let call_id = input::external_call_id(external_call_id)?;
        let only_agent = match &scope {
            RecordingScope::Agent(agent) => Some(agent.as_str()),
            RecordingScope::All => None,
        };
        let rows = store::recordings::of_call(&self.db, tenant, &call_id, only_agent)
            .await
            .map_err(internal)?;
        let pii = self.tenant_pii(tenant).await?;
        let items = self.recordings_from_rows(tenant, &pii, rows).await?;
        let details = json!({ "call_lookup": true, "result_count": items.len() });
        self.audit_read(actor, tenant, AuditAction::Search, None, details)
            .await?;
        Ok(items)
    }

    pub async fn get_recording(
        &self,
        actor: &Actor,
        tenant: TenantId,
        id: RecordingId,
    ) -> ApiResult<Recording> {
        let scope = self
            .authorize_tenant(actor, Permission::ReadRecordings, tenant)
            .await?;
        let row = self.visible_recording(&scope, tenant, id).await?;
        let recording = self.recording_view(tenant, row).await?;
        self.audit_read(
            actor,
            tenant,
            AuditAction::ViewRecording,
            Some(id.to_string()),
            json!({}),
        )
        .await?;
        Ok(recording)
    }

    /// The recording's row, if `scope` may see it: another agent's call is
    /// "not found", like another tenant's.
    pub(super) async fn visible_recording(
        &self,
        scope: &RecordingScope,
        tenant: TenantId,
        id: RecordingId,
    ) -> ApiResult<recording::Model> {
        let row = store::recordings::get(&self.db, tenant, id)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("recording"))?;
        if let RecordingScope::Agent(agent) = scope
            && row.agent.as_deref() != Some(agent.as_str())
        {
            return Err(ApiError::not_found("recording"));
        }
        Ok(row)
    }

    /// The API's view of one row (numbers decrypted, tags loaded).
    pub(super) async fn recording_view(
        &self,
        tenant: TenantId,
        row: recording::Model,
    ) -> ApiResult<Recording> {
        let pii = self.tenant_pii(tenant).await?;
        let mut items = self.recordings_from_rows(tenant, &pii, vec![row]).await?;
        items.pop().ok_or_else(|| ApiError::not_found("recording"))
    }

    /// Records a read in the tenant's audit trail. A read whose entry can't
    /// be written fails: an unaudited read is what the trail exists to rule
    /// out.
    pub(super) async fn audit_read(
        &self,
        actor: &Actor,
        tenant: TenantId,
        action: AuditAction,
        target: Option<String>,
        details: serde_json::Value,
    ) -> ApiResult<()> {
        self.audit_read_with_reason(actor, tenant, action, target, None, details)
            .await
    }

    pub(super) async fn audit_read_with_reason(
        &self,
        actor: &Actor,
        tenant: TenantId,
        action: AuditAction,
        target: Option<String>,
        reason: Option<String>,
        details: serde_json::Value,
    ) -> ApiResult<()> {
        let record = AuditRecord {
            action,
            target,
            reason,
            details,
        };
        // In a transaction of its own: the head moves and the entry lands
        // together, or neither does (a cancelled request or a crash between
        // the two would otherwise leave the head on an entry that doesn't
        // exist, and the chain broken for good).
        let txn = self.db.begin().await.map_err(internal)?;
        match audit::append(&txn, tenant, actor, self.now(), record).await {
            Ok(_) => txn.commit().await.map_err(internal),
            Err(err) => {
                let _ = txn.rollback().await;
                Err(internal(err))
            }
        }
    }

    /// The tenant's phone-number keys, through its master key:
    /// `TENANT_KEY_UNUSABLE` when that key is disabled or gone.
    pub(super) async fn tenant_pii(&self, tenant: TenantId) -> ApiResult<Arc<TenantPii>> {
        self.pii.for_tenant(&self.db, tenant).await
    }

    /// The API's view of rows of the tenant: numbers decrypted, tags
    /// loaded, restrictions marked.
    pub(super) async fn recordings_from_rows(
        &self,
        tenant: TenantId,
        pii: &TenantPii,
        rows: Vec<recording::Model>,
    ) -> ApiResult<Vec<Recording>> {
        let ids: Vec<_> = rows.iter().map(|row| row.id).collect();
        let mut tags = store::recordings::tags(&self.db, tenant, &ids)
            .await
            .map_err(internal)?;
        let restricted = store::subject::restricted_among(&self.db, tenant, &ids)
            .await
            .map_err(internal)?;
        rows.into_iter()
            .map(|row| {
                let row_tags = tags.remove(&row.id).unwrap_or_default();
                let mut recording = recording_from_row(pii, row, row_tags)?;
                recording.restricted = restricted.contains(&recording.id.0);
                Ok(recording)
            })
            .collect()
    }
}

/// Checks the filter and page and turns them into a tenant query.
fn search_query(
    filter: &RecordingFilter,
    page: &PageRequest,
    pii: &TenantPii,
    region: Option<Region>,
) -> ApiResult<SearchQuery> {
    let limit = input::page_size(page.first)?;
    let after = page.after.as_deref().map(Cursor::decode).transpose()?;
    if let (Some(after), Some(before)) = (filter.started_after, filter.started_before)
        && after > before
    {
        return Err(ApiError::invalid(
            "started_after must not be later than started_before",
        ));
    }
    let min_duration_ms = input::duration_ms(filter.min_duration_ms, "min_duration_ms")?;
    let max_duration_ms = input::duration_ms(filter.max_duration_ms, "max_duration_ms")?;
    if let (Some(min), Some(max)) = (min_duration_ms, max_duration_ms)
        && min > max
    {
        return Err(ApiError::invalid(
            "min_duration_ms must not be greater than max_duration_ms",
        ));
    }
    let phone_index = filter
        .phone_number
        .as_deref()
        .map(|number| input::phone_search_key(number, region))
        .transpose()?
        .map(|key| pii.blind_index(&key));
    Ok(SearchQuery {
        started_after: filter.started_after.map(crate::db::db_time),
        started_before: filter.started_before.map(crate::db::db_time),
        agent: input::filter_text(filter.agent.as_ref(), "agent")?,
        only_agent: None,
        queue: input::filter_text(filter.queue.as_ref(), "queue")?,
        direction: filter.direction.map(direction_str),
        phone_index,
        tags: input::filter_tags(&filter.tags)?,
        attributes: input::filter_attributes(&filter.attributes)?,
        min_duration_ms,
        max_duration_ms,
        notice_played: filter.notice_played,
        after,
        limit,
    })
}

/// What a search asked for, for the audit trail: every filter used with
/// its value, except the phone number, which is personal data: only that
/// one was given.
fn search_details(query: &SearchQuery) -> serde_json::Value {
    let mut filters = serde_json::Map::new();
    let mut put = |name: &str, value: serde_json::Value| {
        filters.insert(name.to_owned(), value);
    };
    if let Some(at) = query.started_after {
        put("started_after", json!(audit::timestamp(at)));
    }
    if let Some(at) = query.started_before {
        put("started_before", json!(audit::timestamp(at)));
    }
    if let Some(agent) = &query.agent {
        put("agent", json!(agent));
    }
    if let Some(queue) = &query.queue {
        put("queue", json!(queue));
    }
    if let Some(direction) = query.direction {
        put("direction", json!(direction));
    }
    if query.phone_index.is_some() {
        put("phone_number", json!(true));
    }
    if !query.tags.is_empty() {
        put("tags", json!(query.tags));
    }
    if !query.attributes.is_empty() {
        put("attributes", json!(query.attributes));
    }
    if let Some(ms) = query.min_duration_ms {
        put("min_duration_ms", json!(ms));
    }
    if let Some(ms) = query.max_duration_ms {
        put("max_duration_ms", json!(ms));
    }
    if let Some(notice_played) = query.notice_played {
        put("notice_played", json!(notice_played));
    }
    json!({
        "filters": filters,
        "first": query.limit,
        "next_page": query.after.is_some(),
    })
}

/// One row as the API shows it, `restricted` left false (see
/// [`MetadataService::recordings_from_rows`]).
pub(super) fn recording_from_row(
    pii: &TenantPii,
    row: recording::Model,
    tags: Vec<String>,
) -> ApiResult<Recording> {
    let id = RecordingId(row.id);
    let open = |party: Party, sealed: &[u8]| {
        pii.open(id, party, sealed).map_err(|err| {
            if matches!(err, PiiError::Format) {
                // Still under the platform secret: the move to the
                // tenant's key (`crate::pii_rekey`) hasn't reached it.
                tracing::warn!(
                    tenant_id = %row.tenant_id,
                    recording_id = %row.id,
                    "phone number not yet moved to the tenant's key"
                );
                return ApiError::new(
                    ErrorCode::Unavailable,
                    "the tenant's catalogue is being moved to its key; try again later",
                );
            }
            tracing::error!(
                tenant_id = %row.tenant_id,
                recording_id = %row.id,
                ?party,
                error = %err,
                "stored phone number does not decrypt"
            );
            ApiError::new(ErrorCode::Internal, "internal error")
        })
    };
    let caller_number = open(Party::Caller, &row.caller_ciphertext)?;
    let callee_number = open(Party::Callee, &row.callee_ciphertext)?;
    Ok(Recording {
        id,
        tenant_id: TenantId(row.tenant_id),
        external_call_id: row.external_call_id,
        segment: u32::try_from(row.segment).map_err(|_| corrupt("segment"))?,
        direction: parse_direction(&row.direction).ok_or_else(|| corrupt("direction"))?,
        caller_number,
        callee_number,
        agent: row.agent,
        queue: row.queue,
        started_at: row.started_at,
        ended_at: row.ended_at,
        tags,
        agent_channel: parse_channel(row.agent_channel.as_deref(), "agent_channel")?,
        customer_channel: parse_channel(row.customer_channel.as_deref(), "customer_channel")?,
        attributes: serde_json::from_str(&row.attributes).map_err(|_| corrupt("attributes"))?,
        notice_played: row.notice_played,
        pauses: serde_json::from_str(&row.pauses).map_err(|_| corrupt("pauses"))?,
        codec: row.codec,
        sample_rate: u32::try_from(row.sample_rate).map_err(|_| corrupt("sample_rate"))?,
        channels: u16::try_from(row.channels).map_err(|_| corrupt("channels"))?,
        duration_ms: u64::try_from(row.duration_ms).map_err(|_| corrupt("duration_ms"))?,
        size: u64::try_from(row.size).map_err(|_| corrupt("size"))?,
        sha256: row.sha256,
        ingested_at: row.ingested_at,
        // Filled by the callers that look restrictions up.
        restricted: false,
    })
}

fn parse_direction(raw: &str) -> Option<Direction> {
    [Direction::Inbound, Direction::Outbound, Direction::Internal]
        .into_iter()
        .find(|d| direction_str(*d) == raw)
}

fn parse_channel(raw: Option<&str>, field: &'static str) -> ApiResult<Option<Channel>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    [Channel::Left, Channel::Right, Channel::Mixed]
        .into_iter()
        .find(|c| channel_str(*c) == raw)
        .map(Some)
        .ok_or_else(|| corrupt(field))
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::catalogue::{
        CallRecordings, GetRecording, KnownRecordings, SearchRecordings,
    };
    router
        .route(service, |s, r: CallRecordings| async move {
            s.call_recordings(&r.actor, r.tenant, &r.external_call_id)
                .await
        })
        .route(service, |s, r: SearchRecordings| async move {
            s.search_recordings(&r.actor, r.tenant, r.filter, r.page)
                .await
        })
        .route(service, |s, r: KnownRecordings| async move {
            s.known_recordings(r.tenant, r.ids).await
        })
        .route(service, |s, r: GetRecording| async move {
            s.get_recording(&r.actor, r.tenant, r.id).await
        });
}
