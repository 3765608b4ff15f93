//! A tiny WAV writer for real test recordings: PCM 16-bit and G.711.

const FORMAT_PCM: u16 = 1;
const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;

/// How the `fmt ` chunk is laid out.
#[derive(Clone, Copy)]
enum Fmt {
    /// 16 bytes: what PCM files carry, and what some recorders write for
    /// G.711 too.
    Short,
    /// 18 bytes with `cbSize = 0`, plus a `fact` chunk: the canonical
    /// non-PCM layout.
    Extended,
}

fn riff(
    format_tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
    fmt: Fmt,
    data: &[u8],
) -> Vec<u8> {
    let block_align = channels * bits / 8;
    let mut fmt_chunk = Vec::new();
    fmt_chunk.extend_from_slice(&format_tag.to_le_bytes());
    fmt_chunk.extend_from_slice(&channels.to_le_bytes());
    fmt_chunk.extend_from_slice(&sample_rate.to_le_bytes());
    fmt_chunk.extend_from_slice(&(sample_rate * u32::from(block_align)).to_le_bytes());
    fmt_chunk.extend_from_slice(&block_align.to_le_bytes());
    fmt_chunk.extend_from_slice(&bits.to_le_bytes());
    let mut chunks = Vec::new();
    if let Fmt::Extended = fmt {
        fmt_chunk.extend_from_slice(&0u16.to_le_bytes());
    }
    chunk(&mut chunks, b"fmt ", &fmt_chunk);
    if let Fmt::Extended = fmt {
        let frames = (data.len() / usize::from(block_align)) as u32;
        chunk(&mut chunks, b"fact", &frames.to_le_bytes());
    }
    chunk(&mut chunks, b"data", data);
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(4 + chunks.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVE");
    wav.extend_from_slice(&chunks);
    wav
}

fn chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(id);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

/// A WAV whose `fmt ` chunk says exactly what it is given, consistent or
/// not, around `data`.
pub fn with_header(
    format_tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
    block_align: u16,
    data: &[u8],
) -> Vec<u8> {
    let mut fmt_chunk = Vec::new();
    fmt_chunk.extend_from_slice(&format_tag.to_le_bytes());
    fmt_chunk.extend_from_slice(&channels.to_le_bytes());
    fmt_chunk.extend_from_slice(&sample_rate.to_le_bytes());
    fmt_chunk.extend_from_slice(
        &sample_rate
            .wrapping_mul(u32::from(block_align))
            .to_le_bytes(),
    );
    fmt_chunk.extend_from_slice(&block_align.to_le_bytes());
    fmt_chunk.extend_from_slice(&bits.to_le_bytes());
    let mut chunks = Vec::new();
    chunk(&mut chunks, b"fmt ", &fmt_chunk);
    chunk(&mut chunks, b"data", data);
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(4 + chunks.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVE");
    wav.extend_from_slice(&chunks);
    wav
}

/// A tone, as signed 16-bit samples.
fn tone(frames: usize, sample_rate: u32, hz: f64) -> impl Iterator<Item = i16> {
    (0..frames).map(move |i| {
        let t = i as f64 / f64::from(sample_rate);
        ((t * hz * std::f64::consts::TAU).sin() * 12_000.0) as i16
    })
}

/// Stereo PCM s16le: a different tone on each side (agent left, customer
/// right, as a dual-channel recorder writes them).
pub fn pcm16_stereo(sample_rate: u32, seconds: u32) -> Vec<u8> {
    let frames = (sample_rate * seconds) as usize;
    let mut data = Vec::with_capacity(frames * 4);
    for (left, right) in tone(frames, sample_rate, 440.0).zip(tone(frames, sample_rate, 660.0)) {
        data.extend_from_slice(&left.to_le_bytes());
        data.extend_from_slice(&right.to_le_bytes());
    }
    riff(FORMAT_PCM, 2, sample_rate, 16, Fmt::Short, &data)
}

/// Mono 8 kHz G.711 µ-law, the usual contact-center format, laid out the
/// canonical way (18-byte `fmt `, `fact` chunk).
pub fn mulaw_mono_8k(seconds: u32) -> Vec<u8> {
    let data: Vec<u8> = tone(8000 * seconds as usize, 8000, 440.0)
        .map(mulaw)
        .collect();
    riff(FORMAT_MULAW, 1, 8000, 8, Fmt::Extended, &data)
}

/// Mono 8 kHz G.711 A-law with a 16-byte `fmt ` chunk, which symphonia 0.5
/// refuses and ingestion reads itself.
pub fn alaw_mono_8k_short_fmt(seconds: u32) -> Vec<u8> {
    let data: Vec<u8> = tone(8000 * seconds as usize, 8000, 440.0)
        .map(alaw)
        .collect();
    riff(FORMAT_ALAW, 1, 8000, 8, Fmt::Short, &data)
}

/// G.711 µ-law encoding of one sample.
fn mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let sign = if sample < 0 { 0x80 } else { 0 };
    let magnitude = (i32::from(sample).abs().min(CLIP)) + BIAS;
    let exponent = (0..8)
        .rev()
        .find(|e| magnitude & (0x80 << e) != 0)
        .unwrap_or(0);
    let mantissa = (magnitude >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// G.711 A-law encoding of one sample.
fn alaw(sample: i16) -> u8 {
    let sign = if sample >= 0 { 0x80u8 } else { 0 };
    let magnitude = (i32::from(sample).abs() >> 3).min(0x0fff);
    let byte = if magnitude < 32 {
        (magnitude >> 1) as u8
    } else {
        let exponent = (5..=11)
            .rev()
            .find(|e| magnitude & (1 << e) != 0)
            .unwrap_or(5);
        let mantissa = (magnitude >> (exponent - 4)) & 0x0f;
        (((exponent - 4) << 4) as u8) | mantissa as u8
    };
    (byte | sign) ^ 0x55
}
