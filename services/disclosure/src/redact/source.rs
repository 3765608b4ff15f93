//! The caller's reader as a symphonia `MediaSource`, with one repair:
//! symphonia 0.5 refuses a G.711 (µ-law/A-law) WAV whose `fmt ` chunk has
//! the 16-byte PCM layout instead of the 18 bytes the spec asks for, yet
//! plenty of recorders write it and ingestion accepts it. Such a source is
//! presented with the 2-byte `cbSize` (0) inserted and the RIFF and `fmt `
//! lengths adjusted, in constant memory: the bytes are spliced on the fly.

use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// `WAVE_FORMAT_ALAW` and `WAVE_FORMAT_MULAW`.
const G711_TAGS: [u16; 2] = [0x0006, 0x0007];
/// How many chunks to walk looking for `fmt `: real files have a handful.
const MAX_CHUNKS: usize = 64;

/// Where the repair goes.
#[derive(Clone, Copy, Debug)]
struct Patch {
    /// Offset (in the original) of the RIFF size and its new value.
    riff_size: (u64, [u8; 4]),
    /// Offset of the `fmt ` length and its new value (18).
    fmt_len: (u64, [u8; 4]),
    /// Offset (in the original) where the two zero bytes are inserted.
    insert_at: u64,
}

pub(super) struct Source<S> {
    inner: S,
    patch: Option<Patch>,
    /// Position in the presented stream.
    pos: u64,
    /// Length of the presented stream.
    len: u64,
}

impl<S: Read + Seek> Source<S> {
    pub(super) fn new(mut inner: S) -> io::Result<Self> {
        let original_len = inner.seek(SeekFrom::End(0))?;
        inner.seek(SeekFrom::Start(0))?;
        // Any read failure while looking means "nothing to repair": the
        // decoder then reports the file as it is.
        let patch = find_patch(&mut inner).ok().flatten();
        inner.seek(SeekFrom::Start(0))?;
        let len = original_len + if patch.is_some() { 2 } else { 0 };
        Ok(Self {
            inner,
            patch,
            pos: 0,
            len,
        })
    }
}

/// Walks the RIFF chunks up to `fmt `: a patch when it is a 16-byte G.711
/// one.
fn find_patch<S: Read + Seek>(inner: &mut S) -> io::Result<Option<Patch>> {
    let mut head = [0u8; 12];
    inner.read_exact(&mut head)?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    let riff_size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let mut at = 12u64;
    for _ in 0..MAX_CHUNKS {
        inner.seek(SeekFrom::Start(at))?;
        let mut chunk = [0u8; 10];
        inner.read_exact(&mut chunk[..8])?;
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &chunk[0..4] {
            b"fmt " => {
                inner.read_exact(&mut chunk[8..10])?;
                let tag = u16::from_le_bytes([chunk[8], chunk[9]]);
                if len != 16 || !G711_TAGS.contains(&tag) {
                    return Ok(None);
                }
                let Some(new_riff_size) = riff_size.checked_add(2) else {
                    return Ok(None);
                };
                return Ok(Some(Patch {
                    riff_size: (4, new_riff_size.to_le_bytes()),
                    fmt_len: (at + 4, 18u32.to_le_bytes()),
                    insert_at: at + 8 + 16,
                }));
            }
            b"data" => return Ok(None),
            _ => at += 8 + u64::from(len) + u64::from(len & 1),
        }
    }
    Ok(None)
}

impl<S: Read + Seek> Read for Source<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let Some(patch) = self.patch else {
            let read = self.inner.read(buf)?;
            self.pos += read as u64;
            return Ok(read);
        };
        let gap_end = patch.insert_at + 2;
        let read = if self.pos < patch.insert_at {
            let room = usize::try_from(patch.insert_at - self.pos).unwrap_or(usize::MAX);
            let limit = buf.len().min(room);
            let read = self.inner.read(&mut buf[..limit])?;
            for (offset, bytes) in [patch.riff_size, patch.fmt_len] {
                overlay(&mut buf[..read], self.pos, offset, &bytes);
            }
            read
        } else if self.pos < gap_end {
            // The inserted cbSize: the inner reader waits at insert_at.
            let zeros = usize::try_from(gap_end - self.pos)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            buf[..zeros].fill(0);
            zeros
        } else {
            self.inner.read(buf)?
        };
        self.pos += read as u64;
        Ok(read)
    }
}

/// Writes `bytes` (which belong at `offset`) over the part of `buf` that
/// holds them, `buf` starting at `buf_at`.
fn overlay(buf: &mut [u8], buf_at: u64, offset: u64, bytes: &[u8]) {
    for (i, byte) in bytes.iter().enumerate() {
        let at = offset + i as u64;
        if let Some(index) = at.checked_sub(buf_at).and_then(|d| usize::try_from(d).ok())
            && let Some(slot) = buf.get_mut(index)
        {
            *slot = *byte;
        }
    }
}

impl<S: Read + Seek> Seek for Source<S> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        let inner_at = match self.patch {
            Some(patch) if target > patch.insert_at + 2 => target - 2,
            Some(patch) if target > patch.insert_at => patch.insert_at,
            _ => target,
        };
        self.inner.seek(SeekFrom::Start(inner_at))?;
        self.pos = target;
        Ok(target)
    }
}

impl<S: Read + Seek + Send + Sync> MediaSource for Source<S> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}
