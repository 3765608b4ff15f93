//! Every way of altering an object fails with an integrity error.

use callvault_envelope::{DataKey, HEADER_LEN, ObjectContext, TAG_LEN, open_bytes};

use crate::support::{
    RECORDING, TENANT_A, TENANT_B, assert_integrity_error, key, open, pattern, seal,
};

const F: usize = 64;
const SEALED: usize = F + TAG_LEN;

/// Three full frames and a final frame of 10 bytes.
fn object() -> (Vec<u8>, Vec<u8>) {
    let plaintext = pattern(3 * F + 10);
    (seal(F as u32, &plaintext), plaintext)
}

fn frames(object: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let header = object[..HEADER_LEN].to_vec();
    let frames = object[HEADER_LEN..]
        .chunks(SEALED)
        .map(<[u8]>::to_vec)
        .collect();
    (header, frames)
}

fn join(header: &[u8], frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header.to_vec();
    for frame in frames {
        out.extend_from_slice(frame);
    }
    out
}

#[test]
fn untouched_object_opens() {
    let (object, plaintext) = object();
    assert_eq!(open(&object).expect("opens"), plaintext);
}

#[test]
fn flipping_any_single_byte_fails() {
    let (object, _) = object();
    for position in 0..object.len() {
        for mask in [0x01u8, 0x80] {
            let mut altered = object.clone();
            altered[position] ^= mask;
            let result = open(&altered);
            // Magic, version, suite and frame size are refused as format
            // errors before any key is used; everything else is integrity.
            if position < 11 {
                assert!(result.is_err(), "byte {position} flipped was accepted");
            } else {
                assert_integrity_error(result, &format!("byte {position} ^ {mask:#x}"));
            }
        }
    }
}

#[test]
fn flipped_bytes_never_leak_plaintext_through_ranges() {
    let (object, _) = object();
    let len = (3 * F + 10) as u64;
    for position in HEADER_LEN..object.len() {
        let mut altered = object.clone();
        altered[position] ^= 0x01;
        let frame = ((position - HEADER_LEN) / SEALED) as u64;
        let start = frame * F as u64;
        let end = (start + F as u64).min(len);
        let result = open_bytes(
            &key(7),
            ObjectContext::new(TENANT_A, RECORDING),
            &altered,
            Some(start..end),
        );
        assert_integrity_error(result, &format!("range over altered frame {frame}"));
    }
}

#[test]
fn swapping_frames_fails() {
    let (object, _) = object();
    let (header, mut frames) = frames(&object);
    frames.swap(0, 1);
    assert_integrity_error(open(&join(&header, &frames)), "frames 0 and 1 swapped");
}

#[test]
fn duplicating_a_frame_fails() {
    let (object, _) = object();
    let (header, mut frames) = frames(&object);
    let copy = frames[1].clone();
    frames.insert(1, copy);
    assert_integrity_error(open(&join(&header, &frames)), "frame 1 duplicated");
}

#[test]
fn dropping_a_frame_fails() {
    let (object, _) = object();
    let (header, frames) = frames(&object);
    for dropped in 0..frames.len() {
        let mut fewer = frames.clone();
        fewer.remove(dropped);
        assert_integrity_error(
            open(&join(&header, &fewer)),
            &format!("frame {dropped} dropped"),
        );
    }
}

#[test]
fn truncating_anywhere_fails() {
    let (object, _) = object();
    for len in 0..object.len() {
        let result = open(&object[..len]);
        assert!(result.is_err(), "truncated to {len} bytes was accepted");
        if len >= HEADER_LEN {
            assert_integrity_error(result, &format!("truncated to {len} bytes"));
        }
    }
}

#[test]
fn truncating_at_every_frame_boundary_fails() {
    let (object, _) = object();
    for frames in 0..=3 {
        let len = HEADER_LEN + frames * SEALED;
        assert_integrity_error(open(&object[..len]), &format!("cut after {frames} frames"));
    }
}

#[test]
fn appending_bytes_fails() {
    let (object, _) = object();
    for extra in [1usize, TAG_LEN - 1, TAG_LEN, SEALED, SEALED + 7] {
        let mut longer = object.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        assert_integrity_error(open(&longer), &format!("{extra} bytes appended"));
    }
}

#[test]
fn appending_a_frame_of_the_same_object_fails() {
    let (object, _) = object();
    let (header, mut frames) = frames(&object);
    let copy = frames[0].clone();
    frames.push(copy);
    assert_integrity_error(open(&join(&header, &frames)), "frame 0 appended");
}

#[test]
fn another_tenants_or_recordings_context_fails() {
    let (object, _) = object();
    let as_tenant_b = open_bytes(
        &key(7),
        ObjectContext::new(TENANT_B, RECORDING),
        &object,
        None,
    );
    assert_integrity_error(as_tenant_b, "opened as tenant B");
    let as_other_recording = open_bytes(
        &key(7),
        ObjectContext::new(TENANT_A, "recording-2"),
        &object,
        None,
    );
    assert_integrity_error(as_other_recording, "opened as another recording");
}

#[test]
fn swapping_whole_objects_between_recordings_fails() {
    // Same tenant, same data key (worst case), but sealed for recording-2.
    let plaintext = pattern(100);
    let sealer = callvault_envelope::Sealer::new(
        &key(7),
        ObjectContext::new(TENANT_A, "recording-2"),
        F as u32,
    )
    .expect("sealer");
    let other = callvault_envelope::seal_bytes(sealer, &plaintext);
    assert_integrity_error(open(&other), "recording-2's object opened as recording-1");
}

#[test]
fn a_wrong_data_key_fails_on_commitment() {
    let (object, _) = object();
    let wrong = open_bytes(
        &DataKey::from_bytes([8; 32]),
        ObjectContext::new(TENANT_A, RECORDING),
        &object,
        None,
    );
    assert_integrity_error(wrong, "wrong data key");
}

#[test]
fn splicing_frames_from_another_object_fails() {
    // A second sealing of the same plaintext gets its own random message id.
    let (other, _) = object();
    let (object, _) = object();
    let (header, mut frames) = frames(&object);
    let (_, other_frames) = self::frames(&other);
    frames[1] = other_frames[1].clone();
    assert_integrity_error(
        open(&join(&header, &frames)),
        "frame spliced from another object",
    );
}
