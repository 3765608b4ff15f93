//! The contract every `BlobStore` keeps, as checks taking any backend. Each
//! backend module runs every check against a fresh store.

use std::io;
use std::ops::Range;

use bytes::Bytes;
use callvault_blob::{BlobError, BlobStore, ByteStream, ObjectKey, ObjectMeta};
use futures_util::StreamExt;

pub const MIB: usize = 1024 * 1024;
/// The filesystem backend streams reads in 64 KiB chunks.
const READ_CHUNK: u64 = 64 * 1024;
/// At least one S3 part (the suite runs S3 with 5 MiB parts), so a body of
/// this size takes the multipart path.
pub const MULTIPART_SIZE: usize = 20 * MIB + 123;

pub fn key(raw: &str) -> ObjectKey {
    ObjectKey::parse(raw).unwrap_or_else(|error| panic!("test key {raw:?}: {error}"))
}

/// Bytes that differ from their neighbours and from any shifted copy, so an
/// off-by-one range or a swapped part shows up as a mismatch.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(len);
    for _ in 0..len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.push((state >> 24) as u8);
    }
    Bytes::from(data)
}

/// `data` as a stream of `chunk`-sized pieces.
pub fn body(data: Bytes, chunk: usize) -> ByteStream {
    let pieces: Vec<io::Result<Bytes>> = (0..data.len())
        .step_by(chunk.max(1))
        .map(|start| Ok(data.slice(start..(start + chunk).min(data.len()))))
        .collect();
    futures_util::stream::iter(pieces).boxed()
}

/// `good_bytes` of data, then an error, as a broken upload connection would.
pub fn failing_body(good_bytes: usize) -> ByteStream {
    let good = body(pattern(good_bytes, 99), 64 * 1024);
    let failure = futures_util::stream::once(async {
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "injected body failure",
        ))
    });
    good.chain(failure).boxed()
}

pub async fn read_all(stream: ByteStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        data.extend_from_slice(&chunk.unwrap_or_else(|error| panic!("read failed: {error}")));
    }
    data
}

pub async fn get(store: &dyn BlobStore, key: &ObjectKey, range: Range<u64>) -> Vec<u8> {
    let stream = store
        .get_range(key, range.clone())
        .await
        .unwrap_or_else(|error| panic!("get_range {key} {range:?}: {error}"));
    read_all(stream).await
}

pub async fn put(store: &dyn BlobStore, key: &ObjectKey, data: &Bytes) -> ObjectMeta {
    store
        .put(key, body(data.clone(), 64 * 1024))
        .await
        .unwrap_or_else(|error| panic!("put {key}: {error}"))
}

fn assert_same(actual: &[u8], expected: &[u8], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length differs");
    // Not assert_eq! on the bytes: a mismatch would print megabytes.
    if let Some(at) = actual.iter().zip(expected).position(|(a, b)| a != b) {
        panic!("{what}: first differing byte at {at}");
    }
}

async fn assert_absent(store: &dyn BlobStore, key: &ObjectKey) {
    assert!(
        matches!(store.head(key).await, Err(BlobError::NotFound(_))),
        "{key} should not exist"
    );
    let versions = store.version_count(key).await.expect("version_count");
    assert_eq!(versions, 0, "{key} should have no version left");
}

pub async fn put_head_get_whole(store: &dyn BlobStore) {
    let key = key("tenants/t1/recordings/r1.cvr");
    // Odd-sized chunks, so the store can't rely on the caller's framing.
    let data = pattern(100_003, 1);
    let meta = store
        .put(&key, body(data.clone(), 7_919))
        .await
        .expect("put");
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(
        store.head(&key).await.expect("head").size,
        data.len() as u64
    );
    assert_same(
        &get(store, &key, 0..data.len() as u64).await,
        &data,
        "whole object",
    );
    assert_eq!(store.version_count(&key).await.expect("version_count"), 1);

    let empty = self::key("tenants/t1/recordings/empty.cvr");
    let meta = store
        .put(&empty, body(Bytes::new(), 1))
        .await
        .expect("put empty");
    assert_eq!(meta.size, 0);
    assert_eq!(store.head(&empty).await.expect("head empty").size, 0);
}

