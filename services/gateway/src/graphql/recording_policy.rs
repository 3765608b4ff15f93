//! Recording policies (docs/recording-policies.md): which calls a tenant
//! keeps, its do-not-record list, and the calls kept as metadata only.
//! Every field names its tenant and needs `ManagePolicy` on it; the
//! metadata service checks again and validates the policy
//! (BAD_USER_INPUT).

use std::collections::BTreeMap;

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use callvault_contracts::TenantId;
use callvault_contracts::recording_policy_api as api;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::lifecycle_inputs::AttributeInput;
use super::lifecycle_types::{Attribute, attributes};
use super::scalars::Int64;
use super::types::Direction;
use crate::access::{ScopeExt, perm};
use crate::error::bad_input;

/// Which calls are kept.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::recording_policy_api::KeepCalls")]
pub enum KeepCalls {
    /// Full-call recording: every call not on the do-not-record list.
    All,
    /// Selective recording: only calls that match a rule (and fall in its
    /// random share).
    MatchingRules,
}

/// What happens to an upload whose call is not kept.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::recording_policy_api::NotKeptAction")]
pub enum NotKeptAction {
    /// Refused: 422 `call_not_recorded`, nothing kept.
    Refuse,
    /// Its metadata (without phone numbers) is kept with the reason, in
    /// `notRecordedCalls`; the audio is never stored (200, `stored: false`).
    MetadataOnly,
}

/// Why a call was not kept.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "callvault_contracts::recording_policy_api::NotRecordedReason")]
pub enum NotRecordedReason {
    /// The caller's or callee's number is on the do-not-record list.
    DoNotRecord,
    /// Selective recording, and no rule matched.
    NoRuleMatched,
    /// A rule matched, but the call fell outside its random share.
    NotSampled,
}

/// Every condition given must hold; then `percent` of those calls are
/// kept, drawn from the call id (every segment and retry of a call gets the
/// same answer).
#[derive(SimpleObject)]
pub struct RecordingRule {
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    /// Every tag listed must be on the call.
    pub tags: Vec<String>,
    /// Every attribute listed must be on the call with this value.
    pub attributes: Vec<Attribute>,
    /// Share of the matching calls kept: above 0, at most 100.
    pub percent: f64,
}

