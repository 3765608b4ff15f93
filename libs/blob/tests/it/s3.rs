//! The conformance suite on `S3BlobStore` against moto, on a versioned
//! bucket so that `delete` has to remove real versions and delete markers.
//! Each test gets its own moto: nextest runs every test in its own process,
//! and a process-wide static would never be dropped, leaking the server.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use callvault_blob::BlobStore;
use callvault_blob::s3::{MIN_PART_SIZE, S3BlobStore, client_with_static_credentials};
use callvault_testkit::MotoServer;

use crate::conformance::{self, MIB, MULTIPART_SIZE, key, pattern};

const BUCKET: &str = "callvault-blob-test";

struct Env {
    client: Client,
    store: S3BlobStore,
    // Declared last so it drops last: the server outlives its clients.
    _moto: MotoServer,
}

/// Starts moto (panicking if it can't: these tests never skip) and creates a
/// versioned bucket.
async fn env() -> Env {
    let moto = MotoServer::start();
    let client = client_with_static_credentials(&moto.endpoint(), "us-east-1", "test", "test");
    client
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket on moto");
    client
        .put_bucket_versioning()
        .bucket(BUCKET)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("enable versioning on moto");
    // The smallest part S3 accepts, so 20 MiB objects take four parts.
    let store = S3BlobStore::new(client.clone(), BUCKET.to_owned()).with_part_size(MIN_PART_SIZE);
    Env {
        client,
        store,
        _moto: moto,
    }
}

async fn open_multipart_uploads(client: &Client) -> usize {
    let uploads = client
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list multipart uploads");
    uploads.uploads().len()
}

#[tokio::test]
async fn put_head_get_whole() {
    conformance::put_head_get_whole(&env().await.store).await;
}

#[tokio::test]
async fn get_ranges() {
    conformance::get_ranges(&env().await.store).await;
}

#[tokio::test]
async fn invalid_ranges_are_refused() {
    conformance::invalid_ranges_are_refused(&env().await.store).await;
}

#[tokio::test]
async fn missing_key_is_not_found() {
    conformance::missing_key_is_not_found(&env().await.store).await;
}

#[tokio::test]
async fn put_never_overwrites() {
    let env = env().await;
    conformance::put_never_overwrites(&env.store).await;
    // The refused multipart put must not leave its parts behind.
    assert_eq!(open_multipart_uploads(&env.client).await, 0);
}

#[tokio::test]
async fn failing_small_body_leaves_nothing() {
    conformance::failing_body_leaves_nothing(&env().await.store, 1_000).await;
}

#[tokio::test]
async fn failing_multipart_body_leaves_nothing() {
    let env = env().await;
    // Two parts are uploaded before the body breaks.
    conformance::failing_body_leaves_nothing(&env.store, 12 * MIB).await;
    assert_eq!(open_multipart_uploads(&env.client).await, 0);
}

#[tokio::test]
async fn multipart_sized_round_trip() {
    let env = env().await;
    conformance::multipart_sized_round_trip(&env.store).await;
    assert_eq!(open_multipart_uploads(&env.client).await, 0);
}

#[tokio::test]
async fn delete_removes_every_version() {
    conformance::delete_removes_every_version(&env().await.store).await;
}

#[tokio::test]
async fn delete_of_missing_key_is_ok() {
    conformance::delete_of_missing_key_is_ok(&env().await.store).await;
}

#[tokio::test]
async fn delete_spares_keys_sharing_a_prefix() {
    conformance::delete_spares_keys_sharing_a_prefix(&env().await.store).await;
}

#[tokio::test]
async fn concurrent_small_puts_one_wins() {
    conformance::concurrent_puts_one_wins(&env().await.store, 1_000).await;
}

/// Not `concurrent_puts_one_wins`: moto 5.2.5 checks If-None-Match on
/// CompleteMultipartUpload before assembling the parts, outside any lock,
/// so two completes racing on one key can both succeed there (seen here:
/// both puts returned Ok). S3 makes the check atomic with the write and
/// answers the loser 412 or 409 ConditionalRequestConflict, both mapped to
/// `AlreadyExists`. Sequential refusal is covered by `put_never_overwrites`.
#[tokio::test]
async fn concurrent_multipart_puts_never_mix() {
    conformance::concurrent_puts_never_mix(&env().await.store, MULTIPART_SIZE).await;
}

