//! The plaintext data key that seals one recording.

use zeroize::Zeroizing;

/// Length in bytes of a data key (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// A 256-bit plaintext data key. It lives only in memory, is wiped on drop,
/// and never appears in `Debug` output, logs or traces.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses a key from a slice; `None` unless it is exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; DATA_KEY_LEN] = bytes.try_into().ok()?;
        Some(Self::from_bytes(array))
    }

    /// A fresh random key, for callers that wrap keys themselves (the local
    /// keyring) and for tests.
    pub fn generate() -> Self {
        let mut bytes = [0u8; DATA_KEY_LEN];
        // aws-lc's DRBG only fails if the OS entropy source is gone, and then
        // nothing safe can be done: abort rather than seal with a weak key.
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::fill(&mut bytes).expect("system random source failed");
        Self::from_bytes(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}
