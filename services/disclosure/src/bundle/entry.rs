//! The writers under and inside the ZIP: the tail that counts and hashes
//! the whole archive (and can be shut), and the per-entry hasher.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lc_rs::digest::{self, SHA256};
use zip::ZipWriter;
use zip::write::StreamWriter;

/// Buffer size for the output and for each entry: big enough that hashing
/// and CRC work on large blocks, small enough not to matter.
pub(super) const BUFFER: usize = 64 * 1024;

/// The ZIP writer over the caller's output.
pub(super) type Stack<W> = ZipWriter<StreamWriter<BufWriter<Tail<W>>>>;

/// Once shut, every write to the output fails.
#[derive(Clone, Debug, Default)]
pub(super) struct Gate(Arc<AtomicBool>);

impl Gate {
    pub(super) fn shut(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_shut(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The caller's writer, counting and hashing what reaches it.
pub(super) struct Tail<W> {
    inner: W,
    gate: Gate,
    digest: digest::Context,
    written: u64,
}

impl<W: Write> Tail<W> {
    pub(super) fn new(inner: W, gate: Gate) -> Self {
        Self {
            inner,
            gate,
            digest: digest::Context::new(&SHA256),
            written: 0,
        }
    }

    /// The writer, the bytes written and their hex SHA-256.
    pub(super) fn into_parts(self) -> (W, u64, String) {
        (self.inner, self.written, super::hex(&self.digest.finish()))
    }
}

impl<W: Write> Write for Tail<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.gate.is_shut() {
            return Err(io::Error::other("bundle abandoned before it was finished"));
        }
        let written = self.inner.write(buf)?;
        self.digest.update(&buf[..written]);
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.gate.is_shut() {
            return Err(io::Error::other("bundle abandoned before it was finished"));
        }
        self.inner.flush()
    }
}

/// The open entry of the ZIP, hashing and counting its content.
pub(super) struct Hashed<'a, W: Write> {
    zip: &'a mut Stack<W>,
    digest: digest::Context,
    size: u64,
}

impl<'a, W: Write> Hashed<'a, W> {
    pub(super) fn new(zip: &'a mut Stack<W>) -> Self {
        Self {
            zip,
            digest: digest::Context::new(&SHA256),
            size: 0,
        }
    }

    /// The entry's size and hex SHA-256.
    pub(super) fn finish(self) -> (u64, String) {
        (self.size, super::hex(&self.digest.finish()))
    }
}

impl<W: Write> Write for Hashed<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.zip.write(buf)?;
        self.digest.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.zip.flush()
    }
}