pub async fn get_ranges(store: &dyn BlobStore) {
    let key = key("ranges.bin");
    let data = pattern(3 * READ_CHUNK as usize + 17, 2);
    let size = data.len() as u64;
    put(store, &key, &data).await;
    let ranges = [
        0..1,
        size - 1..size,
        1_000..2_000,
        READ_CHUNK - 1..READ_CHUNK + 1,
        READ_CHUNK..2 * READ_CHUNK,
        60_000..3 * READ_CHUNK + 5,
        1..size - 1,
        0..size,
    ];
    for range in ranges {
        let expected = &data[range.start as usize..range.end as usize];
        assert_same(
            &get(store, &key, range.clone()).await,
            expected,
            &format!("range {range:?}"),
        );
    }
}

pub async fn invalid_ranges_are_refused(store: &dyn BlobStore) {
    let key = key("short.bin");
    let data = pattern(100, 3);
    put(store, &key, &data).await;
    #[allow(clippy::reversed_empty_ranges)]
    let ranges = [5..5, 10..5, 100..101, 0..101, 200..300];
    for range in ranges {
        match store.get_range(&key, range.clone()).await {
            Err(BlobError::InvalidRange { start, end, size }) => {
                assert_eq!((start, end, size), (range.start, range.end, 100));
            }
            Err(error) => panic!("range {range:?}: expected InvalidRange, got {error}"),
            Ok(_) => panic!("range {range:?}: expected InvalidRange, got a stream"),
        }
    }
}

