//! Recordings: the object with its playback URL, the search filter and the
//! Relay-style connection.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use callvault_contracts::lifecycle_api::Access;
use callvault_contracts::metadata_api as api;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::lifecycle_inputs::{AttributeInput, checked_text};
use super::lifecycle_types::{Attribute, PauseSpan, RecordingLifecycle, attributes};
use super::scalars::Int64;
use super::types::{Channel, Direction};
use crate::access::{ScopeExt, perm};
use crate::error::bad_input;
use crate::playback::PlaybackLinks;

/// The most recordings one page may hold (the metadata API's limit).
pub(super) const MAX_PAGE_SIZE: i32 = 100;
/// The page size when `first` is omitted or null.
pub(super) const DEFAULT_PAGE_SIZE: i32 = 20;
const MAX_CURSOR_LEN: usize = 1024;
const MAX_FILTER_TEXT_LEN: usize = 256;
const MAX_FILTER_TAGS: usize = 32;
/// As many as a call can carry.
const MAX_FILTER_ATTRIBUTES: usize = 20;

/// One recorded segment of a call.
pub struct Recording(api::Recording);

impl Recording {
    /// Built only from what a `TenantScope<ReadRecordings>` returned: the
    /// playback URL below is a capability and must follow the read check.
    pub(super) fn new(recording: api::Recording) -> Self {
        Self(recording)
    }
}

/// One call as the recorder or CTI named it: its segments (pause/resume
/// and trigger recording cut a call into several), in segment order.
pub struct Call {
    external_call_id: String,
    segments: Vec<api::Recording>,
}

impl Call {
    /// None when the caller sees no segment of it. Built, like
    /// [`Recording`], only from what a read check returned.
    pub(super) fn new(external_call_id: String, segments: Vec<api::Recording>) -> Option<Self> {
        (!segments.is_empty()).then_some(Self {
            external_call_id,
            segments,
        })
    }
}

#[Object]
impl Call {
    async fn external_call_id(&self) -> &str {
        &self.external_call_id
    }
    /// When the earliest segment's call started.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.segments.iter().map(|s| s.started_at).min()
    }
    /// When the latest segment's call ended.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.segments.iter().map(|s| s.ended_at).max()
    }
    /// The audio of all segments together, in milliseconds (pauses and
    /// gaps between segments not counted).
    async fn recorded_ms(&self) -> Int64 {
        Int64(self.segments.iter().map(|s| s.duration_ms).sum())
    }
    /// In segment order, each with a fresh playback URL.
    async fn segments(&self) -> Vec<Recording> {
        self.segments.iter().cloned().map(Recording::new).collect()
    }
}

/// How long a playback reason may be: a sentence or two.
const MAX_PLAYBACK_REASON_LEN: usize = 500;