/// A plain DeleteObject on a versioned bucket only hides the object behind
/// a delete marker; shredding must remove the old version and the marker.
#[tokio::test]
async fn delete_removes_hidden_versions_and_delete_markers() {
    let env = env().await;
    let key = key("tenants/t1/recordings/hidden.cvr");
    conformance::put(&env.store, &key, &pattern(1_000, 1)).await;
    env.client
        .delete_object()
        .bucket(BUCKET)
        .key(key.as_str())
        .send()
        .await
        .expect("unversioned delete");
    assert_eq!(
        env.store.version_count(&key).await.expect("version_count"),
        2
    );
    // Hidden, yet a new put may take the key: S3 treats a delete marker as
    // absent.
    conformance::put(&env.store, &key, &pattern(10, 2)).await;
    assert_eq!(
        env.store.version_count(&key).await.expect("version_count"),
        3
    );

    env.store.delete(&key).await.expect("delete");
    assert_eq!(
        env.store.version_count(&key).await.expect("version_count"),
        0
    );
    let versions = env
        .client
        .list_object_versions()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list versions");
    assert!(versions.versions().is_empty() && versions.delete_markers().is_empty());
}

/// `delete` pages through ListObjectVersions: more versions than one page.
#[tokio::test]
async fn delete_pages_through_many_versions() {
    let env = env().await;
    let key = key("many-versions.bin");
    for round in 0..1_005 {
        env.client
            .put_object()
            .bucket(BUCKET)
            .key(key.as_str())
            .body(pattern(8, round).into())
            .send()
            .await
            .expect("raw put");
    }
    assert_eq!(
        env.store.version_count(&key).await.expect("version_count"),
        1_005
    );
    env.store.delete(&key).await.expect("delete");
    assert_eq!(
        env.store.version_count(&key).await.expect("version_count"),
        0
    );
}

/// A stopped peer is `Unavailable`, not `NotFound`: callers must not read a
/// connection error as "the recording is gone".
#[tokio::test]
async fn unreachable_peer_is_unavailable() {
    let env = env().await;
    let store = env.store.clone();
    drop(env);
    let result = store.head(&key("any.bin")).await;
    assert!(
        matches!(result, Err(callvault_blob::BlobError::Unavailable(_))),
        "expected Unavailable, got {result:?}"
    );
}

#[tokio::test]
async fn removing_incomplete_uploads_spares_objects() {
    let env = env().await;
    conformance::removing_incomplete_uploads_spares_objects(&env.store).await;
    assert_eq!(open_multipart_uploads(&env.client).await, 0);
}

/// What a `put` killed mid-upload leaves: a multipart upload with parts,
/// never completed nor aborted. Only one initiated before the cutoff goes.
#[tokio::test]
async fn multipart_uploads_initiated_before_the_cutoff_are_aborted() {
    let env = env().await;
    let key = key("tenants/t1/recordings/killed.cvro");
    let created = env
        .client
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key.as_str())
        .send()
        .await
        .expect("create multipart upload");
    let upload_id = created.upload_id().expect("an upload id").to_owned();
    env.client
        .upload_part()
        .bucket(BUCKET)
        .key(key.as_str())
        .upload_id(&upload_id)
        .part_number(1)
        .body(pattern(MIN_PART_SIZE, 3).into())
        .send()
        .await
        .expect("upload a part");
    // moto 5 reports every upload as initiated at 2010-11-10T20:48:33Z,
    // whatever its age: a cutoff before that date stands for "the upload
    // is younger than the cutoff".
    let before_moto_initiated =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_262_304_000); // 2010-01-01
    let young = env
        .store
        .remove_incomplete_uploads(before_moto_initiated)
        .await
        .expect("sweep with an old cutoff");
    assert_eq!(young, 0);
    assert_eq!(open_multipart_uploads(&env.client).await, 1);

    let aborted = env
        .store
        .remove_incomplete_uploads(std::time::SystemTime::now())
        .await
        .expect("sweep with a future cutoff");
    assert_eq!(aborted, 1);
    assert_eq!(open_multipart_uploads(&env.client).await, 0);
    assert_eq!(env.store.version_count(&key).await.expect("versions"), 0);
}
