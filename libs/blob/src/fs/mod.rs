//! Local filesystem backend, for the embedded mode and small on-premise
//! sites.
//!
//! Layout under the root:
//! - `objects/<key>`: published objects, one file per key;
//! - `.tmp/<uuid>.part`: uploads in progress.
//!
//! Objects live under their own folder so that no valid key (`.tmp/x` is
//! one) can land among the temp files. An upload is written and fsynced in
//! `.tmp/`, then published with a hard link: unlike `rename`, `link` fails
//! when the target exists, which gives write-once semantics atomically and
//! without a lock, even across processes sharing the directory.
//!
//! Unlike S3, a key can't be both an object and a folder: with `a` stored,
//! putting `a/b` fails with an i/o error (and `a` reads as missing while
//! `a/b` exists). Services build keys with a fixed depth, so this never
//! comes up.

use std::collections::HashSet;
use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::fs::{self, File};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use tracing::{debug, warn};

use crate::{BlobError, BlobStore, ByteStream, ObjectKey, ObjectMeta};
use writer::{TempFileWriter, blocking};

mod writer;

/// Size of the chunks `get_range` streams.
const READ_CHUNK_SIZE: usize = 64 * 1024;

const OBJECTS_DIR: &str = "objects";
const TMP_DIR: &str = ".tmp";
const TMP_EXTENSION: &str = "part";

#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    durable_dirs: DurableDirs,
}

impl FsBlobStore {
    /// Folders are created on first write, so building a store does no i/o.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            durable_dirs: DurableDirs::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ObjectKey` guarantees relative, `/`-separated segments without `.`
    /// or `..`, so the joined path can't leave `objects/`.
    fn object_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(OBJECTS_DIR).join(key.as_str())
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    /// Writes `body` to the temp file, makes it durable and publishes it
    /// under `key`; every file system call past the body's chunks happens in
    /// a few blocking calls (see [`writer`]).
    async fn write_and_publish(
        &self,
        tmp: &TmpFile,
        key: &ObjectKey,
        mut body: ByteStream,
    ) -> Result<u64, BlobError> {
        let mut file = TempFileWriter::create(tmp.path.clone()).await?;
        while let Some(chunk) = body.next().await {
            file.write(&chunk.map_err(BlobError::Body)?).await?;
        }
        let (tmp_path, path, key) = (tmp.path.clone(), self.object_path(key), key.clone());
        let (root, durable_dirs) = (self.root.clone(), self.durable_dirs.clone());
        // The link below publishes the data: `finish_then` syncs it first,
        // or a crash could leave a visible object with missing bytes.
        file.finish_then(move |size| {
            let Some(parent) = path.parent() else {
                return Err(BlobError::Io(io::Error::other("object path has no parent")));
            };
            std::fs::create_dir_all(parent)?;
            durable_dirs.make_durable(&root, parent)?;
            publish(&tmp_path, &path, parent, &key).map(|()| size)
        })
        .await
    }
}

/// The folders under the root whose own entries this process has synced
/// into their parents. Folders are shared (by a tenant's recordings, and
/// by concurrent puts), so "I didn't create it" doesn't mean "it is
/// durable": another put may have created it a moment ago and not synced
/// it yet. Each folder's entry is synced once per process, before the
/// first object is linked into it.
#[derive(Debug, Clone, Default)]
struct DurableDirs(Arc<Mutex<HashSet<PathBuf>>>);

impl DurableDirs {
    /// Makes `dir` and every folder between it and `root` durable entries
    /// of their parents, outermost first. Blocking.
    fn make_durable(&self, root: &Path, dir: &Path) -> io::Result<()> {
        let pending: Vec<&Path> = dir
            .ancestors()
            .take_while(|ancestor| *ancestor != root)
            .filter(|ancestor| !self.contains(ancestor))
            .collect();
        for dir in pending.into_iter().rev() {
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
            // Syncing twice when two puts get here together does no harm.
            if let Ok(mut known) = self.0.lock() {
                known.insert(dir.to_owned());
            }
        }
        Ok(())
    }

    fn contains(&self, dir: &Path) -> bool {
        self.0.lock().is_ok_and(|known| known.contains(dir))
    }
}

