/// Why an object could not be sealed or opened.
///
/// `Format` covers exactly the header checks made before any key is used
/// (fewer than 75 header bytes, magic, version, suite, frame size bounds);
/// every later check (commitment, object length, frame tags, stream
/// completeness) is `Integrity`. schema/recording-object-format.md lists
/// each check with its kind. Readers should treat every `Integrity` error
/// the same way: the object (or the key, or the context it is being opened
/// under) is not the one that was sealed, and no byte of a frame that
/// failed is ever returned. A store that only holds objects it wrote (the
/// storage service) reports both kinds as an integrity failure.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The header is malformed or names something this reader doesn't speak.
    #[error("unsupported or malformed object header: {0}")]
    Format(&'static str),
    /// Authentication failed: tampered, truncated, extended, reordered or
    /// swapped data, a wrong data key, or a wrong tenant or recording.
    #[error("object integrity check failed: {0}")]
    Integrity(&'static str),
    /// The requested plaintext range is empty or reaches past the end.
    #[error("range {start}..{end} is not within the plaintext ({len} bytes)")]
    Range { start: u64, end: u64, len: u64 },
    /// The context can't be encoded (an id longer than 65535 bytes).
    #[error("invalid object context: {0}")]
    Context(&'static str),
    /// Reading the ciphertext or plaintext source failed.
    #[error("source stream failed: {0}")]
    Source(#[from] std::io::Error),
}
