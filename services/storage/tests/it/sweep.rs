//! Write intents and the sweeper, on SQLite and on PostgreSQL (every
//! scenario runs on both), over the filesystem blob store: a store leaves
//! no intent, a killed store's object is swept, a young one is not, the
//! sweep wins a race against a slow store without a record ever losing its
//! object, and an object that won't delete is retried.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use callvault_blob::fs::FsBlobStore;
use callvault_blob::{BlobError, BlobStore, ByteStream, ObjectKey, ObjectMeta};
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::{KeyProvider, KeyRef, local::LocalKeyring};
use callvault_storage::records::{
    self, IntentState, Migrator, NewRecord, StorageRecords, WriteIntent, WriteIntents,
};
use callvault_storage::{RecordingStore, StorageError, SweepReport};
use callvault_testkit::with_pg_database;
use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use crate::support::{audio, body};

const HOUR: Duration = Duration::from_secs(3600);

pub(crate) struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    pub(crate) fs: Arc<FsBlobStore>,
    keys: Arc<LocalKeyring>,
    db: DatabaseConnection,
    pub(crate) records: StorageRecords,
    intents: WriteIntents,
}

impl Env {
    pub(crate) async fn new(url: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("blobs");
        let db = records::connect(url).await.expect("connect and migrate");
        Env {
            fs: Arc::new(FsBlobStore::new(root.clone())),
            keys: Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring")),
            records: StorageRecords::new(db.clone()),
            intents: WriteIntents::new(db.clone()),
            db,
            root,
            _dir: dir,
        }
    }

    pub(crate) fn store_over(&self, blobs: Arc<dyn BlobStore>) -> Arc<RecordingStore> {
        Arc::new(RecordingStore::new(
            blobs,
            self.keys.clone() as Arc<dyn KeyProvider>,
            self.records.clone(),
        ))
    }

    pub(crate) fn store(&self) -> Arc<RecordingStore> {
        self.store_over(self.fs.clone())
    }

    pub(crate) async fn key(&self, tenant: TenantId) -> KeyRef {
        self.keys
            .create_tenant_key(&tenant.to_string())
            .await
            .expect("tenant key")
    }

    pub(crate) async fn intent_count(&self) -> i64 {
        let sql = "SELECT COUNT(*) AS n FROM storage_write_intents";
        self.db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .expect("count intents")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("n")
    }

    /// Keys of the objects on disk, as `put` was given them.
    pub(crate) fn objects(&self) -> Vec<String> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let objects = self.root.join("objects");
        let mut paths = Vec::new();
        walk(&objects, &mut paths);
        let mut keys: Vec<String> = paths
            .iter()
            .filter_map(|p| p.strip_prefix(&objects).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        keys.sort();
        keys
    }

    /// What a store killed after its put leaves: a pending intent created
    /// `age` ago and its object, with no record.
    async fn killed_store(&self, age: Duration, with_object: bool) -> ObjectKey {
        let (tenant, recording) = (Uuid::new_v4(), Uuid::new_v4());
        let key = ObjectKey::parse(&format!(
            "tenants/{tenant}/recordings/{recording}/{}.cvro",
            Uuid::new_v4()
        ))
        .expect("key");
        let created = Utc::now() - chrono::Duration::from_std(age).expect("age");
        self.intents
            .begin(key.as_str(), tenant, recording, created)
            .await
            .expect("begin");
        if with_object {
            self.fs
                .put(&key, body(b"sealed bytes", 5))
                .await
                .expect("put");
        }
        key
    }

    async fn intent(&self, key: &ObjectKey) -> Option<WriteIntent> {
        self.intents.get(key.as_str()).await.expect("get intent")
    }
}

pub(crate) async fn sweep(store: &RecordingStore, grace: Duration) -> SweepReport {
    store
        .sweeper()
        .with_grace(grace)
        .run()
        .await
        .expect("sweep")
}

fn report(abandoned: u64, removed: u64, failed: u64) -> SweepReport {
    SweepReport {
        abandoned,
        removed,
        failed,
        incomplete_uploads: 0,
    }
}

