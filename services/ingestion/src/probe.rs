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

use crate::riff::{self, FORMAT_ALAW, FORMAT_MULAW, WavLayout};

/// The containers ingestion accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    Wav,
    Mpeg,
    Flac,
    Ogg,
}

impl Container {
    /// The container a `Content-Type` declares; `None` for anything else.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let mime = value.split(';').next().unwrap_or_default().trim();
        match mime.to_ascii_lowercase().as_str() {
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some(Self::Wav),
            "audio/mpeg" | "audio/mp3" => Some(Self::Mpeg),
            "audio/flac" | "audio/x-flac" => Some(Self::Flac),
            "audio/ogg" => Some(Self::Ogg),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Wav => "wav",
            Self::Mpeg => "mpeg",
            Self::Flac => "flac",
            Self::Ogg => "ogg",
        }
    }

    fn mime(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
            Self::Mpeg => "audio/mpeg",
            Self::Flac => "audio/flac",
            Self::Ogg => "audio/ogg",
        }
    }
}

/// Which container the leading bytes belong to, by their magic numbers.
pub fn sniff(window: &[u8]) -> Option<Container> {
    if window.get(0..4) == Some(b"RIFF") && window.get(8..12) == Some(b"WAVE") {
        return Some(Container::Wav);
    }
    if window.starts_with(b"fLaC") {
        return Some(Container::Flac);
    }
    if window.starts_with(b"OggS") {
        return Some(Container::Ogg);
    }
    if window.starts_with(b"ID3") {
        // An ID3v2 tag (size: four 7-bit bytes) may precede any stream.
        let size = window
            .get(6..10)?
            .iter()
            .fold(0usize, |acc, b| (acc << 7) | usize::from(b & 0x7f));
        let footer = if window.get(5).is_some_and(|flags| flags & 0x10 != 0) {
            10
        } else {
            0
        };
        let rest = window.get(10 + size + footer..)?;
        return match sniff(rest) {
            Some(container) => Some(container),
            None if rest.is_empty() => None,
            None => Some(Container::Mpeg).filter(|_| is_mpeg_sync(rest)),
        };
    }
    if is_mpeg_sync(window) {
        return Some(Container::Mpeg);
    }
    None
}

fn is_mpeg_sync(bytes: &[u8]) -> bool {
    matches!(bytes, [0xff, second, ..] if second & 0xe0 == 0xe0)
}

/// What probing found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probed {
    pub info: AudioInfo,
    /// For WAV: the file length the header declares. A body shorter than
    /// that is truncated.
    pub declared_len: Option<u64>,
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
            Some(riff::parse(window).map_err(|why| ProbeError::NotAudio(why.into()))?)
        }
        _ => None,
    };
    let info = match (symphonia_probe(window, declared), layout) {
        (Ok(params), _) => audio_info(&params, declared)?,
        // symphonia 0.5 insists on an 18-byte `fmt ` chunk for G.711, but
        // plenty of recorders write the 16-byte PCM layout: read those here.
        (Err(_), Some(layout)) if matches!(layout.format_tag, FORMAT_MULAW | FORMAT_ALAW) => {
            g711_info(&layout)?
        }
        (Err(why), _) => return Err(ProbeError::NotAudio(why)),
    };
    Ok(Probed {
        info,
        declared_len: layout.map(|layout| layout.data_end()),
    })
}

fn symphonia_probe(window: &Bytes, declared: Container) -> Result<CodecParameters, String> {
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
        .filter(|rate| *rate > 0)
        .ok_or_else(|| ProbeError::NotAudio("audio without a sample rate".into()))?;
    let channels = params
        .channels
        .map(|channels| channels.count())
        .and_then(|count| u16::try_from(count).ok())
        .filter(|count| *count > 0)
        .ok_or_else(|| ProbeError::NotAudio("audio without channels".into()))?;
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

fn g711_info(layout: &WavLayout) -> Result<AudioInfo, ProbeError> {
    if layout.sample_rate == 0 || layout.channels == 0 || layout.block_align == 0 {
        return Err(ProbeError::NotAudio(
            "wav header: invalid g.711 format".into(),
        ));
    }
    let codec = if layout.format_tag == FORMAT_MULAW {
        "wav/pcm_mulaw"
    } else {
        "wav/pcm_alaw"
    };
    let frames = layout.data_len / u64::from(layout.block_align);
    Ok(AudioInfo {
        codec: codec.to_owned(),
        sample_rate: layout.sample_rate,
        channels: layout.channels,
        duration_ms: duration_ms(Some(frames), layout.sample_rate),
    })
}

/// 0 when the stream doesn't say how many frames it has (an MP3 without a
/// Xing/VBRI header, a live OGG stream).
fn duration_ms(frames: Option<u64>, sample_rate: u32) -> u64 {
    let Some(frames) = frames else { return 0 };
    let ms = u128::from(frames) * 1000 / u128::from(sample_rate);
    u64::try_from(ms).unwrap_or(u64::MAX)
}
