//! Sealing: plaintext in, framed ciphertext out, one frame of memory.

use aws_lc_rs::aead::Aad;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::format::{
    COMMITMENT_LEN, HEADER_LEN, Header, KeySchedule, MAX_FRAME_SIZE, MESSAGE_ID_LEN,
    MIN_FRAME_SIZE, ObjectContext, TAG_LEN, frame_aad, frame_nonce,
};
use crate::{DataKey, EnvelopeError};

/// Incremental sealer. Feed plaintext with [`Sealer::update`], end with
/// [`Sealer::finish`]; the header comes first from [`Sealer::header`].
pub struct Sealer {
    keys: KeySchedule,
    header: [u8; HEADER_LEN],
    aad: Vec<u8>,
    frame_size: usize,
    next_frame: u64,
    /// Sealed frames not yet handed out, then the open frame's plaintext.
    buf: BytesMut,
    /// Plaintext bytes in the open (last, unsealed) frame of `buf`.
    open_len: usize,
}

impl Sealer {
    /// A sealer with a fresh random message id.
    pub fn new(
        data_key: &DataKey,
        context: ObjectContext<'_>,
        frame_size: u32,
    ) -> Result<Self, EnvelopeError> {
        let mut message_id = [0u8; MESSAGE_ID_LEN];
        aws_lc_rs::rand::fill(&mut message_id)
            .map_err(|_| EnvelopeError::Context("system random source failed"))?;
        Self::with_message_id(data_key, context, frame_size, message_id)
    }

    /// A sealer with a chosen message id. Only for known-answer tests: reusing
    /// a message id with the same data key repeats nonces.
    #[doc(hidden)]
    pub fn with_message_id(
        data_key: &DataKey,
        context: ObjectContext<'_>,
        frame_size: u32,
        message_id: [u8; MESSAGE_ID_LEN],
    ) -> Result<Self, EnvelopeError> {
        if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&frame_size) {
            return Err(EnvelopeError::Format("frame size out of bounds"));
        }
        let keys = KeySchedule::derive(data_key, &message_id);
        let mut commitment = [0u8; COMMITMENT_LEN];
        commitment.copy_from_slice(&keys.commitment);
        let header = Header {
            frame_size,
            message_id,
            commitment,
        }
        .encode();
        let aad = frame_aad(&header, &context)?;
        let frame_size = frame_size as usize;
        Ok(Self {
            keys,
            header,
            aad,
            frame_size,
            next_frame: 0,
            buf: BytesMut::with_capacity(frame_size + TAG_LEN),
            open_len: 0,
        })
    }

    pub fn header(&self) -> Bytes {
        Bytes::copy_from_slice(&self.header)
    }

    /// Absorbs `input` and returns every frame it completed (possibly none).
    pub fn update(&mut self, mut input: &[u8]) -> Bytes {
        // One reservation per call instead of growth by doubling.
        let frames = input.len() / self.frame_size + 1;
        self.buf.reserve(input.len() + frames * TAG_LEN);
        while !input.is_empty() {
            let take = (self.frame_size - self.open_len).min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            self.open_len += take;
            input = &input[take..];
            // A full frame is never final: the final frame holds P mod F
            // bytes, so it is sealed only by `finish`.
            if self.open_len == self.frame_size {
                self.seal_open_frame(false);
            }
        }
        let sealed = self.buf.len() - self.open_len;
        self.buf.split_to(sealed).freeze()
    }

    /// Seals the final frame (holding the remaining 0..F-1 bytes).
    pub fn finish(mut self) -> Bytes {
        self.seal_open_frame(true);
        self.buf.split().freeze()
    }

    fn seal_open_frame(&mut self, is_final: bool) {
        let start = self.buf.len() - self.open_len;
        // Sealing only fails for inputs over GCM's 64 GiB limit; a frame is
        // at most 8 MiB.
        #[allow(clippy::expect_used)]
        let tag = self
            .keys
            .content_key
            .seal_in_place_separate_tag(
                frame_nonce(self.next_frame, is_final),
                Aad::from(self.aad.as_slice()),
                &mut self.buf[start..],
            )
            .expect("frame is within aes-gcm limits");
        self.buf.extend_from_slice(tag.as_ref());
        self.next_frame += 1;
        self.open_len = 0;
    }
}

/// Seals a plaintext stream into an object stream (header first), holding
/// at most about one frame plus one input chunk in memory.
pub fn seal_stream<S>(
    sealer: Sealer,
    input: S,
) -> impl Stream<Item = Result<Bytes, EnvelopeError>> + Send
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
{
    let header = futures_util::stream::once(futures_util::future::ready(Ok(sealer.header())));
    let body = futures_util::stream::unfold(Some((sealer, input)), |state| async move {
        let (mut sealer, mut input) = state?;
        loop {
            match input.next().await {
                Some(Ok(chunk)) => {
                    let sealed = sealer.update(&chunk);
                    if !sealed.is_empty() {
                        return Some((Ok(sealed), Some((sealer, input))));
                    }
                }
                Some(Err(error)) => return Some((Err(EnvelopeError::Source(error)), None)),
                None => return Some((Ok(sealer.finish()), None)),
            }
        }
    });
    header.chain(body)
}

/// Seals a whole buffer; for tests, vectors and small objects.
pub fn seal_bytes(sealer: Sealer, plaintext: &[u8]) -> Vec<u8> {
    let mut sealer = sealer;
    let mut out = Vec::with_capacity(plaintext.len() + HEADER_LEN + TAG_LEN);
    out.extend_from_slice(&sealer.header);
    out.extend_from_slice(&sealer.update(plaintext));
    out.extend_from_slice(&sealer.finish());
    out
}