async fn a_store_leaves_its_record_and_no_intent(url: String) {
    let env = Env::new(&url).await;
    let store = env.store();
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let data = audio(150_000);
    let key = env.key(tenant).await;
    store
        .store(tenant, recording, &key, body(&data, 4_096))
        .await
        .expect("store");
    assert_eq!(env.intent_count().await, 0);
    let record = env
        .records
        .get(tenant.0, recording.0)
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(env.objects(), vec![record.object_key.clone()]);

    // No grace at all: a committed store is no intent, so nothing to sweep.
    assert_eq!(sweep(&store, Duration::ZERO).await, report(0, 0, 0));
    let read: Vec<Bytes> = store
        .read(tenant, recording, None)
        .await
        .expect("read")
        .body
        .try_collect()
        .await
        .expect("whole");
    assert_eq!(read.concat(), data);

    // A failed store takes its intent with it.
    let broken = futures_util::stream::iter(vec![
        Ok(Bytes::from(audio(100_000))),
        Err(std::io::Error::other("recorder disconnected")),
    ])
    .boxed();
    let failed = store.store(tenant, RecordingId::new(), &key, broken).await;
    assert!(matches!(failed, Err(StorageError::Body(_))), "{failed:?}");
    assert_eq!(env.intent_count().await, 0);
    assert_eq!(env.objects().len(), 1);
}

async fn a_killed_store_is_swept(url: String) {
    let env = Env::new(&url).await;
    let store = env.store();
    let orphan = env.killed_store(2 * HOUR, true).await;
    // Killed between its intent and its put: nothing to delete, still swept.
    let no_object = env.killed_store(2 * HOUR, false).await;
    assert_eq!(env.objects(), vec![orphan.to_string()]);

    assert_eq!(sweep(&store, HOUR).await, report(2, 2, 0));
    assert_eq!(env.objects(), Vec::<String>::new());
    assert_eq!(env.intent(&orphan).await, None);
    assert_eq!(env.intent(&no_object).await, None);
    assert_eq!(sweep(&store, HOUR).await, report(0, 0, 0));
}

async fn a_young_intent_is_not_swept(url: String) {
    let env = Env::new(&url).await;
    let store = env.store();
    let young = env.killed_store(Duration::from_secs(60), true).await;
    assert_eq!(sweep(&store, HOUR).await, report(0, 0, 0));
    assert_eq!(env.objects(), vec![young.to_string()]);
    let intent = env.intent(&young).await.expect("kept");
    assert_eq!(intent.state, IntentState::Pending);
}

/// The real filesystem store, paused after each `put` has published its
/// object until the test lets it go: the seam that puts a sweep between a
/// store's put and its commit, deterministically.
pub(crate) struct PausedAfterPut {
    pub(crate) inner: Arc<FsBlobStore>,
    pub(crate) put_done: mpsc::UnboundedSender<ObjectKey>,
    pub(crate) resume: Arc<Notify>,
}

#[async_trait]
impl BlobStore for PausedAfterPut {
    async fn put(&self, key: &ObjectKey, body: ByteStream) -> Result<ObjectMeta, BlobError> {
        let meta = self.inner.put(key, body).await?;
        let resumed = self.resume.notified();
        let _ = self.put_done.send(key.clone());
        resumed.await;
        Ok(meta)
    }
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, BlobError> {
        self.inner.head(key).await
    }
    async fn get_range(
        &self,
        key: &ObjectKey,
        range: std::ops::Range<u64>,
    ) -> Result<ByteStream, BlobError> {
        self.inner.get_range(key, range).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        self.inner.delete(key).await
    }
    async fn version_count(&self, key: &ObjectKey) -> Result<usize, BlobError> {
        self.inner.version_count(key).await
    }
    async fn remove_incomplete_uploads(&self, before: SystemTime) -> Result<u64, BlobError> {
        self.inner.remove_incomplete_uploads(before).await
    }
}

/// A store paused between its put and its commit, the sweep run (or only
/// its compare-and-set, `full_sweep` false) in the gap: the store must fail
/// retryably and leave neither object, record nor intent.
async fn race(env: &Env, full_sweep: bool) {
    let (put_done, mut puts) = mpsc::unbounded_channel();
    let resume = Arc::new(Notify::new());
    let paused = env.store_over(Arc::new(PausedAfterPut {
        inner: env.fs.clone(),
        put_done,
        resume: resume.clone(),
    }));
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key = env.key(tenant).await;
    let storing = tokio::spawn({
        let paused = paused.clone();
        async move {
            paused
                .store(tenant, recording, &key, body(&audio(10_000), 1_000))
                .await
        }
    });
    let object = puts.recv().await.expect("the put finished");
    assert_eq!(env.objects(), vec![object.to_string()]);
    // One millisecond of age, and no grace: the paused store is abandoned.
    tokio::time::sleep(Duration::from_millis(2)).await;
    if full_sweep {
        assert_eq!(sweep(&env.store(), Duration::ZERO).await, report(1, 1, 0));
        assert_eq!(env.objects(), Vec::<String>::new());
    } else {
        let abandoned = env
            .intents
            .abandon_pending_before(Utc::now())
            .await
            .expect("abandon");
        assert_eq!(abandoned, 1);
    }
    resume.notify_one();
    let stored = storing.await.expect("store task");
    match &stored {
        Err(error @ StorageError::Unavailable(_)) => assert_eq!(error.code(), "unavailable"),
        other => panic!("expected a retryable failure, got {other:?}"),
    }
    assert_eq!(
        env.records.get(tenant.0, recording.0).await.expect("get"),
        None
    );
    assert_eq!(env.objects(), Vec::<String>::new());
    assert_eq!(env.intent_count().await, 0);
    // The recording can be stored again, as a retry would.
    env.store()
        .store(tenant, recording, &env.key(tenant).await, body(b"again", 2))
        .await
        .expect("retried store");
}

