//! WAV files made in the test, so no audio fixture is needed.

/// ITU-T G.711 µ-law encoding of one 16-bit sample.
fn mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(CLIP) + BIAS;
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

fn tone(i: usize, rate: u32, hz: f64) -> i16 {
    let t = i as f64 / f64::from(rate);
    ((t * hz * std::f64::consts::TAU).sin() * 12_000.0) as i16
}

/// 8 kHz mono G.711 µ-law, the usual contact-center format (8,000 bytes a second).
pub fn mulaw_wav(seconds: u32, seed: u32) -> Vec<u8> {
    mulaw_wav_frames(8_000 * seconds, seed)
}

/// [`mulaw_wav`] of exactly `frames` samples (a frame is 1/8 ms), for
/// durations that are not whole seconds. Its header is 58 bytes.
pub fn mulaw_wav_frames(frames: u32, seed: u32) -> Vec<u8> {
    let rate = 8_000u32;
    let samples = frames as usize;
    let data: Vec<u8> = (0..samples)
        .map(|i| mulaw(tone(i, rate, 300.0 + f64::from(seed % 500))))
        .collect();
    let mut out = Vec::with_capacity(data.len() + 58);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(50 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    // fmt: non-PCM formats carry cbSize (fmt chunk of 18 bytes) and a fact chunk.
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&18u32.to_le_bytes());
    out.extend_from_slice(&7u16.to_le_bytes()); // WAVE_FORMAT_MULAW
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(b"fact");
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&(samples as u32).to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// 16-bit PCM stereo (dual-channel: agent left, customer right).
pub fn pcm16_stereo_wav(seconds: u32, rate: u32) -> Vec<u8> {
    let frames = (rate * seconds) as usize;
    let mut data = Vec::with_capacity(frames * 4);
    for i in 0..frames {
        data.extend_from_slice(&tone(i, rate, 440.0).to_le_bytes());
        data.extend_from_slice(&tone(i, rate, 660.0).to_le_bytes());
    }
    let mut out = Vec::with_capacity(data.len() + 44);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}
