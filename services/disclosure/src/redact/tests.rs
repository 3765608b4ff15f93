use std::io::Cursor;

use super::*;

mod edges;
mod refusals;

const AGENT_LEFT: ChannelMap = ChannelMap {
    agent: Some(0),
    customer: Some(1),
};

fn hint(extension: &str) -> Hint {
    let mut hint = Hint::new();
    hint.with_extension(extension);
    hint
}

fn span(channel: SpanChannel, start_ms: u64, end_ms: u64, mode: RedactionMode) -> RedactionSpan {
    RedactionSpan {
        channel,
        start_ms,
        end_ms,
        mode,
    }
}

/// Deterministic noise plus a tone per channel, never 0, so silence shows.
fn sample_at(frame: u64, channel: u16) -> i16 {
    let mut x = frame.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(channel).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    let noise = (x % 2001) as i16 - 1000;
    let tone = (5000.0 * (frame as f64 * (0.3 + 0.2 * f64::from(channel))).sin()) as i16;
    let value = tone.saturating_add(noise);
    if value == 0 { 1 } else { value }
}

fn pcm16_wav(rate: u32, channels: u16, frames: u64) -> Vec<u8> {
    let mut wav = wav::header(rate, channels, frames * u64::from(channels) * 2).to_vec();
    for frame in 0..frames {
        for channel in 0..channels {
            wav.extend_from_slice(&sample_at(frame, channel).to_le_bytes());
        }
    }
    wav
}

/// A G.711 WAV (`tag` 6 A-law, 7 µ-law) with the 16-byte `fmt ` most
/// recorders write, or the 18-byte one symphonia reads; a JUNK chunk of odd
/// length (padded) before `fmt ` exercises the chunk walk.
fn g711_wav(tag: u16, fmt_len: u32, rate: u32, channels: u16, data: &[u8]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    body.extend_from_slice(b"JUNK\x05\0\0\0abcde\0");
    body.extend_from_slice(b"fmt ");
    body.extend_from_slice(&fmt_len.to_le_bytes());
    body.extend_from_slice(&tag.to_le_bytes());
    body.extend_from_slice(&channels.to_le_bytes());
    body.extend_from_slice(&rate.to_le_bytes());
    body.extend_from_slice(&(rate * u32::from(channels)).to_le_bytes());
    body.extend_from_slice(&channels.to_le_bytes());
    body.extend_from_slice(&8u16.to_le_bytes());
    if fmt_len == 18 {
        body.extend_from_slice(&0u16.to_le_bytes());
    }
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(body.len() as u32).to_le_bytes());
    wav.extend_from_slice(&body);
    wav
}

/// ITU-T G.711 µ-law expansion, written from the standard's formula (not
/// symphonia's table) so the decoded originals are checked independently.
fn mulaw_reference(byte: u8) -> i16 {
    let byte = !byte;
    let magnitude = ((i32::from(byte & 0x0f) << 3) + 0x84) << ((byte >> 4) & 0x07);
    let value = magnitude - 0x84;
    (if byte & 0x80 != 0 { -value } else { value }) as i16
}

/// ITU-T G.711 A-law expansion.
fn alaw_reference(byte: u8) -> i16 {
    let byte = byte ^ 0x55;
    let mantissa = i32::from(byte & 0x0f);
    let exponent = (byte >> 4) & 0x07;
    let magnitude = match exponent {
        0 => (mantissa << 4) + 8,
        _ => ((mantissa << 4) + 0x108) << (exponent - 1),
    };
    (if byte & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }) as i16
}

fn g711_data(frames: u64, channels: u16) -> Vec<u8> {
    (0..frames * u64::from(channels))
        .map(|i| (i.wrapping_mul(37) % 251) as u8 ^ 0x2a)
        .collect()
}

