use super::*;

#[test]
fn validate_spans_refuses_bad_lists() {
    let agent = |start, end| span(SpanChannel::Agent, start, end, RedactionMode::Silence);
    let customer = |start, end| span(SpanChannel::Customer, start, end, RedactionMode::Silence);
    let both = |start, end| span(SpanChannel::Both, start, end, RedactionMode::Tone);
    let cases: [(&[RedactionSpan], SpanError); 6] = [
        (
            &[agent(0, 10), agent(20, 20)],
            SpanError::Empty { index: 1 },
        ),
        (&[agent(30, 20)], SpanError::Empty { index: 0 }),
        (
            &[agent(0, 10), customer(900, 1001)],
            SpanError::PastEnd { index: 1 },
        ),
        (
            &[agent(50, 60), customer(40, 45)],
            SpanError::Unordered {
                index: 1,
                previous: 0,
            },
        ),
        (
            &[agent(0, 100), customer(10, 20), agent(99, 200)],
            SpanError::Overlap { index: 2, other: 0 },
        ),
        (
            &[customer(0, 100), both(50, 60)],
            SpanError::Overlap { index: 1, other: 0 },
        ),
    ];
    for (spans, expected) in cases {
        assert_eq!(
            validate_spans(spans, 1000, 2),
            Err(expected.clone()),
            "{expected}"
        );
    }
    // Apart or touching on one side, overlapping across sides: fine.
    let fine = [
        agent(0, 100),
        customer(50, 150),
        agent(100, 200),
        both(200, 1000),
    ];
    assert_eq!(validate_spans(&fine, 1000, 2), Ok(fine.to_vec()));
    assert_eq!(
        validate_spans(&fine, 1000, 1),
        Err(SpanError::Overlap { index: 1, other: 0 })
    );
    assert_eq!(validate_spans(&[], 0, 0), Err(SpanError::NoChannels));
}

#[test]
fn render_refuses_what_it_cannot_place() {
    let source = pcm16_wav(8000, 2, 8000);
    let past_end = [span(SpanChannel::Agent, 900, 1001, RedactionMode::Silence)];
    let error =
        render(source.clone(), "wav", &past_end, AGENT_LEFT).expect_err("past the decoded end");
    assert!(
        matches!(error, RedactError::Span(SpanError::PastEnd { index: 0 })),
        "{error}"
    );

    let agent = [span(SpanChannel::Agent, 0, 10, RedactionMode::Silence)];
    let unmapped = ChannelMap {
        agent: None,
        customer: Some(1),
    };
    let error = render(source.clone(), "wav", &agent, unmapped).expect_err("unmapped side");
    assert!(
        matches!(error, RedactError::Span(SpanError::Unmapped { index: 0 })),
        "{error}"
    );

    let same = ChannelMap {
        agent: Some(1),
        customer: Some(1),
    };
    let error = render(source.clone(), "wav", &agent, same).expect_err("one channel for both");
    assert!(matches!(error, RedactError::ChannelMap(_)), "{error}");

    let outside = ChannelMap {
        agent: Some(2),
        customer: Some(1),
    };
    let error = render(source, "wav", &agent, outside).expect_err("no third channel");
    assert!(matches!(error, RedactError::ChannelMap(_)), "{error}");
}

#[test]
fn garbage_is_refused_without_a_panic() {
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let error = render(noise, "wav", &[], ChannelMap::default()).expect_err("not audio");
    assert!(
        matches!(
            error,
            RedactError::Unsupported(_) | RedactError::Unreadable(_)
        ),
        "{error}"
    );

    // A header that promises more than the file holds: what decodes is
    // what counts.
    let mut truncated = pcm16_wav(8000, 1, 8000);
    truncated.truncate(44 + 8000);
    let (report, out) =
        render(truncated, "wav", &[], ChannelMap::default()).expect("renders what is there");
    assert_eq!(report.frames, 4000);
    assert_eq!(out.len(), 44 + 8000);
}
