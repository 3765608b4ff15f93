//! The 16-bit PCM WAV that [`render_wav`](super::render_wav) writes, and
//! the tone that replaces redacted audio.

use std::f64::consts::TAU;

/// The tone's frequency: the classic "bleep", well inside telephone band.
pub const TONE_HZ: u32 = 1_000;

/// The tone's peak: 10^(-12/20) of full scale (32768), about -12 dBFS.
pub const TONE_PEAK: f64 = 8_231.0;

/// The canonical 44-byte header of a 16-bit PCM WAV holding `data_len`
/// bytes of interleaved samples. `data_len` must be at most
/// `u32::MAX - 36` (the RIFF size is 32-bit); larger values are clamped.
pub fn header(sample_rate: u32, channels: u16, data_len: u64) -> [u8; 44] {
    let data_len = u32::try_from(data_len.min(u64::from(u32::MAX - 36))).unwrap_or(u32::MAX - 36);
    let block_align = channels.saturating_mul(2);
    let byte_rate = sample_rate.saturating_mul(u32::from(block_align));
    let mut header = [0u8; 44];
    let fields: [(usize, &[u8]); 13] = [
        (0, b"RIFF"),
        (4, &(36 + data_len).to_le_bytes()),
        (8, b"WAVE"),
        (12, b"fmt "),
        (16, &16u32.to_le_bytes()),
        // WAVE_FORMAT_PCM.
        (20, &1u16.to_le_bytes()),
        (22, &channels.to_le_bytes()),
        (24, &sample_rate.to_le_bytes()),
        (28, &byte_rate.to_le_bytes()),
        (32, &block_align.to_le_bytes()),
        (34, &16u16.to_le_bytes()),
        (36, b"data"),
        (40, &data_len.to_le_bytes()),
    ];
    for (at, bytes) in fields {
        header[at..at + bytes.len()].copy_from_slice(bytes);
    }
    header
}

/// The tone's sample at `frame` of a recording at `rate` Hz. The phase
/// follows the frame index, so the tone is continuous across packets and
/// identical on every channel it covers. Below 2 kHz sampling the tone
/// aliases; it is still no trace of the original.
pub fn tone_sample(frame: u64, rate: u32) -> i16 {
    if rate == 0 {
        return 0;
    }
    // A whole number of cycles fits in one second: reducing the frame
    // modulo the rate keeps the angle small and exact.
    let within_second = frame % u64::from(rate);
    let cycles = (within_second * u64::from(TONE_HZ)) % u64::from(rate);
    let angle = TAU * cycles as f64 / f64::from(rate);
    (TONE_PEAK * angle.sin()).round() as i16
}
