//! Silencing pause spans in the stored audio itself (PCI DSS): a card
//! number spoken while the recorder failed to pause is overwritten with
//! digital silence before a byte of it reaches storage.
//!
//! Only WAV with PCM, IEEE float or G.711 samples can be silenced in place
//! (fixed-size frames at known offsets); compressed formats would need a
//! re-encode, so a tenant that silences refuses them when they carry
//! pauses.

use bytes::{Bytes, BytesMut};
use callvault_contracts::call::PauseSpan;

use crate::riff::{FORMAT_ALAW, FORMAT_IEEE_FLOAT, FORMAT_MULAW, FORMAT_PCM, WavLayout};

/// Overwrites the pause spans of one upload as its bytes go by, and keeps
/// the digest of the audio as it was received (a retry of the upload is
/// compared with that, not with the stored audio).
pub(crate) struct Silencer {
    /// File offsets `[start, end)` to overwrite, sorted, not overlapping.
    ranges: Vec<(u64, u64)>,
    fill: u8,
    /// File offset of the next byte.
    offset: u64,
    received: aws_lc_rs::digest::Context,
}

impl Silencer {
    /// None when `layout` holds samples that can't be silenced in place.
    pub(crate) fn new(layout: &WavLayout, pauses: &[PauseSpan]) -> Option<Self> {
        let fill = silence_byte(layout)?;
        let frame = u64::from(layout.block_align);
        let rate = u64::from(layout.sample_rate);
        let ranges = pauses
            .iter()
            .filter_map(|pause| {
                // Every frame the span touches: floor of its start, ceiling
                // of its end.
                let first = u128::from(pause.start_ms) * u128::from(rate) / 1000;
                let last = (u128::from(pause.end_ms) * u128::from(rate)).div_ceil(1000);
                let to_offset = |frames: u128| {
                    let bytes = frames.saturating_mul(u128::from(frame));
                    u64::try_from(bytes)
                        .unwrap_or(u64::MAX)
                        .min(layout.data_len)
                        .saturating_add(layout.data_offset)
                };
                let (start, end) = (to_offset(first), to_offset(last));
                (start < end).then_some((start, end))
            })
            .collect();
        Some(Silencer {
            ranges,
            fill,
            offset: 0,
            received: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
        })
    }

    /// The next chunk of the body, silenced where it crosses a span. Chunks
    /// that cross none pass through without a copy.
    pub(crate) fn apply(&mut self, chunk: Bytes) -> Bytes {
        self.received.update(&chunk);
        let start = self.offset;
        let end = start + chunk.len() as u64;
        self.offset = end;
        let mut crossing = self
            .ranges
            .iter()
            .filter(|(from, to)| *from < end && *to > start)
            .peekable();
        if crossing.peek().is_none() {
            return chunk;
        }
        let mut silenced = BytesMut::from(&chunk[..]);
        for &(from, to) in crossing {
            let from = usize::try_from(from.max(start) - start).unwrap_or(usize::MAX);
            let to = usize::try_from(to.min(end) - start).unwrap_or(usize::MAX);
            silenced[from..to].fill(self.fill);
        }
        silenced.freeze()
    }

    /// Hex SHA-256 of everything [`Silencer::apply`] was given.
    pub(crate) fn received_sha256(self) -> String {
        hex::encode(self.received.finish())
    }
}

/// The byte whose repetition is silence in this sample format.
fn silence_byte(layout: &WavLayout) -> Option<u8> {
    match (layout.format_tag, layout.bits_per_sample) {
        // Unsigned 8-bit PCM is centred on 128.
        (FORMAT_PCM, 8) => Some(0x80),
        (FORMAT_PCM, 16 | 24 | 32) | (FORMAT_IEEE_FLOAT, 32 | 64) => Some(0x00),
        // G.711's codes for zero amplitude (μ-law 0xFF, A-law 0xD5).
        (FORMAT_MULAW, 8) => Some(0xFF),
        (FORMAT_ALAW, 8) => Some(0xD5),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(format_tag: u16, bits: u16, channels: u16) -> WavLayout {
        let block_align = bits / 8 * channels;
        WavLayout {
            format_tag,
            channels,
            sample_rate: 8_000,
            block_align,
            bits_per_sample: bits,
            data_offset: 44,
            data_len: 8_000 * u64::from(block_align) * 2,
        }
    }

    fn run(silencer: &mut Silencer, body: &[u8], chunk: usize) -> Vec<u8> {
        body.chunks(chunk)
            .flat_map(|part| silencer.apply(Bytes::copy_from_slice(part)).to_vec())
            .collect()
    }

    #[test]
    fn silences_exactly_the_frames_a_span_touches_whatever_the_chunking() {
        let wav = layout(FORMAT_PCM, 16, 2);
        let body: Vec<u8> = (0..(44 + wav.data_len))
            .map(|i| (i % 251) as u8 | 1)
            .collect();
        let pauses = [PauseSpan {
            start_ms: 500,
            end_ms: 750,
        }];
        for chunk in [1, 7, 4096, body.len()] {
            let mut silencer = Silencer::new(&wav, &pauses).expect("pcm");
            let out = run(&mut silencer, &body, chunk);
            // 8 kHz: frames 4000..6000, 4 bytes each, after the 44-byte header.
            let (from, to) = (44 + 4_000 * 4, 44 + 6_000 * 4);
            assert!(out[from..to].iter().all(|&b| b == 0), "chunk {chunk}");
            assert_eq!(out[..from], body[..from]);
            assert_eq!(out[to..], body[to..]);
            let expected =
                hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body));
            assert_eq!(silencer.received_sha256(), expected);
        }
    }

    #[test]
    fn g711_silence_is_its_zero_code_and_spans_past_the_end_stop_there() {
        let mulaw = layout(FORMAT_MULAW, 8, 1);
        let body = vec![0x12u8; (44 + mulaw.data_len) as usize];
        let pauses = [PauseSpan {
            start_ms: 1_900,
            end_ms: 60_000,
        }];
        let mut silencer = Silencer::new(&mulaw, &pauses).expect("mulaw");
        let out = run(&mut silencer, &body, 1000);
        let from = 44 + 15_200;
        assert!(out[from..].iter().all(|&b| b == 0xFF));
        assert!(out[..from].iter().all(|&b| b == 0x12));
        let alaw = layout(FORMAT_ALAW, 8, 1);
        let mut silencer = Silencer::new(&alaw, &pauses).expect("alaw");
        assert_eq!(run(&mut silencer, &body, 1000)[from], 0xD5);
    }

    #[test]
    fn compressed_or_odd_samples_cannot_be_silenced() {
        assert!(Silencer::new(&layout(0x0055, 16, 1), &[]).is_none());
        assert!(Silencer::new(&layout(FORMAT_PCM, 12, 1), &[]).is_none());
    }
}
