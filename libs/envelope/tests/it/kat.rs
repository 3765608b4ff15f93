//! Known-answer vectors produced by tests/vectors/reference.py, an
//! independent implementation of schema/recording-object-format.md.

use callvault_envelope::{DataKey, ObjectContext, Sealer, open_bytes, seal_bytes};
use serde::Deserialize;

use crate::support::pattern;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    data_key: String,
    tenant: String,
    recording: String,
    frame_size: u32,
    message_id: String,
    plaintext_len: usize,
    object_len: usize,
    object_sha256: String,
    object: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let raw = include_str!("../vectors/vectors.json");
    serde_json::from_str::<File>(raw)
        .expect("vectors.json parses")
        .vectors
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

#[test]
fn vectors_cover_the_required_cases() {
    let names: Vec<String> = vectors().into_iter().map(|v| v.name).collect();
    for required in [
        "empty",
        "one byte",
        "exactly one frame",
        "one frame plus one byte",
        "several frames",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "missing vector {required:?}"
        );
    }
}

#[test]
fn sealing_reproduces_every_vector() {
    for vector in vectors() {
        let key =
            DataKey::from_slice(&hex::decode(&vector.data_key).expect("hex")).expect("32 bytes");
        let message_id: [u8; 32] = hex::decode(&vector.message_id)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let context = ObjectContext::new(&vector.tenant, &vector.recording);
        let sealer =
            Sealer::with_message_id(&key, context, vector.frame_size, message_id).expect("sealer");
        let plaintext = pattern(vector.plaintext_len);
        let object = seal_bytes(sealer, &plaintext);

        assert_eq!(object.len(), vector.object_len, "{}: length", vector.name);
        assert_eq!(
            sha256_hex(&object),
            vector.object_sha256,
            "{}: digest",
            vector.name
        );
        if let Some(expected) = &vector.object {
            assert_eq!(hex::encode(&object), *expected, "{}: bytes", vector.name);
        }
        let opened = open_bytes(&key, context, &object, None).expect("vector opens");
        assert_eq!(opened, plaintext, "{}: round trip", vector.name);
    }
}
