//! The async stream API: chunked input and ranged ciphertext streams.

use std::sync::Arc;

use bytes::Bytes;
use callvault_envelope::{
    EnvelopeError, HEADER_LEN, ObjectContext, Opener, Sealer, open_stream, seal_stream,
};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::support::{RECORDING, TENANT_A, key, pattern};

fn chunks(
    data: &[u8],
    size: usize,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static {
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(pieces)
}

async fn seal_all(plaintext: &[u8], frame_size: u32, chunk: usize) -> Vec<u8> {
    let sealer =
        Sealer::new(&key(5), ObjectContext::new(TENANT_A, RECORDING), frame_size).expect("sealer");
    let parts: Vec<Bytes> = seal_stream(sealer, chunks(plaintext, chunk))
        .try_collect()
        .await
        .expect("seals");
    parts.concat()
}

#[tokio::test]
async fn stream_seal_and_ranged_stream_open() {
    let plaintext = pattern(1_000_003);
    let object = seal_all(&plaintext, 4096, 10_007).await;
    let opener = Arc::new(
        Opener::new(
            &key(5),
            ObjectContext::new(TENANT_A, RECORDING),
            &object[..HEADER_LEN],
            object.len() as u64,
        )
        .expect("header verifies"),
    );
    assert_eq!(opener.plaintext_len(), plaintext.len() as u64);
    for range in [
        0..1u64,
        4095..4097,
        999_000..1_000_003,
        12_345..700_000,
        0..1_000_003,
    ] {
        let plan = opener.plan_range(range.clone()).expect("plan");
        let ciphertext = &object[plan.ciphertext.start as usize..plan.ciphertext.end as usize];
        let out: Vec<Bytes> = open_stream(opener.clone(), plan, chunks(ciphertext, 3_333))
            .try_collect()
            .await
            .expect("opens");
        assert_eq!(
            out.concat(),
            &plaintext[range.start as usize..range.end as usize],
            "range {range:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_source_fails_the_seal() {
    let sealer = Sealer::new(&key(5), ObjectContext::new(TENANT_A, RECORDING), 64).expect("sealer");
    let input = stream::iter(vec![
        Ok(Bytes::from_static(b"abc")),
        Err(std::io::Error::other("client went away")),
    ]);
    let result: Result<Vec<Bytes>, EnvelopeError> = seal_stream(sealer, input).try_collect().await;
    assert!(matches!(result, Err(EnvelopeError::Source(_))));
}

#[tokio::test]
async fn a_short_ciphertext_stream_fails_and_yields_only_verified_frames() {
    let plaintext = pattern(10 * 64);
    let object = seal_all(&plaintext, 64, 100).await;
    let opener = Arc::new(
        Opener::new(
            &key(5),
            ObjectContext::new(TENANT_A, RECORDING),
            &object[..HEADER_LEN],
            object.len() as u64,
        )
        .expect("header verifies"),
    );
    let plan = opener.plan_all();
    // The storage backend dies after 3.5 frames.
    let cut = HEADER_LEN + 3 * 80 + 40;
    let ciphertext = object[HEADER_LEN..cut].to_vec();
    let items: Vec<Result<Bytes, EnvelopeError>> =
        open_stream(opener, plan, chunks(&ciphertext, 50))
            .collect()
            .await;
    let (ok, errors): (Vec<_>, Vec<_>) = items.into_iter().partition(Result::is_ok);
    let released: Vec<u8> = ok
        .into_iter()
        .flat_map(|r| r.expect("ok").to_vec())
        .collect();
    assert_eq!(
        released,
        &plaintext[..3 * 64],
        "only whole verified frames are released"
    );
    assert_eq!(errors.len(), 1);
}