pub async fn missing_key_is_not_found(store: &dyn BlobStore) {
    let key = key("never/stored.bin");
    assert!(matches!(
        store.head(&key).await,
        Err(BlobError::NotFound(_))
    ));
    assert!(matches!(
        store.get_range(&key, 0..1).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(store.version_count(&key).await.expect("version_count"), 0);
}

pub async fn put_never_overwrites(store: &dyn BlobStore) {
    let key = key("write-once.bin");
    let original = pattern(1_000, 4);
    put(store, &key, &original).await;
    // Both the single-request and the multipart path must refuse.
    for size in [10, MULTIPART_SIZE] {
        let result = store.put(&key, body(pattern(size, 5), 64 * 1024)).await;
        assert!(
            matches!(result, Err(BlobError::AlreadyExists(_))),
            "second put of {size} bytes: expected AlreadyExists, got {result:?}"
        );
    }
    assert_eq!(store.head(&key).await.expect("head").size, 1_000);
    assert_same(
        &get(store, &key, 0..1_000).await,
        &original,
        "original after refused puts",
    );
    assert_eq!(store.version_count(&key).await.expect("version_count"), 1);
}

pub async fn failing_body_leaves_nothing(store: &dyn BlobStore, good_bytes: usize) {
    let key = key("broken/upload.bin");
    let result = store.put(&key, failing_body(good_bytes)).await;
    assert!(
        matches!(result, Err(BlobError::Body(_))),
        "expected a body error after {good_bytes} bytes, got {result:?}"
    );
    assert_absent(store, &key).await;
    // Nothing half-written holds the key either.
    let data = pattern(500, 6);
    put(store, &key, &data).await;
    assert_same(
        &get(store, &key, 0..500).await,
        &data,
        "put after a failed put",
    );
}

pub async fn multipart_sized_round_trip(store: &dyn BlobStore) {
    let part = 5 * MIB as u64;
    for (name, size) in [("exact-part.bin", 5 * MIB), ("large.bin", MULTIPART_SIZE)] {
        let key = key(name);
        let data = pattern(size, size as u64);
        assert_eq!(put(store, &key, &data).await.size, size as u64);
        assert_eq!(store.head(&key).await.expect("head").size, size as u64);
        assert_same(&get(store, &key, 0..size as u64).await, &data, name);
        let end = size as u64;
        for range in [part - 10..part + 10, end - 1..end, 3 * part + 1..end] {
            if range.start >= range.end || range.end > end {
                continue;
            }
            let expected = &data[range.start as usize..range.end as usize];
            assert_same(
                &get(store, &key, range.clone()).await,
                expected,
                &format!("{name} {range:?}"),
            );
        }
    }
}

pub async fn delete_removes_every_version(store: &dyn BlobStore) {
    let key = key("tenants/t1/recordings/shred-me.cvr");
    put(store, &key, &pattern(2_000, 7)).await;
    store.delete(&key).await.expect("delete");
    assert_absent(store, &key).await;
    // The key is free again, and a second delete is as good as the first.
    let data = pattern(300, 8);
    put(store, &key, &data).await;
    assert_same(&get(store, &key, 0..300).await, &data, "put after delete");
    store.delete(&key).await.expect("second delete");
    assert_absent(store, &key).await;
}

pub async fn delete_of_missing_key_is_ok(store: &dyn BlobStore) {
    let key = key("never/stored.bin");
    store.delete(&key).await.expect("delete of a missing key");
    assert_absent(store, &key).await;
}

/// On S3 `delete` lists by prefix: keys that merely start with `key` must
/// survive.
pub async fn delete_spares_keys_sharing_a_prefix(store: &dyn BlobStore) {
    let target = key("calls/c1");
    let neighbours = [key("calls/c1.meta"), key("calls/c10"), key("calls/c1-b/x")];
    put(store, &target, &pattern(10, 9)).await;
    for neighbour in &neighbours {
        put(store, neighbour, &pattern(20, 10)).await;
    }
    store.delete(&target).await.expect("delete");
    assert_absent(store, &target).await;
    for neighbour in &neighbours {
        assert_eq!(
            store.head(neighbour).await.expect("neighbour kept").size,
            20
        );
        assert_eq!(
            store.version_count(neighbour).await.expect("version_count"),
            1
        );
    }
}

pub async fn concurrent_puts_one_wins(store: &dyn BlobStore, size: usize) {
    let key = key("raced.bin");
    let (a, b) = (pattern(size, 11), pattern(size, 12));
    let (result_a, result_b) = tokio::join!(
        store.put(&key, body(a.clone(), 64 * 1024)),
        store.put(&key, body(b.clone(), 64 * 1024)),
    );
    let winner = match (&result_a, &result_b) {
        (Ok(_), Err(BlobError::AlreadyExists(_))) => &a,
        (Err(BlobError::AlreadyExists(_)), Ok(_)) => &b,
        _ => panic!("expected exactly one put to win: {result_a:?} / {result_b:?}"),
    };
    assert_same(
        &get(store, &key, 0..size as u64).await,
        winner,
        "winner's content",
    );
    assert_eq!(store.version_count(&key).await.expect("version_count"), 1);
}

/// What still holds on a peer whose write-once check is not atomic with the
/// write (moto's CompleteMultipartUpload): losers fail with `AlreadyExists`
/// and the object is one whole body, never a mix of both uploads' parts.
pub async fn concurrent_puts_never_mix(store: &dyn BlobStore, size: usize) {
    let key = key("raced.bin");
    let (a, b) = (pattern(size, 11), pattern(size, 12));
    let (result_a, result_b) = tokio::join!(
        store.put(&key, body(a.clone(), 64 * 1024)),
        store.put(&key, body(b.clone(), 64 * 1024)),
    );
    for result in [&result_a, &result_b] {
        assert!(
            matches!(result, Ok(_) | Err(BlobError::AlreadyExists(_))),
            "unexpected put result: {result:?}"
        );
    }
    assert!(result_a.is_ok() || result_b.is_ok(), "no put won");
    let stored = get(store, &key, 0..size as u64).await;
    assert!(stored == a || stored == b, "stored object is neither body");
}

/// Clearing interrupted uploads never touches a published object, whatever
/// the cutoff, and is a no-op on a store with nothing in progress.
pub async fn removing_incomplete_uploads_spares_objects(store: &dyn BlobStore) {
    let cutoff = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    assert_eq!(
        store
            .remove_incomplete_uploads(cutoff)
            .await
            .expect("sweep an empty store"),
        0
    );
    let (small, large) = (key("kept/small.bin"), key("kept/large.bin"));
    put(store, &small, &pattern(1_000, 13)).await;
    put(store, &large, &pattern(MULTIPART_SIZE, 14)).await;
    assert_eq!(
        store
            .remove_incomplete_uploads(cutoff)
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(store.head(&small).await.expect("small kept").size, 1_000);
    assert_eq!(
        store.head(&large).await.expect("large kept").size,
        MULTIPART_SIZE as u64
    );
}