async fn the_sweep_wins_a_race_with_a_slow_store(url: String) {
    // A fresh blob folder each: the first retry's object stays.
    race(&Env::new(&url).await, true).await;
    race(&Env::new(&url).await, false).await;
}

/// Two stores of one recording, both past the "already stored" check
/// before either commits: the loser's record insert fails inside the
/// commit transaction, which rolls back, and it removes its object and
/// intent.
async fn the_loser_of_two_stores_leaves_nothing(url: String) {
    let env = Env::new(&url).await;
    let (put_done, mut puts) = mpsc::unbounded_channel();
    let resume = Arc::new(Notify::new());
    let paused = env.store_over(Arc::new(PausedAfterPut {
        inner: env.fs.clone(),
        put_done,
        resume: resume.clone(),
    }));
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key = env.key(tenant).await;
    let stores: Vec<_> = [b"first".as_slice(), b"second".as_slice()]
        .into_iter()
        .map(|data| {
            let (paused, key) = (paused.clone(), key.clone());
            tokio::spawn(async move { paused.store(tenant, recording, &key, body(data, 2)).await })
        })
        .collect();
    puts.recv().await.expect("first put");
    puts.recv().await.expect("second put");
    assert_eq!(env.objects().len(), 2);
    resume.notify_one();
    resume.notify_one();
    let mut outcomes = Vec::new();
    for store in stores {
        outcomes.push(store.await.expect("store task"));
    }
    let won = outcomes.iter().filter(|o| o.is_ok()).count();
    let lost = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StorageError::AlreadyExists)))
        .count();
    assert_eq!((won, lost), (1, 1), "{outcomes:?}");
    let record = env.records.get(tenant.0, recording.0).await.expect("get");
    assert_eq!(env.objects(), vec![record.expect("recorded").object_key]);
    assert_eq!(env.intent_count().await, 0);
}

/// Stores and grace-less sweeps racing freely: each store either committed
/// (its object readable) or failed retryably, and no object outlives the
/// last sweep without its record.
async fn stores_and_sweeps_racing_leave_no_orphan(url: String) {
    let env = Env::new(&url).await;
    let store = env.store();
    let tenant = TenantId::new();
    let key = env.key(tenant).await;
    let stores = futures_util::future::join_all((0..12).map(|i| {
        let (store, key) = (store.clone(), key.clone());
        async move {
            let recording = RecordingId::new();
            let data = audio(20_000 + i * 1_000);
            let result = store.store(tenant, recording, &key, body(&data, 997)).await;
            (recording, result)
        }
    }));
    let sweeps = async {
        for _ in 0..20 {
            sweep(&store, Duration::ZERO).await;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    };
    let (results, ()) = tokio::join!(stores, sweeps);
    sweep(&store, Duration::ZERO).await;
    let mut recorded = Vec::new();
    for (recording, result) in results {
        let record = env.records.get(tenant.0, recording.0).await.expect("get");
        match (result, record) {
            (Ok(_), Some(record)) => {
                store.info(tenant, recording).await.expect("readable");
                recorded.push(record.object_key);
            }
            (Err(StorageError::Unavailable(_)), None) => {}
            (result, record) => panic!("inconsistent: {result:?} / {record:?}"),
        }
    }
    recorded.sort();
    assert_eq!(env.objects(), recorded);
    assert_eq!(env.intent_count().await, 0);
}

/// The real filesystem store whose `delete` fails while `failing` is set.
/// A fake on purpose: the filesystem refuses an unlink only for lack of
/// permission, which root (these tests' usual user) ignores, and a stopped
/// S3 peer would fail the put and head too; the sweep's answer to a failed
/// delete is what is under test, not the backend's.
struct FailingDelete {
    inner: Arc<FsBlobStore>,
    failing: AtomicBool,
}

#[async_trait]
impl BlobStore for FailingDelete {
    async fn put(&self, key: &ObjectKey, body: ByteStream) -> Result<ObjectMeta, BlobError> {
        self.inner.put(key, body).await
    }
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, BlobError> {
        self.inner.head(key).await
    }
    async fn get_range(
        &self,
        key: &ObjectKey,
        range: std::ops::Range<u64>,
    ) -> Result<ByteStream, BlobError> {
        self.inner.get_range(key, range).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(BlobError::Unavailable("injected delete failure".into()));
        }
        self.inner.delete(key).await
    }
    async fn version_count(&self, key: &ObjectKey) -> Result<usize, BlobError> {
        self.inner.version_count(key).await
    }
    async fn remove_incomplete_uploads(&self, before: SystemTime) -> Result<u64, BlobError> {
        self.inner.remove_incomplete_uploads(before).await
    }
}