#[Object]
impl Recording {
    async fn id(&self) -> Uuid {
        self.0.id.0
    }
    async fn tenant_id(&self) -> Uuid {
        self.0.tenant_id.0
    }
    /// The recorder's / PBX's id for the call.
    async fn external_call_id(&self) -> &str {
        &self.0.external_call_id
    }
    /// Segment number within the call, from 0.
    async fn segment(&self) -> u32 {
        self.0.segment
    }
    async fn direction(&self) -> Direction {
        self.0.direction.into()
    }
    async fn caller_number(&self) -> &str {
        &self.0.caller_number
    }
    async fn callee_number(&self) -> &str {
        &self.0.callee_number
    }
    async fn agent(&self) -> Option<&str> {
        self.0.agent.as_deref()
    }
    async fn queue(&self) -> Option<&str> {
        self.0.queue.as_deref()
    }
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    async fn ended_at(&self) -> DateTime<Utc> {
        self.0.ended_at
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    async fn agent_channel(&self) -> Option<Channel> {
        self.0.agent_channel.map(Into::into)
    }
    async fn customer_channel(&self) -> Option<Channel> {
        self.0.customer_channel.map(Into::into)
    }
    /// Container and codec, e.g. `wav/pcm_mulaw`.
    async fn codec(&self) -> &str {
        &self.0.codec
    }
    async fn sample_rate(&self) -> u32 {
        self.0.sample_rate
    }
    async fn channels(&self) -> u16 {
        self.0.channels
    }
    async fn duration_ms(&self) -> Int64 {
        Int64(self.0.duration_ms)
    }
    /// Size of the audio in bytes.
    async fn size(&self) -> Int64 {
        Int64(self.0.size)
    }
    /// SHA-256 of the audio as received, hex.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn ingested_at(&self) -> DateTime<Utc> {
        self.0.ingested_at
    }
    /// The recorder's key/value attributes of the call (e.g. `product`),
    /// which retention rules can match.
    async fn attributes(&self) -> Vec<Attribute> {
        attributes(self.0.attributes.clone())
    }
    /// Whether the caller heard the recording announcement; null when the
    /// recorder didn't say.
    async fn notice_played(&self) -> Option<bool> {
        self.0.notice_played
    }
    /// Stretches of the call that were not recorded (pause/resume).
    async fn pauses(&self) -> Vec<PauseSpan> {
        self.0
            .pauses
            .iter()
            .map(|pause| PauseSpan {
                start_ms: Int64(pause.start_ms),
                end_ms: Int64(pause.end_ms),
            })
            .collect()
    }
    /// Restricted by a data subject's request (GDPR art. 18): still listed,
    /// but `playbackUrl` and `downloadUrl` answer RECORDING_RESTRICTED to
    /// everyone but a compliance officer giving a `reason`.
    async fn restricted(&self) -> bool {
        self.0.restricted
    }
    /// Until when the recording is kept, by which rule, and the legal holds
    /// that keep it longer.
    async fn lifecycle(&self, ctx: &Context<'_>) -> async_graphql::Result<RecordingLifecycle> {
        let scope = ctx.scope()?;
        let lifecycle = scope
            .tenant(self.0.tenant_id, perm::ReadRecordings)
            .await?
            .recording_lifecycle(&self.0)
            .await?;
        Ok(lifecycle.into())
    }
    /// A signed URL that streams the audio (HTTP Range supported), valid
    /// for a few minutes; query again for a fresh one. Every URL handed out
    /// is a playback in the audit trail, with `reason`; a tenant may
    /// require one (BAD_USER_INPUT without it). A `restricted` recording
    /// answers RECORDING_RESTRICTED, but to a compliance officer giving a
    /// `reason`.
    async fn playback_url(
        &self,
        ctx: &Context<'_>,
        reason: Option<String>,
    ) -> async_graphql::Result<String> {
        self.signed_url(ctx, Access::Playback, reason).await
    }

    /// A signed URL like `playbackUrl`, asked for to keep a copy: the audit
    /// trail records a download instead of a playback, and storage answers
    /// with `Content-Disposition: attachment` (its `as=download` term).
    async fn download_url(
        &self,
        ctx: &Context<'_>,
        reason: Option<String>,
    ) -> async_graphql::Result<String> {
        self.signed_url(ctx, Access::Download, reason).await
    }
}

impl Recording {
    async fn signed_url(
        &self,
        ctx: &Context<'_>,
        access: Access,
        reason: Option<String>,
    ) -> async_graphql::Result<String> {
        let reason = reason
            .map(|reason| {
                if reason.len() > MAX_PLAYBACK_REASON_LEN {
                    return Err(bad_input(format!(
                        "reason must be 1 to {MAX_PLAYBACK_REASON_LEN} bytes of text"
                    )));
                }
                checked_text(&reason, "reason")
            })
            .transpose()?;
        let links = ctx.data::<PlaybackLinks>()?;
        let scope = ctx.scope()?;
        // Authorised (and audited) first: the URL is a capability, minted
        // only once the metadata service said yes, and for the recording
        // it said yes to.
        let authorized = scope
            .tenant(self.0.tenant_id, perm::ReadRecordings)
            .await?
            .authorize_playback(&self.0, access, reason)
            .await?;
        // The link carries the recording's byte rate (signed), so storage
        // can tell billing how many seconds it served, and whether it was
        // a download.
        Ok(links.recording_url(&authorized, access))
    }
}

#[derive(SimpleObject)]
pub struct RecordingEdge {
    pub node: Recording,
}

