//! The storage core on embedded backends: store, whole and ranged reads,
//! shredding, re-wrapping, and what happens on bad input.

use bytes::Bytes;
use callvault_blob::{BlobStore, ObjectKey};
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::KeyProvider;
use callvault_storage::StorageError;
use callvault_storage::records::RecordState;
use futures_util::{StreamExt, TryStreamExt};

use crate::support::{Harness, audio, body, make_writable_and_write, object_files};

async fn read_all(
    harness: &Harness,
    tenant: TenantId,
    recording: RecordingId,
    range: Option<std::ops::Range<u64>>,
) -> Result<Vec<u8>, StorageError> {
    let stream = harness.store.read(tenant, recording, range).await?;
    let chunks: Vec<Bytes> = stream.body.try_collect().await?;
    Ok(chunks.concat())
}

#[tokio::test]
async fn store_then_read_whole_and_ranges() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let data = audio(300_001);
    let stored = harness.store_bytes(tenant, recording, &data).await;
    assert_eq!(stored.size, data.len() as u64);
    let expected_sha = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data);
    assert_eq!(stored.sha256.as_slice(), expected_sha.as_ref());

    assert_eq!(
        read_all(&harness, tenant, recording, None)
            .await
            .expect("whole"),
        data
    );
    for range in [0..1u64, 65_535..65_537, 299_000..300_001, 1_000..250_000] {
        let got = read_all(&harness, tenant, recording, Some(range.clone()))
            .await
            .expect("range");
        assert_eq!(
            got,
            &data[range.start as usize..range.end as usize],
            "{range:?}"
        );
    }
}

#[tokio::test]
async fn the_stored_object_holds_no_plaintext() {
    let harness = Harness::embedded().await;
    let marker = b"THIS-IS-A-CARD-NUMBER-4111111111111111".repeat(1000);
    harness
        .store_bytes(TenantId::new(), RecordingId::new(), &marker)
        .await;
    let files = object_files(&harness);
    assert_eq!(files.len(), 1);
    let stored = std::fs::read(&files[0]).expect("read object");
    assert!(
        !stored.windows(20).any(|w| w == &marker[..20]),
        "plaintext found in the stored object"
    );
}

#[tokio::test]
async fn storing_a_recording_twice_is_refused_and_leaves_one_object() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness.store_bytes(tenant, recording, b"first").await;
    let key = harness.tenant_key(tenant).await;
    let again = harness
        .store
        .store(tenant, recording, &key, body(b"second", 3))
        .await;
    assert!(
        matches!(again, Err(StorageError::AlreadyExists)),
        "{again:?}"
    );
    assert_eq!(
        read_all(&harness, tenant, recording, None)
            .await
            .expect("read"),
        b"first"
    );
    assert_eq!(object_files(&harness).len(), 1);
}

#[tokio::test]
async fn a_failing_upload_stores_nothing() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key = harness.tenant_key(tenant).await;
    let broken = futures_util::stream::iter(vec![
        Ok(Bytes::from(audio(200_000))),
        Err(std::io::Error::other("recorder disconnected")),
    ])
    .boxed();
    let result = harness.store.store(tenant, recording, &key, broken).await;
    assert!(matches!(result, Err(StorageError::Body(_))), "{result:?}");
    assert!(
        object_files(&harness).is_empty(),
        "an object was left behind"
    );
    assert!(
        harness
            .records
            .get(tenant.0, recording.0)
            .await
            .expect("db")
            .is_none(),
        "a record was left behind"
    );
    // And the recording can be uploaded again afterwards.
    harness.store_bytes(tenant, recording, b"retry").await;
}

#[tokio::test]
async fn an_unknown_master_key_is_refused_before_anything_is_written() {
    let harness = Harness::embedded().await;
    let missing = callvault_keys::KeyRef("tenant/nobody".into());
    let result = harness
        .store
        .store(TenantId::new(), RecordingId::new(), &missing, body(b"x", 1))
        .await;
    assert!(matches!(result, Err(StorageError::Key(_))), "{result:?}");
    assert!(object_files(&harness).is_empty());
}

