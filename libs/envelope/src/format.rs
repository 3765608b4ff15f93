//! The on-disk layout: header, key schedule, nonces, AAD and frame
//! arithmetic. The normative description is schema/recording-object-format.md;
//! keep the two in step.

use std::ops::Range;

use aws_lc_rs::{aead, hkdf};

use crate::{DataKey, EnvelopeError};

pub const MAGIC: [u8; 4] = *b"CVRO";
pub const VERSION: u8 = 1;
/// AES-256-GCM, HKDF-SHA512 key derivation, HKDF key commitment.
pub const SUITE_AES256GCM_HKDF_SHA512_COMMIT: u16 = 0x0001;
pub const MESSAGE_ID_LEN: usize = 32;
pub const COMMITMENT_LEN: usize = 32;
pub const TAG_LEN: usize = 16;
pub const HEADER_LEN: usize = 4 + 1 + 2 + 4 + MESSAGE_ID_LEN + COMMITMENT_LEN;

/// The frame size writers use unless told otherwise.
pub const DEFAULT_FRAME_SIZE: u32 = 64 * 1024;
/// Readers refuse smaller frames (they would only inflate the object)…
pub const MIN_FRAME_SIZE: u32 = 16;
/// …and larger ones, which would let a hostile header make a reader buffer
/// gigabytes for one frame.
pub const MAX_FRAME_SIZE: u32 = 8 * 1024 * 1024;

const CONTENT_KEY_INFO: &[u8] = b"content-key";
const COMMITMENT_INFO: &[u8] = b"commitment";

/// The fixed-size object header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub frame_size: u32,
    pub message_id: [u8; MESSAGE_ID_LEN],
    pub commitment: [u8; COMMITMENT_LEN],
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5..7].copy_from_slice(&SUITE_AES256GCM_HKDF_SHA512_COMMIT.to_be_bytes());
        out[7..11].copy_from_slice(&self.frame_size.to_be_bytes());
        out[11..43].copy_from_slice(&self.message_id);
        out[43..75].copy_from_slice(&self.commitment);
        out
    }

    /// Parses and checks everything that can be checked without the key.
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() < HEADER_LEN {
            return Err(EnvelopeError::Format("object shorter than its header"));
        }
        if bytes[0..4] != MAGIC {
            return Err(EnvelopeError::Format("bad magic"));
        }
        if bytes[4] != VERSION {
            return Err(EnvelopeError::Format("unknown version"));
        }
        if u16::from_be_bytes([bytes[5], bytes[6]]) != SUITE_AES256GCM_HKDF_SHA512_COMMIT {
            return Err(EnvelopeError::Format("unknown suite"));
        }
        let frame_size = u32::from_be_bytes([bytes[7], bytes[8], bytes[9], bytes[10]]);
        if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&frame_size) {
            return Err(EnvelopeError::Format("frame size out of bounds"));
        }
        let mut message_id = [0u8; MESSAGE_ID_LEN];
        message_id.copy_from_slice(&bytes[11..43]);
        let mut commitment = [0u8; COMMITMENT_LEN];
        commitment.copy_from_slice(&bytes[43..75]);
        Ok(Self {
            frame_size,
            message_id,
            commitment,
        })
    }
}

/// The per-object keys derived from the data key and the message id.
pub(crate) struct KeySchedule {
    pub content_key: aead::LessSafeKey,
    pub commitment: [u8; COMMITMENT_LEN],
}

struct OutLen(usize);

impl hkdf::KeyType for OutLen {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf_expand(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) {
    let suite = SUITE_AES256GCM_HKDF_SHA512_COMMIT.to_be_bytes();
    let info: [&[u8]; 3] = [&MAGIC, &suite, label];
    // Expanding 32 bytes from HKDF-SHA512 is always within the RFC 5869 limit.
    #[allow(clippy::expect_used)]
    prk.expand(&info, OutLen(out.len()))
        .and_then(|okm| okm.fill(out))
        .expect("hkdf output length is fixed and valid");
}

impl KeySchedule {
    pub fn derive(data_key: &DataKey, message_id: &[u8; MESSAGE_ID_LEN]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA512, message_id).extract(data_key.as_bytes());
        let mut content = zeroize::Zeroizing::new([0u8; 32]);
        hkdf_expand(&prk, CONTENT_KEY_INFO, content.as_mut());
        let mut commitment = [0u8; COMMITMENT_LEN];
        hkdf_expand(&prk, COMMITMENT_INFO, &mut commitment);
        // A 32-byte key is always valid for AES-256-GCM.
        #[allow(clippy::expect_used)]
        let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, content.as_ref())
            .expect("32-byte key is valid for aes-256-gcm");
        Self {
            content_key: aead::LessSafeKey::new(unbound),
            commitment,
        }
    }
}

/// The 96-bit nonce of frame `index`: three zero bytes, the index as a
/// big-endian u64, and 0x01 on the final frame (0x00 otherwise). The content
/// key is unique per object (random message id), so counters never repeat
/// under one key.
pub(crate) fn frame_nonce(index: u64, is_final: bool) -> aead::Nonce {
    let mut nonce = [0u8; aead::NONCE_LEN];
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(is_final);
    aead::Nonce::assume_unique_for_key(nonce)
}

