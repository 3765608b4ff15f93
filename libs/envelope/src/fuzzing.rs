//! The object reader's fuzz harness, shared by `fuzz/fuzz_targets/envelope_open.rs`
//! and the regression test that replays the checked-in corpus: both call
//! [`open_object`], so a crash the fuzzer found stays found.
//!
//! Not an API: hidden from the docs, and nothing outside fuzzing and tests
//! calls it.

use std::sync::Arc;

use crate::{
    DataKey, EnvelopeError, FrameDecoder, HEADER_LEN, ObjectContext, Opener, Sealer, open_bytes,
    seal_bytes,
};

/// The data key every seed object is sealed under, so that mutations get
/// past the key commitment and reach the frames.
pub const KEY: [u8; 32] = [0x5a; 32];
pub const TENANT: &str = "7d444840-9dc0-11d1-b245-5ffdce74fad2";
pub const RECORDING: &str = "0b9f6a3e-5c1d-4e8f-9a2b-3c4d5e6f7a8b";

fn context() -> ObjectContext<'static> {
    ObjectContext::new(TENANT, RECORDING)
}

/// Reads `data` as a stored object every way the storage service does:
/// whole, by plaintext ranges, streamed in uneven chunks, and with an
/// object length taken from elsewhere (storage reads the header by range
/// and the length from the blob store). Returns the whole read's result;
/// never panics, whatever `data` is.
pub fn open_object(data: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let key = DataKey::from_bytes(KEY);
    let whole = open_bytes(&key, context(), data, None);
    if let Ok(plaintext) = &whole {
        // A verified object: every path must agree on its plaintext.
        let len = plaintext.len() as u64;
        for range in [0..1, len / 2..len, len.saturating_sub(1)..len, 0..len] {
            if let Ok(part) = open_bytes(&key, context(), data, Some(range.clone())) {
                assert_eq!(
                    part.as_slice(),
                    &plaintext[range.start as usize..range.end as usize],
                    "range {range:?} disagrees with the whole read"
                );
            }
        }
    }
    let streamed = open_streamed(&key, data);
    assert_eq!(
        whole.as_ref().ok(),
        streamed.as_ref().ok(),
        "a chunked read disagrees with the whole read"
    );
    if data.len() >= HEADER_LEN + 8 {
        // The last 8 bytes as the object length a blob store reports: any
        // u64 must be planned without overflow.
        let mut claimed = [0u8; 8];
        claimed.copy_from_slice(&data[data.len() - 8..]);
        let claimed = u64::from_be_bytes(claimed);
        if let Ok(opener) = Opener::new(&key, context(), &data[..HEADER_LEN], claimed) {
            let len = opener.plaintext_len();
            let _ = opener.plan_all();
            for range in [0..len, len.saturating_sub(1)..len, len / 3..len / 2 + 1] {
                let _ = opener.plan_range(range);
            }
        }
    }
    whole
}

/// The object pushed through a [`FrameDecoder`] in chunks whose sizes come
/// from the data, as a blob store's stream would deliver it.
fn open_streamed(key: &DataKey, data: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let opener = Arc::new(Opener::new(key, context(), data, data.len() as u64)?);
    let plan = opener.plan_all();
    let start = usize::try_from(plan.ciphertext.start).unwrap_or(usize::MAX);
    let ciphertext = data.get(start..).unwrap_or_default();
    let step = 1 + data.len() % 97;
    let mut decoder = FrameDecoder::new(opener, plan);
    let mut out = Vec::new();
    for chunk in ciphertext.chunks(step) {
        decoder.push(chunk)?;
        while let Some(bytes) = decoder.pop() {
            out.extend_from_slice(&bytes);
        }
    }
    decoder.finish()?;
    Ok(out)
}

/// Real objects for the seed corpus: sealed by the envelope code under
/// [`KEY`] with a fixed message id, for a few frame sizes and plaintext
/// lengths (empty, partial frame, exact frames, several frames).
pub fn seed_objects() -> Vec<(String, Vec<u8>)> {
    let key = DataKey::from_bytes(KEY);
    let message_id = [0xa5; 32];
    let mut seeds = Vec::new();
    for (frame_size, len) in [(16u32, 0usize), (16, 5), (16, 48), (64, 150), (1024, 3000)] {
        let Ok(sealer) = Sealer::with_message_id(&key, context(), frame_size, message_id) else {
            continue;
        };
        let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        seeds.push((
            format!("sealed-f{frame_size}-p{len}"),
            seal_bytes(sealer, &plaintext),
        ));
    }
    seeds
}