fn render(
    source: Vec<u8>,
    extension: &str,
    spans: &[RedactionSpan],
    map: ChannelMap,
) -> Result<(RenderReport, Vec<u8>), RedactError> {
    let mut out = Vec::new();
    let report = render_wav(Cursor::new(source), &hint(extension), spans, map, &mut out)?;
    Ok((report, out))
}

/// Checks every sample of `rendered` against `original`: inside a span on
/// one of its channels 0 or the tone, elsewhere the original. `spans`
/// pairs each span with the channel indices it must hit. Returns how many
/// samples the spans changed.
fn check(
    original: &[i16],
    rendered: &[i16],
    channels: u16,
    rate: u32,
    spans: &[(RedactionSpan, Vec<usize>)],
) -> usize {
    assert_eq!(
        original.len(),
        rendered.len(),
        "same length as the original"
    );
    let width = usize::from(channels);
    let mut changed = 0;
    for (i, (&before, &after)) in original.iter().zip(rendered).enumerate() {
        let (frame, channel) = ((i / width) as u64, i % width);
        let hit = spans.iter().find(|(span, on)| {
            on.contains(&channel)
                && frame >= span.start_ms * u64::from(rate) / 1000
                && frame < span.end_ms * u64::from(rate) / 1000
        });
        match hit {
            None => assert_eq!(
                after, before,
                "frame {frame} channel {channel} is the original"
            ),
            Some((span, _)) => {
                let expected = match span.mode {
                    RedactionMode::Silence => 0,
                    RedactionMode::Tone => wav::tone_sample(frame, rate),
                };
                assert_eq!(
                    after, expected,
                    "frame {frame} channel {channel} is redacted"
                );
                changed += usize::from(before != after);
            }
        }
    }
    changed
}

#[test]
fn pcm16_dual_channel_spans_hit_their_channel_only() {
    let source = pcm16_wav(8000, 2, 24_000);
    let spans = [
        span(SpanChannel::Agent, 500, 1200, RedactionMode::Silence),
        span(SpanChannel::Customer, 1000, 1800, RedactionMode::Tone),
        span(SpanChannel::Both, 2000, 2500, RedactionMode::Silence),
        span(SpanChannel::Agent, 2500, 3000, RedactionMode::Tone),
    ];
    let (report, out) = render(source.clone(), "wav", &spans, AGENT_LEFT).expect("renders");
    assert_eq!(
        (report.sample_rate, report.channels, report.frames),
        (8000, 2, 24_000)
    );
    assert_eq!(
        report.redacted_frames_per_channel,
        vec![5600 + 4000 + 4000, 6400 + 4000]
    );
    assert_eq!(out.len(), 44 + 24_000 * 4, "header and every frame");
    let prepared = prepare_render(
        Cursor::new(source.clone()),
        &hint("wav"),
        &spans,
        AGENT_LEFT,
    )
    .expect("prepares");
    assert_eq!(prepared.wav_len(), out.len() as u64, "known before writing");

    let (_, _, original) =
        decode_to_i16(Cursor::new(source), &hint("wav")).expect("decodes the source");
    let (rate, channels, rendered) =
        decode_to_i16(Cursor::new(out), &hint("wav")).expect("decodes the output");
    assert_eq!((rate, channels), (8000, 2));
    let on = [vec![0], vec![1], vec![0, 1], vec![0]];
    let expected: Vec<_> = spans.iter().copied().zip(on).collect();
    let changed = check(&original, &rendered, channels, rate, &expected);
    assert!(
        changed > 20_000,
        "the spans changed the audio ({changed} samples)"
    );
}

#[test]
fn customer_on_the_left_is_honoured() {
    let source = pcm16_wav(8000, 2, 8000);
    let spans = [span(
        SpanChannel::Customer,
        100,
        400,
        RedactionMode::Silence,
    )];
    let map = ChannelMap {
        agent: Some(1),
        customer: Some(0),
    };
    let (report, out) = render(source.clone(), "wav", &spans, map).expect("renders");
    assert_eq!(report.redacted_frames_per_channel, vec![2400, 0]);
    let (_, _, original) =
        decode_to_i16(Cursor::new(source), &hint("wav")).expect("decodes the source");
    let (rate, channels, rendered) =
        decode_to_i16(Cursor::new(out), &hint("wav")).expect("decodes the output");
    check(&original, &rendered, channels, rate, &[(spans[0], vec![0])]);
}

