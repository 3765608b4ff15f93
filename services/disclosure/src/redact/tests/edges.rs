use super::*;

#[test]
fn compressed_sources_keep_their_decoded_originals_outside_spans() {
    let fixtures: [(&str, &[u8]); 3] = [
        ("flac", include_bytes!("../../../tests/fixtures/call.flac")),
        ("ogg", include_bytes!("../../../tests/fixtures/call.ogg")),
        ("mp3", include_bytes!("../../../tests/fixtures/call.mp3")),
    ];
    for (extension, bytes) in fixtures {
        let spans = [
            span(SpanChannel::Agent, 300, 700, RedactionMode::Silence),
            span(SpanChannel::Both, 1000, 1400, RedactionMode::Tone),
        ];
        let (report, out) = render(bytes.to_vec(), extension, &spans, AGENT_LEFT).expect(extension);
        let (rate, channels, original) =
            decode_to_i16(Cursor::new(bytes.to_vec()), &hint(extension)).expect(extension);
        assert_eq!(
            (report.sample_rate, report.channels),
            (rate, channels),
            "{extension}"
        );
        assert_eq!(
            report.frames,
            (original.len() / 2) as u64,
            "{extension}: every decoded frame"
        );
        let (_, _, rendered) =
            decode_to_i16(Cursor::new(out), &hint("wav")).expect("decodes the output");
        let changed = check(
            &original,
            &rendered,
            channels,
            rate,
            &[(spans[0], vec![0]), (spans[1], vec![0, 1])],
        );
        assert!(
            changed > 3000,
            "{extension}: the spans changed the audio ({changed} samples)"
        );
    }
}

#[test]
fn span_boundaries_are_floored_sample_indices() {
    // At 11025 Hz, 1 ms is 11.025 frames: [1 ms, 3 ms) is frames [11, 33).
    let source = pcm16_wav(11_025, 1, 11_025);
    let spans = [span(SpanChannel::Both, 1, 3, RedactionMode::Silence)];
    let (report, out) =
        render(source.clone(), "wav", &spans, ChannelMap::default()).expect("renders");
    assert_eq!(report.redacted_frames_per_channel, vec![22]);
    let (_, _, original) = decode_to_i16(Cursor::new(source), &hint("wav")).expect("decodes");
    let (_, _, rendered) =
        decode_to_i16(Cursor::new(out), &hint("wav")).expect("decodes the output");
    assert_eq!(rendered[10], original[10]);
    assert_eq!((rendered[11], rendered[32]), (0, 0));
    assert_eq!(rendered[33], original[33]);
}

#[test]
fn the_tone_is_1_khz_at_minus_12_dbfs() {
    // 8 samples a cycle at 8 kHz; the peak falls on the quarter cycle.
    let cycle: Vec<i16> = (0..8).map(|frame| wav::tone_sample(frame, 8000)).collect();
    assert_eq!(cycle, [0, 5820, 8231, 5820, 0, -5820, -8231, -5820]);
    assert_eq!(
        wav::tone_sample(8000 * 3600 + 2, 8000),
        8231,
        "phase holds over an hour"
    );
    let peak_dbfs = 20.0 * (8231.0f64 / 32768.0).log10();
    assert!((peak_dbfs + 12.0).abs() < 0.01, "{peak_dbfs} dBFS");
}
