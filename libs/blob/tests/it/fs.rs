//! The conformance suite on `FsBlobStore`, plus what only the filesystem
//! backend promises: no temp file survives any outcome of a `put`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use callvault_blob::fs::FsBlobStore;
use callvault_blob::{BlobError, BlobStore};
use futures_util::StreamExt;
use tempfile::TempDir;

use crate::conformance::{self, MIB, MULTIPART_SIZE, body, key, pattern};

struct Env {
    dir: TempDir,
    store: FsBlobStore,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::new(dir.path().to_path_buf());
    Env { dir, store }
}

fn tmp_entries(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join(".tmp")) else {
        return Vec::new();
    };
    entries
        .map(|entry| {
            entry
                .expect("read .tmp")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[tokio::test]
async fn put_head_get_whole() {
    conformance::put_head_get_whole(&env().store).await;
}

#[tokio::test]
async fn get_ranges() {
    conformance::get_ranges(&env().store).await;
}

#[tokio::test]
async fn invalid_ranges_are_refused() {
    conformance::invalid_ranges_are_refused(&env().store).await;
}

#[tokio::test]
async fn missing_key_is_not_found() {
    conformance::missing_key_is_not_found(&env().store).await;
}

#[tokio::test]
async fn put_never_overwrites() {
    conformance::put_never_overwrites(&env().store).await;
}

#[tokio::test]
async fn failing_small_body_leaves_nothing() {
    conformance::failing_body_leaves_nothing(&env().store, 1_000).await;
}

#[tokio::test]
async fn failing_multipart_body_leaves_nothing() {
    conformance::failing_body_leaves_nothing(&env().store, 12 * MIB).await;
}

#[tokio::test]
async fn multipart_sized_round_trip() {
    conformance::multipart_sized_round_trip(&env().store).await;
}

#[tokio::test]
async fn delete_removes_every_version() {
    conformance::delete_removes_every_version(&env().store).await;
}

#[tokio::test]
async fn delete_of_missing_key_is_ok() {
    conformance::delete_of_missing_key_is_ok(&env().store).await;
}

#[tokio::test]
async fn delete_spares_keys_sharing_a_prefix() {
    conformance::delete_spares_keys_sharing_a_prefix(&env().store).await;
}

#[tokio::test]
async fn concurrent_small_puts_one_wins() {
    conformance::concurrent_puts_one_wins(&env().store, 1_000).await;
}

#[tokio::test]
async fn concurrent_multipart_puts_one_wins() {
    conformance::concurrent_puts_one_wins(&env().store, MULTIPART_SIZE).await;
}

#[tokio::test]
async fn no_temp_file_survives_any_put() {
    let env = env();
    let store = &env.store;
    let taken = key("a/b.bin");
    conformance::put(store, &taken, &pattern(10, 1)).await;
    let refused = store.put(&taken, body(pattern(10, 2), 3)).await;
    assert!(matches!(refused, Err(BlobError::AlreadyExists(_))));
    let broken = store
        .put(&key("c.bin"), conformance::failing_body(100))
        .await;
    assert!(matches!(broken, Err(BlobError::Body(_))));
    assert_eq!(tmp_entries(env.dir.path()), Vec::<String>::new());
}

/// A client that disconnects mid-upload drops the `put` future: the partial
/// temp file must go with it.
#[tokio::test]
async fn cancelled_put_leaves_no_temp_file() {
    let env = env();
    let stalled = body(pattern(100_000, 3), 10_000)
        .chain(futures_util::stream::pending())
        .boxed();
    let key = key("stalled.bin");
    let result =
        tokio::time::timeout(Duration::from_millis(200), env.store.put(&key, stalled)).await;
    assert!(result.is_err(), "the stalled put should still be pending");
    assert_eq!(tmp_entries(env.dir.path()), Vec::<String>::new());
    assert!(matches!(
        env.store.head(&key).await,
        Err(BlobError::NotFound(_))
    ));
}

/// Keys are free-form enough to be called `.tmp/...`; they must not land
/// among the uploads in progress.
#[tokio::test]
async fn objects_and_temp_files_do_not_share_a_folder() {
    let env = env();
    let key = key(".tmp/x.bin");
    conformance::put(&env.store, &key, &pattern(10, 4)).await;
    assert_eq!(tmp_entries(env.dir.path()), Vec::<String>::new());
    assert_eq!(env.store.head(&key).await.expect("head").size, 10);
}

#[tokio::test]
async fn removing_incomplete_uploads_spares_objects() {
    conformance::removing_incomplete_uploads_spares_objects(&env().store).await;
}

/// What a `put` killed mid-upload leaves: a `.part` file no `Drop` removed.
/// Only one silent since the cutoff goes; anything else in `.tmp` stays.
#[tokio::test]
async fn abandoned_temp_files_older_than_the_cutoff_are_removed() {
    let env = env();
    conformance::put(&env.store, &key("a/kept.bin"), &pattern(10, 5)).await;
    let tmp = env.dir.path().join(".tmp");
    std::fs::write(tmp.join("0b1e4c8e-killed.part"), b"partial").expect("write part");
    std::fs::write(tmp.join("notes.txt"), b"not an upload").expect("write other");
    let hour = Duration::from_secs(3600);

    let young = env
        .store
        .remove_incomplete_uploads(SystemTime::now() - hour)
        .await
        .expect("sweep with an old cutoff");
    assert_eq!(young, 0);
    assert_eq!(tmp_entries(env.dir.path()).len(), 2);

    let removed = env
        .store
        .remove_incomplete_uploads(SystemTime::now() + Duration::from_secs(60))
        .await
        .expect("sweep with a future cutoff");
    assert_eq!(removed, 1);
    assert_eq!(tmp_entries(env.dir.path()), vec!["notes.txt".to_owned()]);
    assert_eq!(
        env.store.head(&key("a/kept.bin")).await.expect("head").size,
        10
    );
}

/// A `put` still writing when the cutoff passes it loses its temp file: it
/// fails and publishes nothing, rather than publishing a partial object.
#[tokio::test]
async fn an_upload_cut_off_by_the_sweep_publishes_nothing() {
    let env = env();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let first = futures_util::stream::iter(vec![Ok(pattern(1_000, 6))]);
    let rest = futures_util::stream::once(async move {
        let _ = rx.await;
        Ok(pattern(1_000, 7))
    });
    let key = key("cut/off.bin");
    let put = env.store.put(&key, first.chain(rest).boxed());
    let sweep = async {
        // Wait for the temp file to exist, then sweep it away mid-upload.
        while tmp_entries(env.dir.path()).is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let removed = env
            .store
            .remove_incomplete_uploads(SystemTime::now() + Duration::from_secs(60))
            .await
            .expect("sweep");
        let _ = tx.send(());
        removed
    };
    let (result, removed) = tokio::join!(put, sweep);
    assert_eq!(removed, 1);
    assert!(
        matches!(result, Err(BlobError::Unavailable(_))),
        "{result:?}"
    );
    assert!(matches!(
        env.store.head(&key).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(tmp_entries(env.dir.path()), Vec::<String>::new());
}