#[test]
fn mulaw_with_a_16_byte_fmt_chunk_decodes_and_redacts() {
    let data = g711_data(16_000, 2);
    let source = g711_wav(7, 16, 8000, 2, &data);
    let (rate, channels, original) =
        decode_to_i16(Cursor::new(source.clone()), &hint("wav")).expect("decodes µ-law");
    assert_eq!((rate, channels), (8000, 2));
    let reference: Vec<i16> = data.iter().map(|byte| mulaw_reference(*byte)).collect();
    assert_eq!(original, reference, "decoded as g.711 µ-law, byte for byte");
    assert_eq!(
        (
            mulaw_reference(0x00),
            mulaw_reference(0x80),
            mulaw_reference(0xff)
        ),
        (-32124, 32124, 0)
    );

    let spans = [
        span(SpanChannel::Customer, 250, 750, RedactionMode::Tone),
        span(SpanChannel::Agent, 600, 900, RedactionMode::Silence),
    ];
    let (report, out) = render(source, "wav", &spans, AGENT_LEFT).expect("renders");
    assert_eq!(report.redacted_frames_per_channel, vec![2400, 4000]);
    let (_, _, rendered) =
        decode_to_i16(Cursor::new(out), &hint("wav")).expect("decodes the output");
    let changed = check(
        &original,
        &rendered,
        2,
        8000,
        &[(spans[0], vec![1]), (spans[1], vec![0])],
    );
    assert!(
        changed > 6000,
        "the spans changed the audio ({changed} samples)"
    );
}

#[test]
fn mono_mulaw_applies_every_span_to_channel_0() {
    let data = g711_data(8000, 1);
    let source = g711_wav(7, 18, 8000, 1, &data);
    let spans = [
        span(SpanChannel::Agent, 100, 300, RedactionMode::Tone),
        span(SpanChannel::Customer, 400, 600, RedactionMode::Silence),
    ];
    // No map at all: on mono it is not needed.
    let (report, out) =
        render(source.clone(), "wav", &spans, ChannelMap::default()).expect("renders");
    assert_eq!(report.redacted_frames_per_channel, vec![3200]);
    let (_, _, original) =
        decode_to_i16(Cursor::new(source.clone()), &hint("wav")).expect("decodes");
    let (_, _, rendered) =
        decode_to_i16(Cursor::new(out), &hint("wav")).expect("decodes the output");
    check(
        &original,
        &rendered,
        1,
        8000,
        &[(spans[0], vec![0]), (spans[1], vec![0])],
    );

    // On mono the agent's and the customer's spans share channel 0.
    let overlapping = [
        span(SpanChannel::Agent, 100, 300, RedactionMode::Tone),
        span(SpanChannel::Customer, 200, 600, RedactionMode::Silence),
    ];
    let error = render(source, "wav", &overlapping, AGENT_LEFT).expect_err("refused");
    assert!(
        matches!(
            error,
            RedactError::Span(SpanError::Overlap { index: 1, other: 0 })
        ),
        "{error}"
    );
}

#[test]
fn alaw_with_a_16_byte_fmt_chunk_decodes() {
    let data = g711_data(4000, 2);
    let (_, _, original) =
        decode_to_i16(Cursor::new(g711_wav(6, 16, 8000, 2, &data)), &hint("wav"))
            .expect("decodes a-law");
    let reference: Vec<i16> = data.iter().map(|byte| alaw_reference(*byte)).collect();
    assert_eq!(original, reference, "decoded as g.711 a-law, byte for byte");
}
