//! Audio probing: what the first window of an upload says it is, checked
//! against the declared `Content-Type`, before anything is stored.

use std::io::Cursor;

use bytes::Bytes;
use callvault_contracts::call::AudioInfo;
use symphonia::core::codecs::{CODEC_TYPE_NULL, CodecParameters};
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::riff::{
    self, FORMAT_ALAW, FORMAT_MULAW, MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, WavLayout,
};

pub use callvault_contracts::media::{Container, sniff};

/// What probing found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probed {
    pub info: AudioInfo,
    /// For WAV: the file length the header declares. A body shorter than
    /// that is truncated.
    pub declared_len: Option<u64>,
    /// For WAV: where the samples are and how they are laid out.
    pub wav: Option<WavLayout>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The body is audio of another type than the one declared (415).
    #[error("body is {found} audio but content-type declares {declared}")]
    Mismatch {
        declared: &'static str,
        found: &'static str,
    },
    /// The body is not audio ingestion can read (422).
    #[error("{0}")]
    NotAudio(String),
    /// The body is audio, but its header declares values out of range: a
    /// sample rate of 0, a block alignment that does not match its
    /// channels and bits (422).
    #[error("{0}")]
    InvalidFormat(String),
}

/// Probes `window` (the first bytes of the upload, or all of it) as
/// `declared`.
pub fn probe(window: &Bytes, declared: Container) -> Result<Probed, ProbeError> {
    let Some(found) = sniff(window) else {
        return Err(ProbeError::NotAudio(
            "body is not a recognised audio format".into(),
        ));
    };
    if found != declared {
        return Err(ProbeError::Mismatch {
            declared: declared.mime(),
            found: found.name(),
        });
    }
    let layout = match declared {
        Container::Wav => {
            let layout = riff::parse(window).map_err(|why| ProbeError::NotAudio(why.into()))?;
            riff::check(&layout).map_err(|why| ProbeError::InvalidFormat(why.into()))?;
            Some(layout)
        }
        _ => None,
    };
    let info = match (symphonia_probe(window, declared), layout) {
        (Ok(params), _) => audio_info(&params, declared)?,
        // symphonia 0.5 insists on an 18-byte `fmt ` chunk for G.711, but
        // plenty of recorders write the 16-byte PCM layout: read those here.
        (Err(_), Some(layout)) if matches!(layout.format_tag, FORMAT_MULAW | FORMAT_ALAW) => {
            g711_info(&layout)
        }
        (Err(why), _) => return Err(ProbeError::NotAudio(why)),
    };
    Ok(Probed {
        info,
        declared_len: layout.map(|layout| layout.data_end()),
        wav: layout,
    })
}

/// symphonia's probe over the window. A panic inside it (a third-party
/// parser meeting input nobody thought of) is a refusal of that input, not
/// a crash of the request: the panic hook has logged it.
fn symphonia_probe(window: &Bytes, declared: Container) -> Result<CodecParameters, String> {
    std::panic::catch_unwind(|| symphonia_probe_unguarded(window, declared))
        .unwrap_or_else(|_| Err(format!("unreadable {} audio", declared.name())))
}

fn symphonia_probe_unguarded(
    window: &Bytes,
    declared: Container,
) -> Result<CodecParameters, String> {
    // Read-only: a seekable source would let a reader look for the end of
    // the stream, which is not in the window.
    let source = ReadOnlySource::new(Cursor::new(window.clone()));
    let stream = MediaSourceStream::new(Box::new(source), Default::default());
    let mut hint = Hint::new();
    hint.mime_type(declared.mime());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|error| format!("unreadable {} audio: {error}", declared.name()))?;
    probed
        .format
        .tracks()
        .iter()
        .find(|track| track.codec_params.codec != CODEC_TYPE_NULL)
        .map(|track| track.codec_params.clone())
        .ok_or_else(|| format!("{} file without an audio track", declared.name()))
}

fn audio_info(params: &CodecParameters, container: Container) -> Result<AudioInfo, ProbeError> {
    let codec = symphonia::default::get_codecs()
        .get_codec(params.codec)
        .map(|codec| codec.short_name)
        .ok_or_else(|| {
            ProbeError::NotAudio(format!("unsupported codec in {} file", container.name()))
        })?;
    let sample_rate = params
        .sample_rate
        .ok_or_else(|| ProbeError::NotAudio("audio without a sample rate".into()))?;
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(ProbeError::InvalidFormat(
            "sample rate out of range (1000 to 384000 hz)".into(),
        ));
    }
    let channels = params
        .channels
        .map(|channels| channels.count())
        .ok_or_else(|| ProbeError::NotAudio("audio without channels".into()))?;
    let channels = u16::try_from(channels)
        .ok()
        .filter(|count| (1..=MAX_CHANNELS).contains(count))
        .ok_or_else(|| ProbeError::InvalidFormat("channel count out of range (1 to 8)".into()))?;
    let codec = match container {
        Container::Wav | Container::Ogg => format!("{}/{codec}", container.name()),
        Container::Mpeg | Container::Flac => codec.to_owned(),
    };
    Ok(AudioInfo {
        codec,
        sample_rate,
        channels,
        duration_ms: duration_ms(params.n_frames, sample_rate),
    })
}

/// `layout` has passed [`riff::check`].
fn g711_info(layout: &WavLayout) -> AudioInfo {
    let codec = if layout.format_tag == FORMAT_MULAW {
        "wav/pcm_mulaw"
    } else {
        "wav/pcm_alaw"
    };
    let frames = layout.data_len / u64::from(layout.block_align);
    AudioInfo {
        codec: codec.to_owned(),
        sample_rate: layout.sample_rate,
        channels: layout.channels,
        duration_ms: duration_ms(Some(frames), layout.sample_rate),
    }
}

/// 0 when the stream doesn't say how many frames it has (an MP3 without a
/// Xing/VBRI header, a live OGG stream).
fn duration_ms(frames: Option<u64>, sample_rate: u32) -> u64 {
    let Some(frames) = frames else { return 0 };
    if sample_rate == 0 {
        return 0;
    }
    let ms = u128::from(frames) * 1000 / u128::from(sample_rate);
    u64::try_from(ms).unwrap_or(u64::MAX)
}