#[tokio::test]
async fn another_tenant_cannot_read_or_shred() {
    let harness = Harness::embedded().await;
    let (tenant_a, tenant_b, recording) = (TenantId::new(), TenantId::new(), RecordingId::new());
    harness
        .store_bytes(tenant_a, recording, b"tenant a audio")
        .await;
    assert!(matches!(
        harness.store.read(tenant_b, recording, None).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        harness.store.info(tenant_b, recording).await,
        Err(StorageError::NotFound)
    ));
    assert!(matches!(
        harness.store.shred(tenant_b, recording).await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(
        read_all(&harness, tenant_a, recording, None)
            .await
            .expect("a still reads"),
        b"tenant a audio"
    );
}

#[tokio::test]
async fn ranges_past_the_end_are_range_errors() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness.store_bytes(tenant, recording, &audio(1_000)).await;
    for range in [1_000..1_001, 500..2_000, 10..10] {
        let result = harness
            .store
            .read(tenant, recording, Some(range.clone()))
            .await;
        assert!(
            matches!(result, Err(StorageError::InvalidRange { len: 1_000, .. })),
            "{range:?}"
        );
    }
}

#[tokio::test]
async fn shredding_destroys_the_key_and_every_object_version() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness
        .store_bytes(tenant, recording, &audio(100_000))
        .await;
    let record = harness
        .records
        .get(tenant.0, recording.0)
        .await
        .expect("db")
        .expect("record");
    let object_key = ObjectKey::parse(&record.object_key).expect("key");

    let report = harness.store.shred(tenant, recording).await.expect("shred");
    assert!(report.newly_shredded);
    assert_eq!(
        harness
            .blobs
            .version_count(&object_key)
            .await
            .expect("count"),
        0
    );
    assert!(object_files(&harness).is_empty());
    let record = harness
        .records
        .get(tenant.0, recording.0)
        .await
        .expect("db")
        .expect("record kept");
    assert!(
        matches!(record.state, RecordState::Shredded { .. }),
        "wrapped key still present"
    );

    match harness.store.read(tenant, recording, None).await {
        Err(StorageError::Shredded { at }) => assert_eq!(at, report.shredded_at),
        other => panic!("expected a shredded error, got {:?}", other.err()),
    }
    let again = harness
        .store
        .shred(tenant, recording)
        .await
        .expect("shredding twice is fine");
    assert!(!again.newly_shredded);
}

#[tokio::test]
async fn a_tampered_object_fails_and_releases_nothing_from_the_bad_frame() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let data = audio(200_000);
    harness.store_bytes(tenant, recording, &data).await;
    let path = object_files(&harness).remove(0);
    let mut bytes = std::fs::read(&path).expect("read");
    // A byte inside frame 1 (frames are 64 KiB + 16 after the 75-byte header).
    bytes[75 + 65_552 + 100] ^= 0x40;
    make_writable_and_write(&path, &bytes);

    let stream = harness
        .store
        .read(tenant, recording, None)
        .await
        .expect("header is fine");
    let items: Vec<Result<Bytes, StorageError>> = stream.body.collect().await;
    let released: Vec<u8> = items
        .iter()
        .filter_map(|i| i.as_ref().ok())
        .flat_map(|b| b.to_vec())
        .collect();
    assert_eq!(released, &data[..65_536], "only frame 0 verified");
    assert!(matches!(
        items.last(),
        Some(Err(StorageError::Integrity(_)))
    ));
}

#[tokio::test]
async fn a_truncated_object_is_caught_by_the_stored_length() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness
        .store_bytes(tenant, recording, &audio(200_000))
        .await;
    let path = object_files(&harness).remove(0);
    let bytes = std::fs::read(&path).expect("read");
    // Cut exactly at a frame boundary, so the remaining object is well-formed.
    make_writable_and_write(&path, &bytes[..75 + 2 * 65_552]);
    for range in [None, Some(0..10)] {
        let result = harness.store.read(tenant, recording, range).await;
        assert!(
            matches!(result, Err(StorageError::Integrity(_))),
            "{:?}",
            result.err()
        );
    }
}

