//! Blob stores: where sealed recording objects live. One trait, two
//! backends (S3 and the local filesystem), one conformance suite.
//!
//! Objects are write-once: `put` never overwrites, so a retried or racing
//! upload can't replace a recording that was already stored.

use std::ops::Range;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

pub mod fs;
mod key;
pub mod s3;

pub use key::{InvalidObjectKey, ObjectKey};

/// A stream of object bytes, read or written in chunks.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("object not found: {0}")]
    NotFound(ObjectKey),
    #[error("object already exists: {0}")]
    AlreadyExists(ObjectKey),
    #[error("range {start}..{end} is outside the object ({size} bytes)")]
    InvalidRange { start: u64, end: u64, size: u64 },
    /// The body stream the caller handed to `put` failed; nothing was stored.
    #[error("upload body failed: {0}")]
    Body(std::io::Error),
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    #[error("blob store i/o error: {0}")]
    Io(#[from] std::io::Error),
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `body` under `key` with bounded memory. Fails with
    /// `AlreadyExists` if the key is taken; on any failure nothing is left
    /// behind under `key`.
    async fn put(&self, key: &ObjectKey, body: ByteStream) -> Result<ObjectMeta, BlobError>;

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, BlobError>;

    /// Streams bytes `range` of the object; an empty or out-of-bounds range
    /// is `InvalidRange`.
    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<ByteStream, BlobError>;

    /// Removes the object and, where the backend keeps them, every earlier
    /// version and delete marker. Deleting a missing object is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError>;

    /// How many versions of `key` the backend still holds (0 once deleted).
    /// Lets the shredding code and its tests prove nothing is left.
    async fn version_count(&self, key: &ObjectKey) -> Result<usize, BlobError>;

    /// Removes what `put`s cut short by a crash left behind — partial temp
    /// files, incomplete multipart uploads — started (or, for a temp file,
    /// last written) before `before`, and returns how many. A `put` that is
    /// still running past that point is cut off and fails, never published:
    /// pass a cutoff older than any live upload. The store is assumed to own
    /// its folder or bucket: every such upload in it is a candidate.
    async fn remove_incomplete_uploads(&self, before: SystemTime) -> Result<u64, BlobError>;
}