/// A tenant's recording policy. Until one is set: every call is kept, and
/// `version` is 0.
#[derive(SimpleObject)]
pub struct RecordingPolicy {
    pub keep: KeepCalls,
    pub rules: Vec<RecordingRule>,
    pub not_kept: NotKeptAction,
    /// Pause spans of the call metadata are written as digital silence
    /// into the stored audio at ingest (WAV PCM, IEEE float and G.711 only;
    /// uploads with pauses in other formats are refused with
    /// `pauses_not_silenceable`).
    pub silence_pauses: bool,
    /// 1 for the first policy set, then one more per change.
    pub version: u32,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<api::RecordingPolicy> for RecordingPolicy {
    fn from(policy: api::RecordingPolicy) -> Self {
        RecordingPolicy {
            keep: policy.keep.into(),
            rules: policy
                .rules
                .into_iter()
                .map(|rule| RecordingRule {
                    queue: rule.queue,
                    direction: rule.direction.map(Into::into),
                    tags: rule.tags,
                    attributes: attributes(rule.attributes),
                    percent: rule.percent,
                })
                .collect(),
            not_kept: policy.not_kept.into(),
            silence_pauses: policy.silence_pauses,
            version: policy.version,
            updated_at: policy.updated_at,
        }
    }
}

#[derive(InputObject)]
pub struct RecordingRuleInput {
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    #[graphql(default)]
    pub tags: Vec<String>,
    #[graphql(default)]
    pub attributes: Vec<AttributeInput>,
    /// Above 0, at most 100.
    #[graphql(default = 100.0)]
    pub percent: f64,
}

/// The whole policy; it replaces the previous one and applies to uploads
/// from then on.
#[derive(InputObject)]
pub struct RecordingPolicyInput {
    pub keep: KeepCalls,
    /// At most 100; at least one with `keep: MATCHING_RULES`.
    #[graphql(default)]
    pub rules: Vec<RecordingRuleInput>,
    pub not_kept: NotKeptAction,
    #[graphql(default)]
    pub silence_pauses: bool,
}

impl RecordingPolicyInput {
    fn into_api(self) -> Result<api::RecordingPolicy> {
        let rules = self
            .rules
            .into_iter()
            .map(|rule| {
                let mut map = BTreeMap::new();
                for AttributeInput { key, value } in rule.attributes {
                    if map.insert(key, value).is_some() {
                        return Err(bad_input("a rule's attributes name a key twice"));
                    }
                }
                Ok(api::RecordingRule {
                    queue: rule.queue,
                    direction: rule.direction.map(Into::into),
                    tags: rule.tags,
                    attributes: map,
                    percent: rule.percent,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(api::RecordingPolicy {
            keep: self.keep.into(),
            rules,
            not_kept: self.not_kept.into(),
            silence_pauses: self.silence_pauses,
            version: 0,
            updated_at: None,
        })
    }
}

/// One number of the do-not-record list: E.164, or the digits of a short
/// number.
#[derive(SimpleObject)]
pub struct DoNotRecordEntry {
    pub number: String,
    pub added_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct DoNotRecordPage {
    pub entries: Vec<DoNotRecordEntry>,
    /// Numbers on the list in all.
    pub total: Int64,
    /// Give it as `after` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// A call whose audio was not stored, by the tenant's policy
/// (`notKept: METADATA_ONLY`). Its phone numbers are not kept.
#[derive(SimpleObject)]
pub struct NotRecordedCall {
    pub tenant_id: Uuid,
    /// The id the recording would have had.
    pub recording_id: Uuid,
    pub external_call_id: String,
    pub segment: u32,
    pub direction: Direction,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub tags: Vec<String>,
    pub attributes: Vec<Attribute>,
    pub reason: NotRecordedReason,
    /// The policy version that decided.
    pub policy_version: u32,
    pub decided_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct NotRecordedCallPage {
    /// By external call id, then segment.
    pub calls: Vec<NotRecordedCall>,
    pub next_cursor: Option<String>,
}

impl From<api::NotRecordedCall> for NotRecordedCall {
    fn from(call: api::NotRecordedCall) -> Self {
        NotRecordedCall {
            tenant_id: call.tenant_id.0,
            recording_id: call.recording_id.0,
            external_call_id: call.external_call_id,
            segment: call.segment,
            direction: call.direction.into(),
            agent: call.agent,
            queue: call.queue,
            started_at: call.started_at,
            ended_at: call.ended_at,
            tags: call.tags,
            attributes: attributes(call.attributes),
            reason: call.reason.into(),
            policy_version: call.policy_version,
            decided_at: call.decided_at,
        }
    }
}

/// `Query.recordingPolicy`.
pub(super) async fn policy(ctx: &Context<'_>, tenant_id: Uuid) -> Result<RecordingPolicy> {
    let policy = ctx
        .scope()?
        .tenant(TenantId(tenant_id), perm::ManagePolicy)
        .await?
        .recording_policy()
        .await?;
    Ok(policy.into())
}

/// `Query.doNotRecordNumbers`.
pub(super) async fn numbers(
    ctx: &Context<'_>,
    tenant_id: Uuid,
    first: Option<u32>,
    after: Option<String>,
) -> Result<DoNotRecordPage> {
    let page = ctx
        .scope()?
        .tenant(TenantId(tenant_id), perm::ManagePolicy)
        .await?
        .do_not_record_numbers(first, after)
        .await?;
    Ok(DoNotRecordPage {
        entries: page
            .entries
            .into_iter()
            .map(|entry| DoNotRecordEntry {
                number: entry.number,
                added_at: entry.added_at,
            })
            .collect(),
        total: Int64(page.total),
        next_cursor: page.next_cursor,
    })
}

/// `Query.notRecordedCalls`.
pub(super) async fn not_recorded(
    ctx: &Context<'_>,
    tenant_id: Uuid,
    first: Option<u32>,
    after: Option<String>,
) -> Result<NotRecordedCallPage> {
    let page = ctx
        .scope()?
        .tenant(TenantId(tenant_id), perm::ManagePolicy)
        .await?
        .not_recorded_calls(first, after)
        .await?;
    Ok(NotRecordedCallPage {
        calls: page.calls.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    })
}

#[derive(Default)]
pub struct RecordingPolicyMutation;

#[Object]
impl RecordingPolicyMutation {
    /// Replaces the tenant's recording policy; it applies to uploads from
    /// then on (stored recordings stay). Audited (`RECORDING_POLICY_CHANGE`).
    async fn set_recording_policy(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        input: RecordingPolicyInput,
    ) -> Result<RecordingPolicy> {
        let scope = ctx.scope()?;
        let policy = input.into_api()?;
        let policy = scope
            .tenant(TenantId(tenant_id), perm::ManagePolicy)
            .await?
            .set_recording_policy(policy)
            .await?;
        Ok(policy.into())
    }

    /// Adds 1 to 1,000 numbers to the do-not-record list (a number valid in
    /// the tenant's default region, or with its country code; a short
    /// number as digits). Answers how many were not on it yet. A call from
    /// or to a listed number is never stored. Numbers stay out of logs and
    /// traces; the audit entry says how many, not which.
    async fn add_do_not_record_numbers(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        #[graphql(secret)] numbers: Vec<String>,
    ) -> Result<Int64> {
        let scope = ctx.scope()?;
        let added = scope
            .tenant(TenantId(tenant_id), perm::ManagePolicy)
            .await?
            .add_do_not_record_numbers(numbers)
            .await?;
        Ok(Int64(added))
    }

    /// Removes numbers from the list; answers how many were on it.
    async fn remove_do_not_record_numbers(
        &self,
        ctx: &Context<'_>,
        tenant_id: Uuid,
        #[graphql(secret)] numbers: Vec<String>,
    ) -> Result<Int64> {
        let scope = ctx.scope()?;
        let removed = scope
            .tenant(TenantId(tenant_id), perm::ManagePolicy)
            .await?
            .remove_do_not_record_numbers(numbers)
            .await?;
        Ok(Int64(removed))
    }
}
