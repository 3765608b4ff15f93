//! Known-answer vectors produced by schema/recording-object/reference.py,
//! an independent implementation of schema/recording-object-format.md:
//! every positive vector is reproduced byte for byte and opens, every
//! range reads what it says, and every negative vector fails with the
//! error kind and at the check the spec names.

use std::collections::BTreeMap;

use callvault_envelope::{DataKey, EnvelopeError, ObjectContext, Sealer, open_bytes, seal_bytes};
use serde::Deserialize;

use crate::support::pattern;

#[derive(Deserialize)]
struct File {
    objects: Vec<Vector>,
    ranges: Vec<RangeVector>,
    negative: Vec<Negative>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    data_key: String,
    tenant: String,
    recording: String,
    frame_size: u32,
    message_id: String,
    frames: u64,
    plaintext_len: usize,
    plaintext: Option<String>,
    plaintext_sha256: String,
    object_len: usize,
    object_sha256: String,
    object: String,
}

#[derive(Deserialize)]
struct RangeVector {
    object: String,
    start: u64,
    end: u64,
    plaintext: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Negative {
    name: String,
    data_key: String,
    tenant: String,
    recording: String,
    object: String,
    error: String,
    check: String,
}

fn file() -> File {
    let raw = include_str!("../../../../schema/recording-object/vectors.json");
    serde_json::from_str::<File>(raw).expect("vectors.json parses")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

fn key(hex_key: &str) -> DataKey {
    DataKey::from_slice(&hex::decode(hex_key).expect("hex")).expect("32 bytes")
}

/// The spec's name for the check an error comes from (its table "What a
/// reader must reject"), and the error's kind.
fn check_of(error: &EnvelopeError) -> (&'static str, &'static str) {
    match error {
        EnvelopeError::Format("object shorter than its header") => ("format", "header_length"),
        EnvelopeError::Format("bad magic") => ("format", "magic"),
        EnvelopeError::Format("unknown version") => ("format", "version"),
        EnvelopeError::Format("unknown suite") => ("format", "suite"),
        EnvelopeError::Format("frame size out of bounds") => ("format", "frame_size"),
        EnvelopeError::Integrity("key commitment mismatch: wrong data key") => {
            ("integrity", "commitment")
        }
        EnvelopeError::Integrity(
            "object ends inside its header" | "object ends inside a frame",
        ) => ("integrity", "object_length"),
        EnvelopeError::Integrity("frame authentication failed") => ("integrity", "frame_tag"),
        EnvelopeError::Range { .. } => ("range", "range"),
        other => panic!("an error the spec does not name: {other:?}"),
    }
}

#[test]
fn vectors_cover_the_required_cases() {
    let file = file();
    let names: Vec<&str> = file.objects.iter().map(|v| v.name.as_str()).collect();
    for required in [
        "empty",
        "one byte",
        "exactly one frame",
        "one frame plus one byte",
        "several frames",
        "many frames",
    ] {
        assert!(names.contains(&required), "missing vector {required:?}");
    }
    assert!(
        file.objects.iter().filter(|v| v.frames > 2).count() >= 3,
        "full multi-frame objects"
    );
    let checks: BTreeMap<&str, usize> =
        file.negative
            .iter()
            .fold(BTreeMap::new(), |mut counts, vector| {
                *counts.entry(vector.check.as_str()).or_default() += 1;
                counts
            });
    for check in [
        "header_length",
        "magic",
        "version",
        "suite",
        "frame_size",
        "commitment",
        "object_length",
        "frame_tag",
    ] {
        assert!(checks.contains_key(check), "no negative vector for {check}");
    }
}

#[test]
fn sealing_reproduces_every_vector() {
    for vector in file().objects {
        let key = key(&vector.data_key);
        let message_id: [u8; 32] = hex::decode(&vector.message_id)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let context = ObjectContext::new(&vector.tenant, &vector.recording);
        let sealer =
            Sealer::with_message_id(&key, context, vector.frame_size, message_id).expect("sealer");
        let plaintext = pattern(vector.plaintext_len);
        if let Some(expected) = &vector.plaintext {
            assert_eq!(
                hex::encode(&plaintext),
                *expected,
                "{}: plaintext",
                vector.name
            );
        }
        assert_eq!(
            sha256_hex(&plaintext),
            vector.plaintext_sha256,
            "{}",
            vector.name
        );
        let object = seal_bytes(sealer, &plaintext);

        assert_eq!(object.len(), vector.object_len, "{}: length", vector.name);
        assert_eq!(
            sha256_hex(&object),
            vector.object_sha256,
            "{}: digest",
            vector.name
        );
        assert_eq!(
            hex::encode(&object),
            vector.object,
            "{}: bytes",
            vector.name
        );
        let opened = open_bytes(&key, context, &object, None).expect("vector opens");
        assert_eq!(opened, plaintext, "{}: round trip", vector.name);
    }
}

#[test]
fn range_vectors_read_what_they_say() {
    let file = file();
    for range in &file.ranges {
        let vector = file
            .objects
            .iter()
            .find(|v| v.name == range.object)
            .expect("range names an object vector");
        let object = hex::decode(&vector.object).expect("hex");
        let context = ObjectContext::new(&vector.tenant, &vector.recording);
        let result = open_bytes(
            &key(&vector.data_key),
            context,
            &object,
            Some(range.start..range.end),
        );
        let what = format!("{}[{}..{}]", range.object, range.start, range.end);
        match (&range.plaintext, &range.error, result) {
            (Some(expected), None, Ok(plaintext)) => {
                assert_eq!(hex::encode(plaintext), *expected, "{what}")
            }
            (None, Some(expected), Err(error)) => {
                assert_eq!(check_of(&error).0, expected, "{what}: {error:?}")
            }
            (_, _, result) => panic!("{what}: got {result:?}"),
        }
    }
}

#[test]
fn every_negative_vector_fails_at_its_check() {
    for vector in file().negative {
        let object = hex::decode(&vector.object).expect("hex");
        let context = ObjectContext::new(&vector.tenant, &vector.recording);
        match open_bytes(&key(&vector.data_key), context, &object, None) {
            Ok(plaintext) => panic!(
                "{}: opened ({} bytes) instead of failing",
                vector.name,
                plaintext.len()
            ),
            Err(error) => assert_eq!(
                check_of(&error),
                (vector.error.as_str(), vector.check.as_str()),
                "{}: {error:?}",
                vector.name
            ),
        }
    }
}