async fn a_failed_delete_is_retried_by_the_next_sweep(url: String) {
    let env = Env::new(&url).await;
    let blobs = Arc::new(FailingDelete {
        inner: env.fs.clone(),
        failing: AtomicBool::new(true),
    });
    let store = env.store_over(blobs.clone());
    let orphan = env.killed_store(2 * HOUR, true).await;

    assert_eq!(sweep(&store, HOUR).await, report(1, 0, 1));
    assert_eq!(env.objects(), vec![orphan.to_string()]);
    let kept = env.intent(&orphan).await.expect("kept for the next pass");
    assert_eq!(kept.state, IntentState::Abandoned);

    // A store whose own clean-up can't delete hands its object over: the
    // next sweep takes it at once, young as it is.
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let cut = futures_util::stream::iter(vec![
        Ok(Bytes::from(audio(100_000))),
        Err(std::io::Error::other("recorder disconnected")),
    ])
    .boxed();
    let failed = store
        .store(tenant, recording, &env.key(tenant).await, cut)
        .await;
    assert!(matches!(failed, Err(StorageError::Body(_))), "{failed:?}");
    assert_eq!(env.intent_count().await, 2);

    blobs.failing.store(false, Ordering::SeqCst);
    assert_eq!(sweep(&store, HOUR).await, report(0, 2, 0));
    assert_eq!(env.objects(), Vec::<String>::new());
    assert_eq!(env.intent_count().await, 0);
}

/// A database from before write intents (the first two migrations, with a
/// record in it) gets the table on the next start and keeps its records.
async fn an_existing_database_migrates_forward(url: String) {
    let old = sea_orm::Database::connect(url.as_str())
        .await
        .expect("connect");
    Migrator::up(&old, Some(2)).await.expect("the old schema");
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let before = NewRecord {
        tenant_id: tenant.0,
        recording_id: recording.0,
        object_key: format!("tenants/{tenant}/recordings/{recording}/old.cvro"),
        key_ref: "key-old".into(),
        wrapped_key: vec![7; 40],
        frame_size: 65_536,
        plaintext_len: 10,
        ciphertext_len: 100,
        sha256: [9; 32],
        created_at: Utc::now(),
    };
    // Written as the code of that schema wrote it: the row alone.
    crate::support::insert_row_alone(&old, &before).await;
    old.close().await.expect("close");

    let env = Env::new(&url).await;
    let applied = Migrator::get_applied_migrations(&env.db)
        .await
        .expect("applied");
    assert_eq!(applied.len(), Migrator::migrations().len());
    let kept = env.records.get(tenant.0, recording.0).await.expect("get");
    assert_eq!(kept.map(|r| r.object_key), Some(before.object_key));
    let next = RecordingId::new();
    let key = env.key(tenant).await;
    env.store()
        .store(tenant, next, &key, body(b"after the upgrade", 4))
        .await
        .expect("store on the migrated database");
    assert_eq!(env.intent_count().await, 0);
    assert_eq!(env.objects().len(), 1);
}

async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    scenario(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("storage.db").display()
    ))
    .await;
}

macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::on_sqlite(super::$scenario).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                super::with_pg_database(super::$scenario).await;
            })*
        }
    };
}

on_both_databases!(
    a_store_leaves_its_record_and_no_intent,
    a_killed_store_is_swept,
    a_young_intent_is_not_swept,
    the_sweep_wins_a_race_with_a_slow_store,
    the_loser_of_two_stores_leaves_nothing,
    stores_and_sweeps_racing_leave_no_orphan,
    a_failed_delete_is_retried_by_the_next_sweep,
    an_existing_database_migrates_forward,
);