/// Whose object this is: bound into every frame's AAD, so an object opened
/// as another tenant's or another recording's fails.
#[derive(Clone, Copy, Debug)]
pub struct ObjectContext<'a> {
    pub tenant: &'a str,
    pub recording: &'a str,
}

impl<'a> ObjectContext<'a> {
    pub fn new(tenant: &'a str, recording: &'a str) -> Self {
        Self { tenant, recording }
    }
}

/// AAD of every frame: the header, then the tenant id and the recording id,
/// each as a big-endian u16 length and its UTF-8 bytes.
pub(crate) fn frame_aad(
    header: &[u8],
    context: &ObjectContext<'_>,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut aad =
        Vec::with_capacity(header.len() + 4 + context.tenant.len() + context.recording.len());
    aad.extend_from_slice(header);
    for part in [context.tenant, context.recording] {
        let len = u16::try_from(part.len())
            .map_err(|_| EnvelopeError::Context("id longer than 65535 bytes"))?;
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    Ok(aad)
}

/// Frame arithmetic for an object of a known size.
///
/// An object of P plaintext bytes with frame size F has floor(P / F) + 1
/// frames: all but the last hold exactly F bytes, the last ("final") frame
/// holds P mod F bytes, possibly zero. So the ciphertext length determines
/// the plaintext length and which frame is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    frame_size: u64,
    plaintext_len: u64,
}

/// The frames a plaintext range needs, and where they sit in the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FramePlan {
    pub first_frame: u64,
    /// Inclusive.
    pub last_frame: u64,
    /// The byte range of the object to fetch (frames only, no header).
    pub ciphertext: Range<u64>,
    /// Plaintext bytes to drop from the start of the first frame.
    pub skip: u64,
    /// Plaintext bytes to return in total.
    pub len: u64,
}

impl Layout {
    pub fn for_plaintext(frame_size: u32, plaintext_len: u64) -> Self {
        Self {
            frame_size: u64::from(frame_size),
            plaintext_len,
        }
    }

    /// The layout implied by an object's total size; fails when the size
    /// can't be a whole object (a partial frame or a cut header).
    pub fn for_object_len(frame_size: u32, object_len: u64) -> Result<Self, EnvelopeError> {
        let frame_size = u64::from(frame_size);
        // The header itself was read and parsed (a short one is a format
        // error there); a length that can't hold it is an impossible object
        // length, like one ending inside a frame.
        let body = object_len
            .checked_sub(HEADER_LEN as u64)
            .ok_or(EnvelopeError::Integrity("object ends inside its header"))?;
        let sealed_frame = frame_size + TAG_LEN as u64;
        let full_frames = body / sealed_frame;
        let last = body % sealed_frame;
        if last < TAG_LEN as u64 {
            return Err(EnvelopeError::Integrity("object ends inside a frame"));
        }
        Ok(Self {
            frame_size,
            plaintext_len: full_frames * frame_size + (last - TAG_LEN as u64),
        })
    }

    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Plaintext bytes per frame, as the header declares.
    pub fn frame_size(&self) -> u64 {
        self.frame_size
    }

    pub fn frame_count(&self) -> u64 {
        self.plaintext_len / self.frame_size + 1
    }

    pub fn final_frame(&self) -> u64 {
        self.frame_count() - 1
    }

    pub fn object_len(&self) -> u64 {
        HEADER_LEN as u64 + self.frame_count() * TAG_LEN as u64 + self.plaintext_len
    }

    /// Offset of frame `index` in the object.
    pub fn frame_offset(&self, index: u64) -> u64 {
        HEADER_LEN as u64 + index * (self.frame_size + TAG_LEN as u64)
    }

    /// Sealed length of frame `index` (tag included).
    pub fn sealed_frame_len(&self, index: u64) -> u64 {
        if index == self.final_frame() {
            self.plaintext_len % self.frame_size + TAG_LEN as u64
        } else {
            self.frame_size + TAG_LEN as u64
        }
    }

    /// Every frame, final one included: what a whole read verifies (even an
    /// empty object has its empty final frame to authenticate).
    pub fn plan_all(&self) -> FramePlan {
        FramePlan {
            first_frame: 0,
            last_frame: self.final_frame(),
            ciphertext: HEADER_LEN as u64..self.object_len(),
            skip: 0,
            len: self.plaintext_len,
        }
    }

    /// The frames holding plaintext `range`, which must be non-empty and
    /// within the plaintext.
    pub fn plan_range(&self, range: Range<u64>) -> Result<FramePlan, EnvelopeError> {
        if range.start >= range.end || range.end > self.plaintext_len {
            return Err(EnvelopeError::Range {
                start: range.start,
                end: range.end,
                len: self.plaintext_len,
            });
        }
        let first_frame = range.start / self.frame_size;
        let last_frame = (range.end - 1) / self.frame_size;
        let end = self.frame_offset(last_frame) + self.sealed_frame_len(last_frame);
        Ok(FramePlan {
            first_frame,
            last_frame,
            ciphertext: self.frame_offset(first_frame)..end,
            skip: range.start - first_frame * self.frame_size,
            len: range.end - range.start,
        })
    }
}
