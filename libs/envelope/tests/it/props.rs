//! Random sizes, frame sizes, chunkings and ranges decrypt to exactly the
//! plaintext slice.

use callvault_envelope::{ObjectContext, Sealer, open_bytes, seal_bytes};
use proptest::prelude::*;

use crate::support::{RECORDING, TENANT_A, key, pattern};

fn sealed(frame_size: u32, plaintext: &[u8], chunk: usize) -> Vec<u8> {
    // Seal through `update` in arbitrary chunks: the result must not depend
    // on how the input stream was cut.
    let mut sealer =
        Sealer::new(&key(3), ObjectContext::new(TENANT_A, RECORDING), frame_size).expect("sealer");
    let mut out = sealer.header().to_vec();
    for piece in plaintext.chunks(chunk.max(1)) {
        out.extend_from_slice(&sealer.update(piece));
    }
    out.extend_from_slice(&sealer.finish());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_ranges_decrypt_to_the_slice(
        len in 1usize..5_000,
        frame_size in 16u32..600,
        chunk in 1usize..1_500,
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let plaintext = pattern(len);
        let object = sealed(frame_size, &plaintext, chunk);
        let (mut start, mut end) = (a.index(len), b.index(len) + 1);
        if start >= end {
            std::mem::swap(&mut start, &mut end);
            end += 1;
            start = start.saturating_sub(1);
        }
        let end = end.min(len);
        prop_assume!(start < end);
        let opened = open_bytes(&key(3), ObjectContext::new(TENANT_A, RECORDING), &object, Some(start as u64..end as u64))
            .expect("range opens");
        prop_assert_eq!(&opened[..], &plaintext[start..end]);
    }

    #[test]
    fn random_sizes_round_trip_whole(len in 0usize..20_000, frame_size in 16u32..4_096) {
        let plaintext = pattern(len);
        let sealer = Sealer::new(&key(3), ObjectContext::new(TENANT_A, RECORDING), frame_size).expect("sealer");
        let object = seal_bytes(sealer, &plaintext);
        let opened = open_bytes(&key(3), ObjectContext::new(TENANT_A, RECORDING), &object, None).expect("opens");
        prop_assert_eq!(opened, plaintext);
    }
}
