//! Seal and open throughput on 1 GiB, side by side with raw AES-256-GCM
//! (aws-lc-rs, 64 KiB chunks, in place) on the same data in the same run.
//!
//! Run: cargo bench -p callvault-envelope --bench envelope
//! (benches/envelope.sh runs this plus the age and memory comparisons.)

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use callvault_envelope::{
    DEFAULT_FRAME_SIZE, DataKey, FrameDecoder, HEADER_LEN, ObjectContext, Opener, Sealer,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const GIB: usize = 1 << 30;
const CHUNK: usize = 1 << 20;

fn data() -> Vec<u8> {
    let mut data = vec![0u8; GIB];
    // Random-looking content; AES doesn't care, but it keeps the comparison honest.
    for (i, byte) in data.iter_mut().enumerate() {
        *byte = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    data
}

fn raw_key() -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[9u8; 32]).expect("key"))
}

fn nonce(i: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&i.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn bench(c: &mut Criterion) {
    let plaintext = data();
    let key = DataKey::from_bytes([9; 32]);
    let context = ObjectContext::new("tenant", "recording");
    let frame = DEFAULT_FRAME_SIZE as usize;

    let mut group = c.benchmark_group("1GiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(GIB as u64));

    // Raw baseline: encrypt the same bytes in place, 64 KiB at a time. It
    // does no copying at all, so it is the ceiling.
    let mut scratch = plaintext.clone();
    group.bench_function("raw_aes256gcm_seal", |b| {
        let raw = raw_key();
        b.iter(|| {
            let mut tags = 0u8;
            for (i, chunk) in scratch.chunks_mut(frame).enumerate() {
                let tag = raw
                    .seal_in_place_separate_tag(nonce(i as u64), Aad::from(b"aad"), chunk)
                    .expect("seal");
                tags ^= tag.as_ref()[0];
            }
            tags
        });
    });

    group.bench_function("envelope_seal", |b| {
        b.iter(|| {
            let mut sealer = Sealer::new(&key, context, DEFAULT_FRAME_SIZE).expect("sealer");
            let mut total = sealer.header().len();
            for chunk in plaintext.chunks(CHUNK) {
                total += sealer.update(chunk).len();
            }
            total + sealer.finish().len()
        });
    });

    // Raw open: seal once with tags appended per chunk, then open in place.
    let raw = raw_key();
    let mut raw_sealed = Vec::with_capacity(GIB + GIB / frame * 16);
    for (i, chunk) in plaintext.chunks(frame).enumerate() {
        let mut buf = chunk.to_vec();
        raw.seal_in_place_append_tag(nonce(i as u64), Aad::from(b"aad"), &mut buf)
            .expect("seal");
        raw_sealed.extend_from_slice(&buf);
    }
    group.bench_function("raw_aes256gcm_open", |b| {
        b.iter_batched_ref(
            || raw_sealed.clone(),
            |sealed| {
                let mut total = 0;
                for (i, chunk) in sealed.chunks_mut(frame + 16).enumerate() {
                    total += raw
                        .open_in_place(nonce(i as u64), Aad::from(b"aad"), chunk)
                        .expect("open")
                        .len();
                }
                total
            },
            criterion::BatchSize::PerIteration,
        );
    });
    drop(raw_sealed);

    let object = callvault_envelope::seal_bytes(
        Sealer::new(&key, context, DEFAULT_FRAME_SIZE).expect("sealer"),
        &plaintext,
    );
    let opener = Arc::new(
        Opener::new(&key, context, &object[..HEADER_LEN], object.len() as u64).expect("opener"),
    );
    group.bench_function("envelope_open", |b| {
        b.iter(|| {
            let mut decoder = FrameDecoder::new(opener.clone(), opener.plan_all());
            let mut total = 0;
            for chunk in object[HEADER_LEN..].chunks(CHUNK) {
                decoder.push(chunk).expect("frame verifies");
                while let Some(out) = decoder.pop() {
                    total += out.len();
                }
            }
            decoder.finish().expect("complete");
            total
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
