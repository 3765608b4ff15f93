//! Test audio: a dual-channel 8 kHz 16-bit WAV whose samples are never 0
//! (so silence is told from audio), and a reader for rendered WAVs.

pub const RATE: u32 = 8_000;

/// `seconds` of stereo audio: left and right carry different ramps.
pub fn stereo_wav(seconds: u32, seed: u8) -> Vec<u8> {
    let frames = RATE * seconds;
    let mut samples = Vec::with_capacity(frames as usize * 2);
    for frame in 0..frames {
        let base = ((frame * 37 + u32::from(seed) * 101) % 20_000) as i16 + 500;
        samples.push(base);
        samples.push(-base);
    }
    wav(RATE, 2, &samples)
}

pub fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// The interleaved samples of a 16-bit PCM WAV with a 44-byte header.
pub fn samples(wav: &[u8]) -> (u16, Vec<i16>) {
    assert_eq!(&wav[..4], b"RIFF", "a wav");
    let channels = u16::from_le_bytes([wav[22], wav[23]]);
    let data = &wav[44..];
    let samples = data
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    (channels, samples)
}
