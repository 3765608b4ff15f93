//! An upload's temp file, written in large blocks by one blocking call
//! each, with `O_DIRECT` where the file system takes it.
//!
//! Why not `tokio::fs`: it hands every chunk to a blocking thread, and a
//! write through the page cache costs a copy into it now and the writeback
//! later. At ingest rates (hundreds of MB/s on two cores) both showed in
//! profiles; `benches/disk-ceiling.py` measures the second on its own
//! (about 0.6–1.0 ms of CPU per 2.4 MB file with `O_DIRECT`, 2.5–3.8 ms
//! through the page cache). Freshly stored recordings are seldom read back
//! soon, so keeping them out of the page cache costs playback little.
//!
//! `O_DIRECT` wants the buffer, the length and the file offset aligned, so
//! every write but the last is a multiple of [`ALIGN`]; the last is padded
//! with zeros and the file truncated back to the real size before the sync.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tokio::task::spawn_blocking;

/// What `O_DIRECT` may require of buffers, lengths and offsets: the page
/// size covers every logical block size in use.
const ALIGN: usize = 4096;
/// Bytes gathered before a write: few enough hand-offs to a blocking
/// thread (five for a 2.4 MB recording), little memory per upload.
pub const BLOCK: usize = 512 * 1024;
/// A slow upload still writes, or at least touches its temp file, this
/// often: the sweep takes a temp file silent since its cutoff for one a
/// killed process left (see `remove_incomplete_uploads`).
const TOUCH_EVERY: Duration = Duration::from_secs(1);

/// A [`BLOCK`]-sized buffer starting on an [`ALIGN`] boundary.
struct Block {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl Block {
    fn new() -> Self {
        let storage = vec![0u8; BLOCK + ALIGN];
        // `align_offset` may decline (it never does for bytes on the
        // platforms we build for); the block then reports it is unaligned
        // and the file is written through the page cache.
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Self {
            storage,
            start,
            len: 0,
        }
    }

    fn is_aligned(&self) -> bool {
        self.start < ALIGN
    }

    fn is_full(&self) -> bool {
        self.len == BLOCK
    }

    fn filled(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// Takes as much of `input` as fits; returns how much it took.
    fn fill(&mut self, input: &[u8]) -> usize {
        let take = (BLOCK - self.len).min(input.len());
        let at = self.start + self.len;
        self.storage[at..at + take].copy_from_slice(&input[..take]);
        self.len += take;
        take
    }

    /// Drops the first `written` bytes, keeping the rest at the start.
    fn consume(&mut self, written: usize) {
        let (start, end) = (self.start + written, self.start + self.len);
        self.storage.copy_within(start..end, self.start);
        self.len -= written;
    }

    /// Zeros up to the next [`ALIGN`] boundary; returns the padded length.
    fn pad(&mut self) -> usize {
        let padded = self.len.div_ceil(ALIGN) * ALIGN;
        let at = self.start + self.len;
        self.storage[at..self.start + padded].fill(0);
        padded
    }
}

/// The open temp file and its buffer; both travel to the blocking thread
/// for each write and come back.
struct Open {
    file: File,
    block: Block,
    /// Opened with `O_DIRECT`: writes must stay aligned.
    direct: bool,
    /// Bytes in the file so far.
    written: u64,
}

pub struct TempFileWriter {
    /// `None` only after a failed write, which ends the upload.
    open: Option<Open>,
    last_write: Instant,
}

impl TempFileWriter {
    /// Creates `path`, which must not exist, and its folder if missing.
    pub async fn create(path: PathBuf) -> io::Result<Self> {
        Self::create_with(path, true).await
    }

    /// `try_direct: false` writes through the page cache, as on a file
    /// system without `O_DIRECT`.
    async fn create_with(path: PathBuf, try_direct: bool) -> io::Result<Self> {
        let open = blocking(move || -> io::Result<Open> {
            let block = Block::new();
            let direct = try_direct && block.is_aligned();
            let (file, direct) = match create_file(&path, direct) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    create_file(&path, direct)?
                }
                other => other?,
            };
            Ok(Open {
                file,
                block,
                direct,
                written: 0,
            })
        })
        .await?;
        Ok(Self {
            open: Some(open),
            last_write: Instant::now(),
        })
    }

    pub async fn write(&mut self, mut input: &[u8]) -> io::Result<()> {
        while !input.is_empty() {
            let open = self.open.as_mut().ok_or_else(failed_before)?;
            input = &input[open.block.fill(input)..];
            if open.block.is_full() {
                self.write_out().await?;
            }
        }
        if self.last_write.elapsed() >= TOUCH_EVERY {
            self.write_out().await?;
        }
        Ok(())
    }