#[derive(SimpleObject)]
pub struct PageInfo {
    /// Pass as `after` for the next page.
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// A page of recordings. Edges carry no per-edge cursor: the metadata
/// service pages by an opaque end cursor only.
#[derive(SimpleObject)]
pub struct RecordingConnection {
    pub edges: Vec<RecordingEdge>,
    pub nodes: Vec<Recording>,
    pub page_info: PageInfo,
}

impl RecordingConnection {
    pub(super) fn new(page: api::RecordingPage) -> Self {
        let edges = page
            .items
            .iter()
            .cloned()
            .map(|recording| RecordingEdge {
                node: Recording::new(recording),
            })
            .collect();
        Self {
            edges,
            nodes: page.items.into_iter().map(Recording::new).collect(),
            page_info: PageInfo {
                end_cursor: page.end_cursor,
                has_next_page: page.has_next_page,
            },
        }
    }
}

/// Narrows a recording search; every field given must match.
#[derive(InputObject, Default)]
pub struct RecordingFilter {
    pub started_after: Option<DateTime<Utc>>,
    pub started_before: Option<DateTime<Utc>>,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    /// Caller or callee number, in any usual format: read in the tenant's
    /// `defaultRegion` when it has no country code and matched as E.164
    /// (`03-1234-5678` in a JP tenant finds `+81312345678`), through a
    /// keyed hash. A number that isn't a valid one is refused with
    /// BAD_USER_INPUT, except a short dial string (an extension, up to 6
    /// digits), matched as dialled. Kept out of traces and logs.
    #[graphql(secret)]
    pub phone_number: Option<String>,
    /// Every tag listed must be present.
    #[graphql(default)]
    pub tags: Vec<String>,
    pub min_duration_ms: Option<Int64>,
    pub max_duration_ms: Option<Int64>,
    /// Whether the caller heard the recording announcement.
    pub notice_played: Option<bool>,
    /// Every custom attribute listed must have exactly this value (as the
    /// recorder sent it: case and spaces count). At most 20, each key once.
    #[graphql(default)]
    pub attributes: Vec<AttributeInput>,
}

impl RecordingFilter {
    /// The contracts' filter, if this one makes sense.
    pub(super) fn into_api(self) -> async_graphql::Result<api::RecordingFilter> {
        if let (Some(after), Some(before)) = (self.started_after, self.started_before)
            && after > before
        {
            return Err(bad_input("startedAfter is later than startedBefore"));
        }
        if let (Some(min), Some(max)) = (self.min_duration_ms, self.max_duration_ms)
            && min > max
        {
            return Err(bad_input("minDurationMs is greater than maxDurationMs"));
        }
        if self.tags.len() > MAX_FILTER_TAGS {
            return Err(bad_input(format!("at most {MAX_FILTER_TAGS} tags")));
        }
        let texts = [&self.agent, &self.queue, &self.phone_number];
        if texts
            .iter()
            .any(|text| text.as_ref().is_some_and(|text| text.is_empty()))
            || self.tags.iter().any(String::is_empty)
        {
            return Err(bad_input("filter values must not be empty"));
        }
        let too_long = |text: &String| text.len() > MAX_FILTER_TEXT_LEN;
        if texts.iter().any(|text| text.as_ref().is_some_and(too_long))
            || self.tags.iter().any(too_long)
        {
            return Err(bad_input(format!(
                "filter values are at most {MAX_FILTER_TEXT_LEN} bytes"
            )));
        }
        if self.attributes.len() > MAX_FILTER_ATTRIBUTES {
            return Err(bad_input(format!(
                "at most {MAX_FILTER_ATTRIBUTES} attributes"
            )));
        }
        let mut attributes = std::collections::BTreeMap::new();
        for AttributeInput { key, value } in self.attributes {
            if key.is_empty() || too_long(&key) || too_long(&value) {
                return Err(bad_input(format!(
                    "attribute keys are 1 to {MAX_FILTER_TEXT_LEN} bytes, values at most {MAX_FILTER_TEXT_LEN}"
                )));
            }
            if attributes.insert(key, value).is_some() {
                return Err(bad_input("attributes names a key twice"));
            }
        }
        Ok(api::RecordingFilter {
            started_after: self.started_after,
            started_before: self.started_before,
            agent: self.agent,
            queue: self.queue,
            direction: self.direction.map(Into::into),
            phone_number: self.phone_number,
            tags: self.tags,
            min_duration_ms: self.min_duration_ms.map(|ms| ms.0),
            max_duration_ms: self.max_duration_ms.map(|ms| ms.0),
            notice_played: self.notice_played,
            attributes,
        })
    }
}

/// The page request, if `first` and `after` make sense.
pub(super) fn page_request(
    first: i32,
    after: Option<String>,
) -> async_graphql::Result<api::PageRequest> {
    if !(1..=MAX_PAGE_SIZE).contains(&first) {
        return Err(bad_input(format!(
            "first must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    if after
        .as_ref()
        .is_some_and(|cursor| cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN)
    {
        return Err(bad_input("after is not a cursor"));
    }
    Ok(api::PageRequest {
        first: first.unsigned_abs(),
        after,
    })
}
