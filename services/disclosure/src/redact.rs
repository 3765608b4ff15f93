//! Rendering a recording as a 16-bit PCM WAV with redaction spans silenced
//! or replaced by a tone, for the disclosure export.
//!
//! The source is decoded with symphonia (PCM WAV, G.711 µ-law/A-law WAV,
//! MP3, FLAC, OGG Vorbis) twice: a WAV header needs the data length before
//! the first sample, and a header's own frame count can't be trusted (a
//! truncated upload, an MP3 without a Xing header), so the first pass
//! counts the frames that really decode. Memory stays at one packet.

mod decode;
mod source;
mod spans;
pub mod wav;

#[cfg(test)]
mod tests;

use std::io::{Read, Seek, Write};

use serde::{Deserialize, Serialize};

use decode::Decoding;
use source::Source;

pub use spans::{SpanError, validate_spans};
/// What the caller knows of the source's container (extension, MIME
/// type): it guides symphonia's probe.
pub use symphonia::core::probe::Hint;

/// Which side of the call a span redacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SpanChannel {
    Agent,
    Customer,
    /// Every channel of the recording.
    Both,
}

/// What replaces the audio inside a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedactionMode {
    /// Digital silence (samples of 0).
    Silence,
    /// A 1 kHz sine at -12 dBFS, so a listener hears that something was cut.
    Tone,
}

/// A stretch of one recording to redact, in milliseconds from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionSpan {
    pub channel: SpanChannel,
    pub start_ms: u64,
    /// Exclusive.
    pub end_ms: u64,
    pub mode: RedactionMode,
}

/// Which audio channel carries the agent and which the customer in a
/// multi-channel recording. A mono recording ignores it: every span applies
/// to channel 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMap {
    pub agent: Option<u16>,
    pub customer: Option<u16>,
}

/// What [`render_wav`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderReport {
    pub sample_rate: u32,
    pub channels: u16,
    /// Sample frames in the output (one sample per channel each).
    pub frames: u64,
    /// Frames replaced by silence or tone, per channel index.
    pub redacted_frames_per_channel: Vec<u64>,
}

