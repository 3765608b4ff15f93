//! An upload's temp file, written in large blocks by one blocking call
//! each, with `O_DIRECT` where the file system takes it.
//!
//! Why not `tokio::fs`: it hands every chunk to a blocking thread, and a
//! write through the page cache costs a copy into it now and the writeback
//! later. At ingest rates (hundreds of MB/s on two cores) both showed in
//! profiles; `benches/disk-ceiling.py` measures the second on its own, side
//! by side. Freshly stored recordings are seldom read back soon, so keeping
//! them out of the page cache costs playback little.
//!
//! `O_DIRECT` wants the buffer, the length and the file offset aligned, so
//! every direct write is a multiple of [`ALIGN`]; the unaligned tail is
//! written through the page cache once `O_DIRECT` is turned off again. A
//! file system that refuses `O_DIRECT` (turning it on fails with EINVAL:
//! some FUSE and network file systems, tmpfs before Linux 6.6), or refuses a
//! direct write the same way, gets page-cache writes instead.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use rustix::io::Errno;
use tokio::task::spawn_blocking;

/// What `O_DIRECT` may require of buffers, lengths and offsets: the page
/// size covers every logical block size in use.
const ALIGN: usize = 4096;
/// Bytes gathered before a write: few enough hand-offs to a blocking
/// thread (five for a 2.4 MB recording), little memory per upload.
pub const BLOCK: usize = 512 * 1024;
/// An upload whose bytes still arrive, however slowly, writes to or at
/// least touches its temp file this often: the sweep takes a temp file
/// silent since its cutoff for one a killed process left (see
/// `remove_incomplete_uploads`).
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
}

/// The open temp file and its buffer; both travel to the blocking thread
/// for each write and come back.
struct Open {
    file: File,
    block: Block,
    /// `O_DIRECT` is on: writes must stay aligned.
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
            let file = match create_file(&path) {
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    create_file(&path)?
                }
                other => other?,
            };
            let direct = try_direct && block.is_aligned() && set_direct(&file, true)?;
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
                open.write(len)?;
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
            if open.direct {
                let aligned = open.block.len / ALIGN * ALIGN;
                open.write(aligned)?;
                if open.block.len > 0 {
                    set_direct(&open.file, false)?;
                    open.direct = false;
                }
            }
            open.write(open.block.len)?;
            open.file.sync_all()?;
            let size = open.written;
            drop(open);
            then(size)
        })
        .await
    }
}

impl Open {
    /// Writes the block's first `len` bytes at the end of the file (an
    /// aligned length while `direct`). A direct write the file system
    /// refuses is written again through the page cache.
    fn write(&mut self, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        let bytes = &self.block.filled()[..len];
        match self.file.write_all_at(bytes, self.written) {
            Err(error)
                if self.direct && error.raw_os_error() == Some(Errno::INVAL.raw_os_error()) =>
            {
                set_direct(&self.file, false)?;
                self.direct = false;
                // Positioned writes: a retry rewrites from the same offset
                // whatever the failed call managed.
                self.file.write_all_at(bytes, self.written)?;
            }
            other => other?,
        }
        self.block.consume(len);
        self.written += len as u64;
        Ok(())
    }
}

fn create_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Turns `O_DIRECT` on or off; false if the file system won't do direct
/// i/o. (Set after opening: an open with `O_CREAT` and `O_DIRECT` creates the
/// file before it fails with EINVAL.)
fn set_direct(file: &File, on: bool) -> io::Result<bool> {
    let flags = fcntl_getfl(file)?;
    let flags = if on {
        flags | OFlags::DIRECT
    } else {
        flags - OFlags::DIRECT
    };
    match fcntl_setfl(file, flags) {
        Ok(()) => Ok(true),
        Err(Errno::INVAL) if on => Ok(false),
        Err(error) => Err(error.into()),
    }
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
                        "this machine's temp dir takes O_DIRECT (ext4; tmpfs since Linux 6.6)"
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

    /// An upload slower than `TOUCH_EVERY` writes what it has so far (its
    /// aligned part, with O_DIRECT), keeping the rest for later: the file
    /// still ends up with every byte once, in order.
    #[tokio::test]
    async fn partial_writes_of_a_slow_upload_keep_every_byte_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        for try_direct in [true, false] {
            let path = dir.path().join(format!("partial-{try_direct}.part"));
            let data: Vec<u8> = (0..3 * ALIGN + 300).map(|i| (i % 251) as u8).collect();
            let mut writer = TempFileWriter::create_with(path.clone(), try_direct)
                .await
                .expect("create");
            let (first, rest) = data.split_at(2 * ALIGN + 100);
            writer.write(first).await.expect("write");
            // As if a second had passed since the last write.
            writer.last_write -= TOUCH_EVERY;
            writer.write(&rest[..ALIGN]).await.expect("write");
            let open = writer.open.as_ref().expect("open");
            let expected_written = if try_direct {
                3 * ALIGN
            } else {
                3 * ALIGN + 100
            };
            assert_eq!(open.written, expected_written as u64, "direct {try_direct}");
            writer.write(&rest[ALIGN..]).await.expect("write");
            let size = writer
                .finish_then(Ok::<_, io::Error>)
                .await
                .expect("finish");
            assert_eq!(size, data.len() as u64);
            assert_eq!(
                std::fs::read(&path).expect("read back"),
                data,
                "direct {try_direct}"
            );
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
    }
}
