use callvault_envelope::{DataKey, EnvelopeError, ObjectContext, Sealer, open_bytes, seal_bytes};

pub const TENANT_A: &str = "tenant-a";
pub const TENANT_B: &str = "tenant-b";
pub const RECORDING: &str = "recording-1";

pub fn key(byte: u8) -> DataKey {
    DataKey::from_bytes([byte; 32])
}

pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

pub fn seal(frame_size: u32, plaintext: &[u8]) -> Vec<u8> {
    let sealer = Sealer::new(&key(7), ObjectContext::new(TENANT_A, RECORDING), frame_size)
        .expect("valid frame size");
    seal_bytes(sealer, plaintext)
}

pub fn open(object: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    open_bytes(
        &key(7),
        ObjectContext::new(TENANT_A, RECORDING),
        object,
        None,
    )
}

#[track_caller]
pub fn assert_integrity_error(result: Result<Vec<u8>, EnvelopeError>, what: &str) {
    match result {
        Err(EnvelopeError::Integrity(_)) => {}
        Err(other) => panic!("{what}: expected an integrity error, got {other:?}"),
        Ok(plaintext) => panic!(
            "{what}: opened ({} bytes) instead of failing",
            plaintext.len()
        ),
    }
}
