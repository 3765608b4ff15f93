//! Audio containers: which one a `Content-Type` declares (ingestion) and
//! which one leading bytes are (ingestion's probe, and storage's playback
//! `Content-Type`, so a browser plays what it is sent).

/// The audio containers callvault accepts.
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

    /// The media type a response serving this container carries.
    pub fn mime(self) -> &'static str {
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
