//! Opening: whole objects or any plaintext range, decrypting only the
//! frames the range needs, never releasing a byte of a frame that failed.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use aws_lc_rs::aead::Aad;
use aws_lc_rs::constant_time::verify_slices_are_equal;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::format::{
    FramePlan, HEADER_LEN, Header, KeySchedule, Layout, ObjectContext, frame_aad, frame_nonce,
};
use crate::{DataKey, EnvelopeError};

/// A verified header and its derived keys: everything needed to decrypt
/// frames of one object.
pub struct Opener {
    keys: KeySchedule,
    aad: Vec<u8>,
    layout: Layout,
}

impl Opener {
    /// Checks the header and the key commitment. `object_len` is the size of
    /// the whole stored object; it fixes which frame is final, so a
    /// truncated or extended object fails.
    pub fn new(
        data_key: &DataKey,
        context: ObjectContext<'_>,
        header: &[u8],
        object_len: u64,
    ) -> Result<Self, EnvelopeError> {
        let parsed = Header::parse(header)?;
        let keys = KeySchedule::derive(data_key, &parsed.message_id);
        // A wrong data key is caught here, before any frame is touched, and
        // no other key can produce a frame that verifies.
        verify_slices_are_equal(&keys.commitment, &parsed.commitment)
            .map_err(|_| EnvelopeError::Integrity("key commitment mismatch: wrong data key"))?;
        let layout = Layout::for_object_len(parsed.frame_size, object_len)?;
        let aad = frame_aad(&header[..HEADER_LEN], &context)?;
        Ok(Self { keys, aad, layout })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn plaintext_len(&self) -> u64 {
        self.layout.plaintext_len()
    }

    pub fn plan_all(&self) -> FramePlan {
        self.layout.plan_all()
    }

    pub fn plan_range(&self, range: Range<u64>) -> Result<FramePlan, EnvelopeError> {
        self.layout.plan_range(range)
    }

    /// Decrypts one sealed frame in place and returns its plaintext.
    pub fn open_frame<'b>(
        &self,
        index: u64,
        sealed: &'b mut [u8],
    ) -> Result<&'b mut [u8], EnvelopeError> {
        if index > self.layout.final_frame()
            || sealed.len() as u64 != self.layout.sealed_frame_len(index)
        {
            return Err(EnvelopeError::Integrity("frame has the wrong length"));
        }
        let is_final = index == self.layout.final_frame();
        self.keys
            .content_key
            .open_in_place(
                frame_nonce(index, is_final),
                Aad::from(self.aad.as_slice()),
                sealed,
            )
            .map_err(|_| EnvelopeError::Integrity("frame authentication failed"))
    }
}

/// Turns the ciphertext bytes of a [`FramePlan`] into the plaintext it asks
/// for. Buffers one frame at most.
pub struct FrameDecoder {
    opener: Arc<Opener>,
    plan: FramePlan,
    next_frame: u64,
    frame: BytesMut,
    /// Plaintext still owed to the caller.
    remaining: u64,
    ready: VecDeque<Bytes>,
}

impl FrameDecoder {
    pub fn new(opener: Arc<Opener>, plan: FramePlan) -> Self {
        let remaining = plan.len;
        let next_frame = plan.first_frame;
        Self {
            opener,
            plan,
            next_frame,
            frame: BytesMut::new(),
            remaining,
            ready: VecDeque::new(),
        }
    }

    /// Absorbs ciphertext; decrypted plaintext becomes available from
    /// [`FrameDecoder::pop`].
    pub fn push(&mut self, mut chunk: &[u8]) -> Result<(), EnvelopeError> {
        while !chunk.is_empty() {
            if self.next_frame > self.plan.last_frame {
                return Err(EnvelopeError::Integrity("bytes after the last frame"));
            }
            let want = self.opener.layout.sealed_frame_len(self.next_frame) as usize;
            let take = (want - self.frame.len()).min(chunk.len());
            self.frame.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.frame.len() == want {
                self.open_buffered_frame()?;
            }
        }
        Ok(())
    }

    fn open_buffered_frame(&mut self) -> Result<(), EnvelopeError> {
        let index = self.next_frame;
        let plaintext_len = self.opener.open_frame(index, &mut self.frame)?.len();
        // Only now that the tag verified does any of this frame leave.
        self.frame.truncate(plaintext_len);
        let mut plaintext = self.frame.split();
        if index == self.plan.first_frame {
            plaintext.advance(self.plan.skip as usize);
        }
        plaintext.truncate(plaintext.len().min(self.remaining as usize));
        self.remaining -= plaintext.len() as u64;
        if !plaintext.is_empty() {
            self.ready.push_back(plaintext.freeze());
        }
        self.next_frame += 1;
        Ok(())
    }

    pub fn pop(&mut self) -> Option<Bytes> {
        self.ready.pop_front()
    }

    /// Called at the end of the ciphertext: fails unless every planned frame
    /// arrived and verified.
    pub fn finish(&self) -> Result<(), EnvelopeError> {
        if self.next_frame != self.plan.last_frame + 1 || !self.frame.is_empty() {
            return Err(EnvelopeError::Integrity(
                "object ended before its last frame",
            ));
        }
        Ok(())
    }
}

/// Decrypts the ciphertext stream of `plan` (the object bytes in
/// `plan.ciphertext`) into plaintext chunks. The stream ends after the first
/// error.
pub fn open_stream<S>(
    opener: Arc<Opener>,
    plan: FramePlan,
    ciphertext: S,
) -> impl Stream<Item = Result<Bytes, EnvelopeError>> + Send
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
{
    let decoder = FrameDecoder::new(opener, plan);
    futures_util::stream::unfold(Some((decoder, ciphertext)), |state| async move {
        let (mut decoder, mut ciphertext) = state?;
        loop {
            if let Some(chunk) = decoder.pop() {
                return Some((Ok(chunk), Some((decoder, ciphertext))));
            }
            let step = match ciphertext.next().await {
                Some(Ok(chunk)) => decoder.push(&chunk),
                Some(Err(error)) => Err(EnvelopeError::Source(error)),
                None => match decoder.finish() {
                    Ok(()) => return None,
                    Err(error) => Err(error),
                },
            };
            if let Err(error) = step {
                return Some((Err(error), None));
            }
        }
    })
}

/// Opens a whole object held in memory, or a plaintext range of it; for
/// tests, vectors and small objects.
pub fn open_bytes(
    data_key: &DataKey,
    context: ObjectContext<'_>,
    object: &[u8],
    range: Option<Range<u64>>,
) -> Result<Vec<u8>, EnvelopeError> {
    let opener = Arc::new(Opener::new(data_key, context, object, object.len() as u64)?);
    let plan = match range {
        Some(range) => opener.plan_range(range)?,
        None => opener.plan_all(),
    };
    let ciphertext = &object[plan.ciphertext.start as usize..plan.ciphertext.end as usize];
    let mut decoder = FrameDecoder::new(opener, plan);
    decoder.push(ciphertext)?;
    decoder.finish()?;
    let mut out = Vec::new();
    while let Some(chunk) = decoder.pop() {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
