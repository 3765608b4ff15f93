//! Checking redaction spans, and resolving them to sample ranges on
//! channel indices.

use super::{ChannelMap, RedactError, RedactionMode, RedactionSpan, SpanChannel, wav};

/// Why a list of spans was refused. Each names the offending span by its
/// index in the list, never what the audio holds there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("span {index} does not start before it ends")]
    Empty { index: usize },
    #[error("span {index} ends after the recording")]
    PastEnd { index: usize },
    #[error("span {index} starts before span {previous}")]
    Unordered { index: usize, previous: usize },
    #[error("span {index} overlaps span {other} on the same channel")]
    Overlap { index: usize, other: usize },
    #[error("span {index} is on a side the channel map does not place")]
    Unmapped { index: usize },
    #[error("a recording without channels")]
    NoChannels,
}

/// Checks `spans` against a recording of `duration_ms` with `channels`
/// channels: each inside it (`start_ms < end_ms <= duration_ms`), ordered
/// by start, and none overlapping another on a shared channel. `Both`
/// shares a channel with every span; on a mono recording every span is on
/// channel 0, so no two may overlap. Returns the spans, unchanged.
pub fn validate_spans(
    spans: &[RedactionSpan],
    duration_ms: u64,
    channels: u16,
) -> Result<Vec<RedactionSpan>, SpanError> {
    if channels == 0 {
        return Err(SpanError::NoChannels);
    }
    // The furthest end so far on the agent's and the customer's side, and
    // which span reached it.
    let mut agent_end: Option<(u64, usize)> = None;
    let mut customer_end: Option<(u64, usize)> = None;
    for (index, span) in spans.iter().enumerate() {
        if span.start_ms >= span.end_ms {
            return Err(SpanError::Empty { index });
        }
        if span.end_ms > duration_ms {
            return Err(SpanError::PastEnd { index });
        }
        if let Some(previous) = index.checked_sub(1)
            && spans[previous].start_ms > span.start_ms
        {
            return Err(SpanError::Unordered { index, previous });
        }
        let (on_agent, on_customer) = match (channels, span.channel) {
            (1, _) | (_, SpanChannel::Both) => (true, true),
            (_, SpanChannel::Agent) => (true, false),
            (_, SpanChannel::Customer) => (false, true),
        };
        for (on, side_end) in [(on_agent, &mut agent_end), (on_customer, &mut customer_end)] {
            if !on {
                continue;
            }
            if let Some((end, other)) = *side_end
                && end > span.start_ms
            {
                return Err(SpanError::Overlap { index, other });
            }
            *side_end = Some((span.end_ms, index));
        }
    }
    Ok(spans.to_vec())
}

/// A span as sample frames on channel indices.
#[derive(Clone, Debug)]
struct Resolved {
    start: u64,
    end: u64,
    mode: RedactionMode,
    channels: Vec<usize>,
}

/// Validated spans, resolved for one recording.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    spans: Vec<Resolved>,
}

/// Resolves validated `spans` to frame ranges (`floor(ms * rate / 1000)`)
/// on the channels `map` gives.
pub(super) fn resolve(
    spans: &[RedactionSpan],
    map: ChannelMap,
    channels: u16,
    rate: u32,
) -> Result<Plan, RedactError> {
    let every: Vec<usize> = (0..usize::from(channels)).collect();
    if channels > 1 {
        for index in [map.agent, map.customer].into_iter().flatten() {
            if index >= channels {
                return Err(RedactError::ChannelMap(
                    "channel index past the recording's channels",
                ));
            }
        }
        if map.agent.is_some() && map.agent == map.customer {
            // The overlap check trusts the two sides to be apart.
            return Err(RedactError::ChannelMap(
                "agent and customer on the same channel",
            ));
        }
    }
    let mut resolved = Vec::with_capacity(spans.len());
    for (index, span) in spans.iter().enumerate() {
        let side = match span.channel {
            _ if channels == 1 => Some(0),
            SpanChannel::Both => None,
            SpanChannel::Agent => Some(map.agent.ok_or(SpanError::Unmapped { index })?),
            SpanChannel::Customer => Some(map.customer.ok_or(SpanError::Unmapped { index })?),
        };
        resolved.push(Resolved {
            start: frame_at(span.start_ms, rate),
            end: frame_at(span.end_ms, rate),
            mode: span.mode,
            channels: side.map_or_else(|| every.clone(), |side| vec![usize::from(side)]),
        });
    }
    Ok(Plan { spans: resolved })
}

/// `floor(ms * rate / 1000)`, exact (no float).
fn frame_at(ms: u64, rate: u32) -> u64 {
    let frame = u128::from(ms) * u128::from(rate) / 1000;
    u64::try_from(frame).unwrap_or(u64::MAX)
}

impl Plan {
    /// Redacts the interleaved `samples` of `width` channels, whose first
    /// frame is `first_frame` of the recording.
    pub(super) fn apply(&self, samples: &mut [i16], first_frame: u64, width: usize, rate: u32) {
        let chunk_end = first_frame + (samples.len() / width) as u64;
        for span in &self.spans {
            // Ordered by start: nothing further reaches this chunk.
            if span.start >= chunk_end {
                break;
            }
            let from = span.start.max(first_frame);
            let to = span.end.min(chunk_end);
            for frame in from..to {
                let value = match span.mode {
                    RedactionMode::Silence => 0,
                    RedactionMode::Tone => wav::tone_sample(frame, rate),
                };
                // `from..to` lies inside the chunk, so the offset fits.
                let base = (frame - first_frame) as usize * width;
                for channel in &span.channels {
                    if let Some(sample) = samples.get_mut(base + channel) {
                        *sample = value;
                    }
                }
            }
        }
    }

    /// Frames redacted per channel: spans don't overlap on a channel, so
    /// their lengths add up.
    pub(super) fn redacted_frames(&self, width: usize) -> Vec<u64> {
        let mut counts = vec![0u64; width];
        for span in &self.spans {
            for channel in &span.channels {
                if let Some(count) = counts.get_mut(*channel) {
                    *count += span.end - span.start;
                }
            }
        }
        counts
    }
}
