//! Call metadata as recorders send it, and what probing the audio found.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The longest `external_call_id`, in characters: ingestion refuses a
/// longer one, so a lookup by a longer one can match nothing.
pub const MAX_CALL_ID_CHARS: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
}

/// Which audio channel carries whom, for dual-channel (stereo) recordings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Left,
    Right,
    /// Mono: both parties are mixed.
    Mixed,
}

/// One recording's call metadata. Phone numbers are personal data: services
/// never log this type and store the numbers encrypted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CallMetadata {
    /// The recorder's / PBX's id for the call.
    pub external_call_id: String,
    /// Segment number within the call (pause/resume and trigger recording
    /// produce several), from 0.
    pub segment: u32,
    pub direction: Direction,
    /// E.164 where the recorder knows it.
    pub caller_number: String,
    pub callee_number: String,
    pub agent: Option<String>,
    pub queue: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub agent_channel: Option<Channel>,
    pub customer_channel: Option<Channel>,
    /// Free-form call attributes from the CTI (`product = securities`);
    /// retention rules can match them. Not for personal data.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Whether the caller heard the recording announcement; `None` when the
    /// recorder doesn't know.
    #[serde(default)]
    pub notice_played: Option<bool>,
    /// Where recording was paused (card-number capture, PCI DSS), in
    /// milliseconds from the start of this recording, sorted, not
    /// overlapping.
    #[serde(default)]
    pub pauses: Vec<PauseSpan>,
}

/// A stretch of the call that was not recorded (pause/resume).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PauseSpan {
    pub start_ms: u64,
    pub end_ms: u64,
}

impl std::fmt::Debug for CallMetadata {
    /// Redacts the phone numbers, so a stray `{:?}` can't leak them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallMetadata")
            .field("external_call_id", &self.external_call_id)
            .field("segment", &self.segment)
            .field("direction", &self.direction)
            .field("caller_number", &"<redacted>")
            .field("callee_number", &"<redacted>")
            .field("agent", &self.agent)
            .field("queue", &self.queue)
            .field("started_at", &self.started_at)
            .field("ended_at", &self.ended_at)
            .field("tags", &self.tags)
            .field("attributes", &self.attributes)
            .field("notice_played", &self.notice_played)
            .field("pauses", &self.pauses)
            .finish()
    }
}

/// What probing the audio found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AudioInfo {
    /// Container and codec, e.g. `wav/pcm_mulaw`, `wav/pcm_s16le`, `mp3`.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration_ms: u64,
}
