//! Malformed headers and impossible ranges get clear, specific errors.

use callvault_envelope::{EnvelopeError, MAX_FRAME_SIZE, ObjectContext, Sealer, open_bytes};

use crate::support::{RECORDING, TENANT_A, key, open, pattern, seal};

fn format_error(result: Result<Vec<u8>, EnvelopeError>) -> &'static str {
    match result {
        Err(EnvelopeError::Format(why)) => why,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn unknown_version_is_refused() {
    let mut object = seal(64, b"hello");
    object[4] = 2;
    assert_eq!(format_error(open(&object)), "unknown version");
}

#[test]
fn unknown_suite_is_refused() {
    let mut object = seal(64, b"hello");
    object[5..7].copy_from_slice(&0x0002u16.to_be_bytes());
    assert_eq!(format_error(open(&object)), "unknown suite");
}

#[test]
fn bad_magic_is_refused() {
    let mut object = seal(64, b"hello");
    object[0..4].copy_from_slice(b"RIFF");
    assert_eq!(format_error(open(&object)), "bad magic");
}

#[test]
fn absurd_frame_sizes_are_refused() {
    for absurd in [0u32, 1, 15, MAX_FRAME_SIZE + 1, u32::MAX] {
        let mut object = seal(64, b"hello");
        object[7..11].copy_from_slice(&absurd.to_be_bytes());
        assert_eq!(
            format_error(open(&object)),
            "frame size out of bounds",
            "frame size {absurd}"
        );
    }
}

#[test]
fn writers_refuse_absurd_frame_sizes_too() {
    for absurd in [0u32, 15, MAX_FRAME_SIZE + 1] {
        let result = Sealer::new(&key(1), ObjectContext::new(TENANT_A, RECORDING), absurd);
        assert!(
            matches!(result, Err(EnvelopeError::Format(_))),
            "frame size {absurd} accepted"
        );
    }
}

#[test]
fn a_short_header_is_refused() {
    assert!(matches!(open(b"CVRO"), Err(EnvelopeError::Format(_))));
    assert!(matches!(open(b""), Err(EnvelopeError::Format(_))));
}

#[test]
fn ranges_past_the_end_or_empty_are_range_errors() {
    let object = seal(64, &pattern(100));
    let context = ObjectContext::new(TENANT_A, RECORDING);
    #[allow(clippy::reversed_empty_ranges)]
    for range in [100..101, 50..101, 10..10, 200..300, 60..50] {
        let result = open_bytes(&key(7), context, &object, Some(range.clone()));
        match result {
            Err(EnvelopeError::Range { len: 100, .. }) => {}
            other => panic!("range {range:?}: expected a range error, got {other:?}"),
        }
    }
}

#[test]
fn any_range_of_an_empty_object_is_a_range_error() {
    let object = seal(64, b"");
    let result = open_bytes(
        &key(7),
        ObjectContext::new(TENANT_A, RECORDING),
        &object,
        Some(0..1),
    );
    assert!(matches!(result, Err(EnvelopeError::Range { len: 0, .. })));
    assert_eq!(open(&object).expect("empty object opens whole"), b"");
}

#[test]
fn error_messages_are_lowercase_and_carry_no_key_material() {
    let message = EnvelopeError::Integrity("key commitment mismatch: wrong data key").to_string();
    assert!(message.chars().next().is_some_and(char::is_lowercase));
    let debug = format!("{:?}", key(0xAB));
    assert!(
        !debug.contains("ab") && !debug.contains("171"),
        "data key leaked in debug: {debug}"
    );
}