    /// Writes what the block holds (its aligned part, with `O_DIRECT`), or
    /// touches the file if that is nothing.
    async fn write_out(&mut self) -> io::Result<()> {
        let mut open = self.open.take().ok_or_else(failed_before)?;
        let open = blocking(move || -> io::Result<Open> {
            let len = if open.direct {
                open.block.len / ALIGN * ALIGN
            } else {
                open.block.len
            };
            if len == 0 {
                open.file.set_modified(SystemTime::now())?;
            } else {
                open.file.write_all(&open.block.filled()[..len])?;
                open.block.consume(len);
                open.written += len as u64;
            }
            Ok(open)
        })
        .await?;
        self.open = Some(open);
        self.last_write = Instant::now();
        Ok(())
    }

    /// Writes the rest, makes the file durable, then runs `then` with its
    /// size, all on one blocking thread (`then` publishes the file).
    pub async fn finish_then<T, E>(
        mut self,
        then: impl FnOnce(u64) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<io::Error> + Send + 'static,
    {
        let mut open = self.open.take().ok_or_else(failed_before)?;
        blocking(move || {
            let size = open.written + open.block.len as u64;
            if open.direct {
                let padded = open.block.pad();
                open.file
                    .write_all(&open.block.storage[open.block.start..][..padded])?;
                if padded != open.block.len {
                    open.file.set_len(size)?;
                }
            } else {
                open.file.write_all(open.block.filled())?;
            }
            open.file.sync_all()?;
            drop(open);
            then(size)
        })
        .await
    }
}

fn create_file(path: &Path, direct: bool) -> io::Result<(File, bool)> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    if direct {
        let mut with_direct = options.clone();
        with_direct.custom_flags(libc::O_DIRECT);
        match with_direct.open(path) {
            Ok(file) => return Ok((file, true)),
            // The file system doesn't do direct i/o (some FUSE and network
            // file systems, tmpfs before Linux 6.6).
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {}
            Err(error) => return Err(error),
        }
    }
    Ok((options.open(path)?, false))
}

/// Runs `run` on tokio's blocking pool.
pub async fn blocking<T, E>(run: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<io::Error> + Send + 'static,
{
    spawn_blocking(run)
        .await
        .map_err(|error| E::from(io::Error::other(format!("blocking file i/o: {error}"))))?
}

fn failed_before() -> io::Error {
    io::Error::other("an earlier write to this temp file failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around the alignment and block boundaries, each fed in chunks
    /// that straddle them, written both ways.
    #[tokio::test]
    async fn odd_sizes_and_chunkings_round_trip_both_ways() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sizes = [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK + 77,
        ];
        for (n, size) in sizes.into_iter().enumerate() {
            for try_direct in [true, false] {
                let data: Vec<u8> = (0..size).map(|i| (i * 31 + n) as u8).collect();
                let path = dir.path().join(format!("nested/{n}-{try_direct}.part"));
                let mut writer = TempFileWriter::create_with(path.clone(), try_direct)
                    .await
                    .expect("create");
                if try_direct {
                    assert!(
                        writer.open.as_ref().is_some_and(|open| open.direct),
                        "ext4 takes O_DIRECT"
                    );
                }
                for chunk in data.chunks(ALIGN * 3 + 5) {
                    writer.write(chunk).await.expect("write");
                }
                let size_seen = writer
                    .finish_then(Ok::<_, io::Error>)
                    .await
                    .expect("finish");
                assert_eq!(size_seen, size as u64);
                assert_eq!(
                    std::fs::read(&path).expect("read back"),
                    data,
                    "size {size}, direct {try_direct}"
                );
            }
        }
    }

    /// A slow upload keeps its temp file's modification time fresh, so the
    /// sweep doesn't take it for an abandoned one.
    #[tokio::test]
    async fn a_slow_upload_touches_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("slow.part");
        let mut writer = TempFileWriter::create(path.clone()).await.expect("create");
        writer.write(b"first").await.expect("write");
        let modified = || {
            std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .expect("mtime")
        };
        let before = modified();
        tokio::time::sleep(TOUCH_EVERY + Duration::from_millis(100)).await;
        writer.write(b"second").await.expect("write");
        assert!(
            modified() > before,
            "the second write, a second later, touched the file"
        );
        writer
            .finish_then(|_| Ok::<_, io::Error>(()))
            .await
            .expect("finish");
        assert_eq!(std::fs::read(&path).expect("read back"), b"firstsecond");
    }

    #[test]
    fn blocks_are_aligned_and_keep_their_tail() {
        let mut block = Block::new();
        assert!(block.is_aligned());
        assert_eq!(block.filled().as_ptr() as usize % ALIGN, 0);
        let input: Vec<u8> = (0..BLOCK + 10).map(|i| i as u8).collect();
        assert_eq!(block.fill(&input), BLOCK);
        assert!(block.is_full());
        block.consume(BLOCK - 5);
        assert_eq!(block.filled(), &input[BLOCK - 5..BLOCK]);
        assert_eq!(block.pad(), ALIGN);
        assert_eq!(block.filled(), &input[BLOCK - 5..BLOCK]);
    }
}