#[tokio::test]
async fn rewrap_moves_every_data_key_and_bodies_stay_readable() {
    let harness = Harness::embedded().await;
    let (tenant, other_tenant) = (TenantId::new(), TenantId::new());
    let mut recordings = Vec::new();
    for i in 0..5 {
        let recording = RecordingId::new();
        harness
            .store_bytes(tenant, recording, &audio(1_000 + i))
            .await;
        recordings.push(recording);
    }
    let bystander = RecordingId::new();
    harness
        .store_bytes(other_tenant, bystander, b"other tenant")
        .await;
    let shredded = recordings[4];
    harness.store.shred(tenant, shredded).await.expect("shred");
    let objects_before: Vec<Vec<u8>> = object_files(&harness)
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();

    let old = harness.tenant_key(tenant).await;
    let new = harness
        .keys
        .create_tenant_key("replacement")
        .await
        .expect("new key");
    let report = harness
        .store
        .rewrap_tenant(tenant, &old, &new)
        .await
        .expect("rewrap");
    assert_eq!(report.rewrapped, 4);

    for (i, recording) in recordings[..4].iter().enumerate() {
        let record = harness
            .records
            .get(tenant.0, recording.0)
            .await
            .expect("db")
            .expect("record");
        assert_eq!(record.key_ref, new.0);
        assert_eq!(
            read_all(&harness, tenant, *recording, None)
                .await
                .expect("readable"),
            audio(1_000 + i)
        );
    }
    let bystander_record = harness
        .records
        .get(other_tenant.0, bystander.0)
        .await
        .expect("db")
        .expect("record");
    assert_ne!(
        bystander_record.key_ref, new.0,
        "another tenant's keys were touched"
    );
    let objects_after: Vec<Vec<u8>> = object_files(&harness)
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    assert_eq!(
        objects_before, objects_after,
        "re-wrapping touched an object body"
    );
    assert!(matches!(
        harness.store.read(tenant, shredded, None).await,
        Err(StorageError::Shredded { .. })
    ));
}

#[tokio::test]
async fn rotation_keeps_old_recordings_readable_and_rewrap_moves_them_on() {
    let harness = Harness::embedded().await;
    let tenant = TenantId::new();
    let recording = RecordingId::new();
    harness
        .store_bytes(tenant, recording, b"before rotation")
        .await;
    let key = harness.tenant_key(tenant).await;
    harness.keys.rotate(&key).await.expect("rotate");
    assert_eq!(
        read_all(&harness, tenant, recording, None)
            .await
            .expect("old version reads"),
        b"before rotation"
    );
    let report = harness
        .store
        .rewrap_tenant(tenant, &key, &key)
        .await
        .expect("rewrap onto the new version");
    assert_eq!(report.rewrapped, 1);
    assert_eq!(
        read_all(&harness, tenant, recording, None)
            .await
            .expect("reads"),
        b"before rotation"
    );
}

#[tokio::test]
async fn discard_removes_object_and_record_without_a_tombstone() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness
        .store_bytes(tenant, recording, b"refused upload")
        .await;
    // Another tenant can't discard it.
    harness
        .store
        .discard(TenantId::new(), recording)
        .await
        .expect("no-op for another tenant");
    assert_eq!(object_files(&harness).len(), 1);

    harness
        .store
        .discard(tenant, recording)
        .await
        .expect("discard");
    assert!(object_files(&harness).is_empty());
    assert!(
        harness
            .records
            .get(tenant.0, recording.0)
            .await
            .expect("db")
            .is_none()
    );
    assert!(matches!(
        harness.store.read(tenant, recording, None).await,
        Err(StorageError::NotFound)
    ));
    harness
        .store
        .discard(tenant, recording)
        .await
        .expect("discarding twice is fine");
    harness
        .store_bytes(tenant, recording, b"accepted retry")
        .await;
}

#[tokio::test]
async fn discard_never_erases_a_shred_tombstone() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    harness
        .store_bytes(tenant, recording, b"to be shredded")
        .await;
    harness.store.shred(tenant, recording).await.expect("shred");
    let result = harness.store.discard(tenant, recording).await;
    assert!(
        matches!(result, Err(StorageError::Shredded { .. })),
        "{result:?}"
    );
    let record = harness
        .records
        .get(tenant.0, recording.0)
        .await
        .expect("db")
        .expect("tombstone kept");
    assert!(matches!(record.state, RecordState::Shredded { .. }));
}
