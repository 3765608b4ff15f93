//! A minimal RIFF/WAVE header walk: where the `data` chunk starts and how
//! long it claims to be (symphonia does not expose either), and the `fmt `
//! fields, for G.711 files whose `fmt ` chunk symphonia 0.5 refuses.

/// `WAVE_FORMAT_ALAW` and `WAVE_FORMAT_MULAW` in the `fmt ` chunk.
pub const FORMAT_ALAW: u16 = 0x0006;
pub const FORMAT_MULAW: u16 = 0x0007;
pub const FORMAT_PCM: u16 = 0x0001;
pub const FORMAT_IEEE_FLOAT: u16 = 0x0003;
const FORMAT_EXTENSIBLE: u16 = 0xfffe;

/// The probe's limits on what a header may declare: telephony runs at 8 or
/// 16 kHz, studio audio at up to 384 kHz; a stereo call has two channels,
/// a conference bridge a few more.
pub const MIN_SAMPLE_RATE: u32 = 1_000;
pub const MAX_SAMPLE_RATE: u32 = 384_000;
pub const MAX_CHANNELS: u16 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavLayout {
    /// The format tag, or the sub-format's for `WAVE_FORMAT_EXTENSIBLE`.
    pub format_tag: u16,
    pub channels: u16,
    pub sample_rate: u32,
    pub block_align: u16,
    pub bits_per_sample: u16,
    /// Offset of the first audio byte in the file.
    pub data_offset: u64,
    /// Audio bytes the `data` chunk header declares.
    pub data_len: u64,
}

impl WavLayout {
    /// File length the header promises: a shorter body is truncated.
    pub fn data_end(&self) -> u64 {
        self.data_offset + self.data_len
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// Walks the chunks of a RIFF/WAVE header in `window` up to the `data`
/// chunk. Fails (with a reason safe to show) when the header is malformed
/// or does not fit in the window.
pub fn parse(window: &[u8]) -> Result<WavLayout, &'static str> {
    if window.get(0..4) != Some(b"RIFF") || window.get(8..12) != Some(b"WAVE") {
        return Err("not a riff/wave file");
    }
    let mut at = 12usize;
    let mut format = None;
    loop {
        // Also keeps the offsets below far from overflowing.
        if at >= window.len() {
            return Err("wav header: no data chunk in the first bytes of the file");
        }
        let (Some(id), Some(len)) = (window.get(at..at + 4), u32_at(window, at + 4)) else {
            return Err("wav header: no data chunk in the first bytes of the file");
        };
        let body = at + 8;
        if id == b"data" {
            let Some((format_tag, channels, sample_rate, block_align, bits_per_sample)) = format
            else {
                return Err("wav header: data chunk before fmt chunk");
            };
            return Ok(WavLayout {
                format_tag,
                channels,
                sample_rate,
                block_align,
                bits_per_sample,
                data_offset: body as u64,
                data_len: u64::from(len),
            });
        }
        if id == b"fmt " {
            let fmt = window
                .get(body..body + (len as usize).min(40))
                .filter(|fmt| fmt.len() >= 16)
                .ok_or("wav header: short fmt chunk")?;
            let mut tag = u16_at(fmt, 0).ok_or("wav header: short fmt chunk")?;
            if tag == FORMAT_EXTENSIBLE {
                // The sub-format GUID starts with the plain format tag.
                tag = u16_at(fmt, 24).ok_or("wav header: short extensible fmt chunk")?;
            }
            let channels = u16_at(fmt, 2).ok_or("wav header: short fmt chunk")?;
            let sample_rate = u32_at(fmt, 4).ok_or("wav header: short fmt chunk")?;
            let block_align = u16_at(fmt, 12).ok_or("wav header: short fmt chunk")?;
            let bits = u16_at(fmt, 14).ok_or("wav header: short fmt chunk")?;
            format = Some((tag, channels, sample_rate, block_align, bits));
        }
        // Chunks are padded to an even length.
        let padded = (len as usize).saturating_add(len as usize & 1);
        at = body.saturating_add(padded);
    }
}

/// Checks the values of a parsed header before anything computes with
/// them: a sample rate of 0, say, would divide by zero further on. Fails
/// with a reason safe to show.
pub fn check(layout: &WavLayout) -> Result<(), &'static str> {
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&layout.sample_rate) {
        return Err("wav header: sample rate out of range (1000 to 384000 hz)");
    }
    if !(1..=MAX_CHANNELS).contains(&layout.channels) {
        return Err("wav header: channel count out of range (1 to 8)");
    }
    let bits_allowed: &[u16] = match layout.format_tag {
        FORMAT_PCM => &[8, 16, 24, 32],
        FORMAT_IEEE_FLOAT => &[32, 64],
        FORMAT_ALAW | FORMAT_MULAW => &[8],
        // Compressed formats (ADPCM, GSM…) have their own layouts, which
        // symphonia checks.
        _ => &[],
    };
    if !bits_allowed.is_empty() {
        if !bits_allowed.contains(&layout.bits_per_sample) {
            return Err("wav header: bits per sample not valid for the format");
        }
        let frame = u32::from(layout.channels) * u32::from(layout.bits_per_sample / 8);
        if u32::from(layout.block_align) != frame {
            return Err("wav header: block alignment does not match channels and bits");
        }
    }
    if layout.block_align == 0 {
        return Err("wav header: block alignment of 0");
    }
    if layout.data_len == 0 {
        return Err("wav header: empty data chunk");
    }
    if !bits_allowed.is_empty()
        && !layout
            .data_len
            .is_multiple_of(u64::from(layout.block_align))
    {
        return Err("wav header: data length is not a whole number of sample frames");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_data_chunk_after_other_chunks() {
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend_from_slice(b"fmt \x10\0\0\0");
        wav.extend_from_slice(&[7, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0]);
        wav.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        wav.extend_from_slice(b"data\x10\0\0\0");
        let layout = parse(&wav).expect("layout");
        assert_eq!(layout.format_tag, FORMAT_MULAW);
        assert_eq!((layout.channels, layout.sample_rate), (1, 8000));
        assert_eq!(layout.data_offset, wav.len() as u64);
        assert_eq!(layout.data_end(), wav.len() as u64 + 16);
    }

    #[test]
    fn refuses_headers_without_data() {
        assert!(parse(b"RIFF\0\0\0\0WAVEfmt ").is_err());
        assert!(parse(b"hello, world").is_err());
    }
}