/// Why a recording could not be rendered. Messages never carry audio
/// content.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("invalid redaction span: {0}")]
    Span(#[from] SpanError),
    /// The channel map contradicts the recording (an index past its
    /// channels, agent and customer on one channel).
    #[error("invalid channel map: {0}")]
    ChannelMap(&'static str),
    /// The source is not audio symphonia can read, or does not decode
    /// cleanly to its end.
    #[error("unreadable audio: {0}")]
    Unreadable(String),
    /// Readable, but not something one WAV file can hold (a format change
    /// midway, no audio track).
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    /// A RIFF WAV's sizes are 32-bit.
    #[error("audio too long for a wav file (4 gib of samples)")]
    TooLong,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Decodes `source` and writes it to `out` as a 16-bit PCM WAV (same
/// sample rate and channel count) with every span applied on its
/// channel(s); every other sample is the decoded original converted to
/// i16. [`prepare_render`] then [`PreparedRender::write`], in one call.
pub fn render_wav<S, W>(
    source: S,
    hint: &Hint,
    spans: &[RedactionSpan],
    map: ChannelMap,
    out: W,
) -> Result<RenderReport, RedactError>
where
    S: Read + Seek + Send + Sync + 'static,
    W: Write,
{
    prepare_render(source, hint, spans, map)?.write(out)
}

/// The first pass of a render: decodes `source` to its end to count the
/// frames, checks `spans` with [`validate_spans`] against that length and
/// resolves their channels with `map` (a span on a side the map doesn't
/// place is refused rather than guessed). Nothing is written yet, so a
/// refusal here costs the caller nothing: call it before opening the
/// bundle entry the WAV goes to.
///
/// A span covers sample frames `[floor(start_ms * rate / 1000),
/// floor(end_ms * rate / 1000))`.
pub fn prepare_render<S>(
    source: S,
    hint: &Hint,
    spans: &[RedactionSpan],
    map: ChannelMap,
) -> Result<PreparedRender, RedactError>
where
    S: Read + Seek + Send + Sync + 'static,
{
    let source = Source::new(source)?;
    let mut first = Decoding::open(Box::new(source), hint, None)?;
    let mut frames = 0u64;
    while let Some(samples) = first.next_chunk()? {
        frames += samples.len() as u64;
    }
    let Some((rate, channels)) = first.spec() else {
        return Err(RedactError::Unreadable("audio has no samples".into()));
    };
    // Counted in samples above: one division instead of one per packet.
    frames /= u64::from(channels);
    let duration_ms = u64::try_from(u128::from(frames) * 1000 / u128::from(rate))
        .map_err(|_| RedactError::TooLong)?;
    let spans = validate_spans(spans, duration_ms, channels)?;
    let plan = spans::resolve(&spans, map, channels, rate)?;
    let data_len = frames
        .checked_mul(u64::from(channels) * 2)
        .filter(|len| *len <= u64::from(u32::MAX) - 36)
        .ok_or(RedactError::TooLong)?;
    let spec = first.signal_spec();
    let second = Decoding::open(first.into_source()?, hint, spec)?;
    Ok(PreparedRender {
        second,
        plan,
        rate,
        channels,
        frames,
        data_len,
    })
}

/// A render whose spans were checked against the decoded length, ready
/// to write.
pub struct PreparedRender {
    second: Decoding,
    plan: spans::Plan,
    rate: u32,
    channels: u16,
    frames: u64,
    data_len: u64,
}

impl PreparedRender {
    /// Bytes [`write`](Self::write) will write: the 44-byte header and the
    /// samples.
    pub fn wav_len(&self) -> u64 {
        44 + self.data_len
    }

    /// The second pass: decodes again and writes the redacted WAV to
    /// `out`, in packet-sized writes (wrap a file or socket in a
    /// `BufWriter`). After an error what reached `out` is incomplete and
    /// must be discarded.
    pub fn write(mut self, mut out: impl Write) -> Result<RenderReport, RedactError> {
        out.write_all(&wav::header(self.rate, self.channels, self.data_len))?;
        let width = usize::from(self.channels);
        let mut written = 0u64;
        let mut bytes = Vec::new();
        while let Some(samples) = self.second.next_chunk()? {
            let chunk_frames = (samples.len() / width) as u64;
            if written + chunk_frames > self.frames {
                return Err(changed_between_passes());
            }
            self.plan.apply(samples, written, width, self.rate);
            bytes.clear();
            bytes.extend(samples.iter().flat_map(|sample| sample.to_le_bytes()));
            out.write_all(&bytes)?;
            written += chunk_frames;
        }
        if written != self.frames {
            return Err(changed_between_passes());
        }
        out.flush()?;
        Ok(RenderReport {
            sample_rate: self.rate,
            channels: self.channels,
            frames: self.frames,
            redacted_frames_per_channel: self.plan.redacted_frames(width),
        })
    }
}

/// The header already promised a length: a source that decodes
/// differently the second time (it changed underneath, or a decoder is not
/// deterministic) can't be written truthfully.
fn changed_between_passes() -> RedactError {
    RedactError::Unreadable("audio decoded to a different length on the second pass".into())
}

/// Decodes `source` the way [`render_wav`] does: (sample rate, channels,
/// interleaved samples). Tests compare the rendered output with it.
#[cfg(test)]
pub(crate) fn decode_to_i16<S>(source: S, hint: &Hint) -> Result<(u32, u16, Vec<i16>), RedactError>
where
    S: Read + Seek + Send + Sync + 'static,
{
    let mut decoding = Decoding::open(Box::new(Source::new(source)?), hint, None)?;
    let mut all = Vec::new();
    while let Some(samples) = decoding.next_chunk()? {
        all.extend_from_slice(samples);
    }
    let (rate, channels) = decoding
        .spec()
        .ok_or_else(|| RedactError::Unreadable("audio has no samples".into()))?;
    Ok((rate, channels, all))
}