/// Links the durable temp file at `path` in `parent`, a durable folder
/// (write-once: `link` fails if the target exists), and makes the new entry
/// durable. Blocking.
fn publish(tmp: &Path, path: &Path, parent: &Path, key: &ObjectKey) -> Result<(), BlobError> {
    if let Err(error) = std::fs::hard_link(tmp, path) {
        return Err(match error.kind() {
            io::ErrorKind::AlreadyExists => BlobError::AlreadyExists(key.clone()),
            // The temp file went under us: a sweep took this upload for
            // one a killed process left (`remove_incomplete_uploads`).
            io::ErrorKind::NotFound => {
                BlobError::Unavailable("the upload's temp file was removed as abandoned".to_owned())
            }
            _ => BlobError::Io(error),
        });
    }
    remove_tmp(tmp);
    sync_dir(parent)?;
    Ok(())
}

fn remove_tmp(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => warn!(path=%path.display(), %error, "failed to remove temp file"),
    }
}

/// Removes the temp file when dropped on error, or when the `put` future
/// is cancelled mid-upload. A successful publish removed it already.
struct TmpFile {
    path: PathBuf,
    published: bool,
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        // Blocking, but a single unlink; doing it here is what makes
        // cancellation leave nothing behind.
        if !self.published {
            remove_tmp(&self.path);
        }
    }
}

/// Makes a directory entry change (link, unlink) durable. Blocking.
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn not_found_as(key: &ObjectKey, error: io::Error) -> BlobError {
    match error.kind() {
        // `NotADirectory`: a prefix of the key is an object (`a` when asking
        // for `a/b`), so `a/b` can't exist.
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => BlobError::NotFound(key.clone()),
        _ => BlobError::Io(error),
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &ObjectKey, body: ByteStream) -> Result<ObjectMeta, BlobError> {
        let mut tmp = TmpFile {
            path: self
                .tmp_dir()
                .join(format!("{}.{TMP_EXTENSION}", uuid::Uuid::new_v4())),
            published: false,
        };
        let size = self.write_and_publish(&tmp, key, body).await?;
        tmp.published = true;
        debug!(key=%key, size, "stored object");
        Ok(ObjectMeta { size })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, BlobError> {
        let metadata = fs::metadata(self.object_path(key))
            .await
            .map_err(|error| not_found_as(key, error))?;
        // A directory here is a key prefix (`a` when `a/b` is stored), not an
        // object.
        if !metadata.is_file() {
            return Err(BlobError::NotFound(key.clone()));
        }
        Ok(ObjectMeta {
            size: metadata.len(),
        })
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<ByteStream, BlobError> {
        let mut file = File::open(self.object_path(key))
            .await
            .map_err(|error| not_found_as(key, error))?;
        let metadata = file.metadata().await?;
        if !metadata.is_file() {
            return Err(BlobError::NotFound(key.clone()));
        }
        let size = metadata.len();
        if range.start >= range.end || range.end > size {
            return Err(BlobError::InvalidRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        file.seek(SeekFrom::Start(range.start)).await?;
        let reader = file.take(range.end - range.start);
        Ok(ReaderStream::with_capacity(reader, READ_CHUNK_SIZE).boxed())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        let path = self.object_path(key);
        let removed = blocking(move || {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::NotFound
                            | io::ErrorKind::NotADirectory
                            | io::ErrorKind::IsADirectory
                    ) =>
                {
                    // A directory is a key prefix, not an object.
                    return Ok(false);
                }
                Err(error) => return Err(BlobError::Io(error)),
            }
            // Deleting is how recordings are shredded: the unlink must
            // survive a crash.
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
            Ok(true)
        })
        .await?;
        if removed {
            debug!(key=%key, "deleted object");
        }
        Ok(())
    }

    async fn version_count(&self, key: &ObjectKey) -> Result<usize, BlobError> {
        match self.head(key).await {
            Ok(_) => Ok(1),
            Err(BlobError::NotFound(_)) => Ok(0),
            Err(error) => Err(error),
        }
    }

    async fn remove_incomplete_uploads(&self, before: SystemTime) -> Result<u64, BlobError> {
        let mut entries = match fs::read_dir(self.tmp_dir()).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(BlobError::Io(error)),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != TMP_EXTENSION) {
                continue;
            }
            // The modification time, not the creation time: an upload whose
            // bytes still arrive writes to or touches its file at least
            // every second (see `writer`), so only one silent since the
            // cutoff (its process killed, or its client gone quiet for
            // longer than that) qualifies.
            let modified = match entry.metadata().await.and_then(|meta| meta.modified()) {
                Ok(modified) => modified,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(BlobError::Io(error)),
            };
            if modified >= before {
                continue;
            }
            match fs::remove_file(&path).await {
                Ok(()) => removed += 1,
                // Its own `put` finished (or failed) meanwhile and removed it.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(BlobError::Io(error)),
            }
        }
        if removed > 0 {
            debug!(removed, "removed abandoned temp files");
        }
        Ok(removed)
    }
}
