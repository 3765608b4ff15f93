//! Which calls a tenant keeps (the metadata service decides, ingestion
//! asks): recording rules with a random share, a do-not-record list, what
//! happens to a call not kept, and whether pause spans are silenced in the
//! stored audio.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::call::Direction;
use crate::{RecordingId, TenantId};

/// The most rules a policy may have: each upload is matched against all.
pub const MAX_RULES: usize = 100;

/// The most numbers one call may add to or remove from the list.
pub const MAX_NUMBERS_PER_CHANGE: usize = 1_000;

/// A tenant's recording policy. The default keeps every call, refuses
/// nothing and changes no audio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingPolicy {
    pub keep: KeepCalls,
    /// With `keep: matching_rules`, a call is kept when it matches one of
    /// these; ignored with `keep: all`.
    #[serde(default)]
    pub rules: Vec<RecordingRule>,
    /// What happens to a call that is not kept (by the rules or the
    /// do-not-record list).
    pub not_kept: NotKeptAction,
    /// Pause spans (`pauses` of the call metadata) are written as digital
    /// silence into the stored audio at ingest. Only WAV with PCM or G.711
    /// audio can be silenced; other uploads with pauses are refused.
    pub silence_pauses: bool,
    /// Increases with each change; 0 before the first.
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for RecordingPolicy {
    fn default() -> Self {
        RecordingPolicy {
            keep: KeepCalls::All,
            rules: Vec::new(),
            not_kept: NotKeptAction::Refuse,
            silence_pauses: false,
            version: 0,
            updated_at: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeepCalls {
    /// Full-call recording: every call (but those on the do-not-record
    /// list).
    All,
    /// Selective recording: only calls that match a rule.
    MatchingRules,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotKeptAction {
    /// The upload is refused (422 `call_not_recorded`) and nothing is kept.
    Refuse,
    /// The call's metadata (without its phone numbers) is kept with the
    /// reason; the audio is never stored.
    MetadataOnly,
}

/// Every condition given must hold; then `percent` of the matching calls
/// are kept, drawn by the call id (so every segment of a call, and every
/// retry, gets the same answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordingRule {
    pub queue: Option<String>,
    pub direction: Option<Direction>,
    /// Every tag listed must be on the call.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Every attribute listed must have that value.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Share of the matching calls kept, above 0 and at most 100.
    pub percent: f64,
}

/// Why a call was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotRecordedReason {
    /// The caller's or callee's number is on the do-not-record list.
    DoNotRecord,
    /// Selective recording: no rule matched.
    NoRuleMatched,
    /// A rule matched, but the call fell outside its random share.
    NotSampled,
}

impl NotRecordedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            NotRecordedReason::DoNotRecord => "do_not_record",
            NotRecordedReason::NoRuleMatched => "no_rule_matched",
            NotRecordedReason::NotSampled => "not_sampled",
        }
    }
}

/// The metadata service's answer to ingestion about one upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum UploadDecision {
    /// Store it; silence its pause spans first if `silence_pauses`.
    Keep { silence_pauses: bool },
    /// Refuse it; nothing was kept.
    Refuse { reason: NotRecordedReason },
    /// Its metadata was kept (as `NotRecordedCall`); store no audio.
    MetadataOnly { reason: NotRecordedReason },
}

/// A call whose audio was not stored, by the tenant's choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotRecordedCall {
    pub tenant_id: TenantId,
    /// The id the upload would have had.
    pub recording_id: RecordingId,
    pub external_call_id: String,
    pub segment: u32,
    pub direction: Direction,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub reason: NotRecordedReason,
    /// The policy version that decided.
    pub policy_version: u32,
    pub decided_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotRecordedCallPage {
    pub calls: Vec<NotRecordedCall>,
    /// Give it as `after` for the next page; none on the last one.
    pub next_cursor: Option<String>,
}

/// One number of the do-not-record list, in E.164 (or as dialled, for a
/// short number).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DoNotRecordEntry {
    pub number: String,
    pub added_at: DateTime<Utc>,
}

impl std::fmt::Debug for DoNotRecordEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoNotRecordEntry")
            .field("number", &"<redacted>")
            .field("added_at", &self.added_at)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DoNotRecordPage {
    pub entries: Vec<DoNotRecordEntry>,
    /// Numbers on the list in all.
    pub total: u64,
    pub next_cursor: Option<String>,
}
