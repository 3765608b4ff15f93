//! One conformance suite for the storage records repository, run against
//! every database backend the service supports: whatever passes here on
//! SQLite behaves the same on PostgreSQL, and the other way round.

use callvault_contracts::{RecordingId, TenantId};
use callvault_storage::records::{
    self, ListedRecord, Migrator, NewRecord, RecordError, RecordState, ShredOutcome, StorageRecord,
    StorageRecords,
};
use callvault_testkit::with_pg_database;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;

#[tokio::test]
async fn records_conformance_on_sqlite() {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    // The file does not exist yet: `connect` must create it.
    let url = format!("sqlite://{}", dir.path().join("storage.db").display());

    let db = records::connect(&url).await.expect("connect to sqlite");
    let journal_mode = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .expect("read the journal mode")
        .expect("one row")
        .try_get::<String>("", "journal_mode")
        .expect("journal_mode column");
    assert_eq!(journal_mode, "wal");
    db.close().await.expect("close sqlite");

    run_conformance_suite(url).await;
}

#[tokio::test]
async fn records_conformance_on_postgres() {
    with_pg_database(|url| async move {
        // Two replicas starting together: both must come up, one waiting for
        // the other's migrations instead of failing on "relation exists".
        let (first, second) = tokio::join!(records::connect(&url), records::connect(&url));
        for db in [first, second] {
            let db = db.expect("concurrent connect and migrate");
            db.close().await.expect("close postgres");
        }

        run_conformance_suite(url).await;
    })
    .await;
}

async fn run_conformance_suite(url: String) {
    let db = records::connect(&url).await.expect("connect and migrate");
    let records = StorageRecords::new(db.clone());

    insert_then_get_round_trips(&records).await;
    timestamps_are_kept_to_the_microsecond(&records).await;
    duplicate_insert_is_rejected(&records).await;
    invalid_records_are_rejected(&records).await;
    tenants_are_isolated(&records).await;
    shredding_clears_the_key_once(&records).await;
    listing_by_key_pages_over_every_stored_record(&records).await;
    listing_by_age_pages_over_every_tenant(&records).await;
    rewrap_is_a_compare_and_set(&records).await;
    migrations_run_twice_are_a_no_op(&url, &records).await;

    db.close().await.expect("close the database");
}

fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, nanos).expect("a valid timestamp")
}

fn new_record(tenant_id: Uuid, recording_id: Uuid, key_ref: &str) -> NewRecord {
    NewRecord {
        tenant_id,
        recording_id,
        object_key: format!("tenants/{tenant_id}/recordings/{recording_id}"),
        key_ref: key_ref.to_string(),
        // Distinct per record, so a compare-and-set against another
        // record's key would be caught.
        wrapped_key: recording_id.as_bytes().repeat(3),
        frame_size: 64 * 1024,
        plaintext_len: 5_000_000_000,
        ciphertext_len: 5_000_076_345,
        sha256: *Uuid::new_v4()
            .as_bytes()
            .repeat(2)
            .first_chunk()
            .expect("32 bytes"),
        created_at: at(1_700_000_000, 123_456_000),
    }
}

fn expected(record: &NewRecord) -> StorageRecord {
    StorageRecord {
        tenant_id: record.tenant_id,
        recording_id: record.recording_id,
        object_key: record.object_key.clone(),
        key_ref: record.key_ref.clone(),
        frame_size: record.frame_size,
        plaintext_len: record.plaintext_len,
        ciphertext_len: record.ciphertext_len,
        sha256: record.sha256,
        created_at: record.created_at,
        rewrapped_at: None,
        state: RecordState::Stored {
            wrapped_key: record.wrapped_key.clone(),
        },
    }
}

async fn get(records: &StorageRecords, tenant_id: Uuid, recording_id: Uuid) -> StorageRecord {
    records
        .get(tenant_id, recording_id)
        .await
        .expect("get a record")
        .expect("the record exists")
}

async fn insert_then_get_round_trips(records: &StorageRecords) {
    let record = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    records.insert(&record).await.expect("insert");

    assert_eq!(
        get(records, record.tenant_id, record.recording_id).await,
        expected(&record)
    );
    let absent = records
        .get(record.tenant_id, Uuid::new_v4())
        .await
        .expect("get");
    assert_eq!(absent, None);
}

async fn timestamps_are_kept_to_the_microsecond(records: &StorageRecords) {
    let mut record = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    record.created_at = at(1_700_000_000, 123_456_789);
    records.insert(&record).await.expect("insert");

    let read = get(records, record.tenant_id, record.recording_id).await;
    assert_eq!(read.created_at, at(1_700_000_000, 123_456_000));
}

async fn duplicate_insert_is_rejected(records: &StorageRecords) {
    let original = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    records.insert(&original).await.expect("insert");

    let mut duplicate = new_record(original.tenant_id, original.recording_id, "key-b");
    duplicate.wrapped_key = b"another wrapped key".to_vec();
    let err = records
        .insert(&duplicate)
        .await
        .expect_err("duplicate insert");
    assert!(matches!(err, RecordError::AlreadyExists), "got {err:?}");

    let read = get(records, original.tenant_id, original.recording_id).await;
    assert_eq!(read, expected(&original));
}

async fn invalid_records_are_rejected(records: &StorageRecords) {
    let mut empty_key = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    empty_key.wrapped_key.clear();
    let mut too_long = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    too_long.plaintext_len = u64::MAX;
    let mut no_frames = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    no_frames.frame_size = 0;

    for (record, field) in [
        (empty_key, "wrapped_key"),
        (too_long, "plaintext_len"),
        (no_frames, "frame_size"),
    ] {
        let err = records.insert(&record).await.expect_err("invalid insert");
        assert!(
            matches!(err, RecordError::Invalid(got) if got == field),
            "got {err:?}"
        );
        let read = records
            .get(record.tenant_id, record.recording_id)
            .await
            .expect("get");
        assert_eq!(read, None, "a rejected record must not be written");
    }
}

async fn tenants_are_isolated(records: &StorageRecords) {
    let tenant_a = Uuid::new_v4();
    let tenant_b = Uuid::new_v4();
    let record = new_record(tenant_a, Uuid::new_v4(), "key-shared-name");
    records.insert(&record).await.expect("insert");

    let read = records
        .get(tenant_b, record.recording_id)
        .await
        .expect("get");
    assert_eq!(read, None);
    let err = records
        .mark_shredded(tenant_b, record.recording_id, at(1_700_000_100, 0))
        .await
        .expect_err("shred another tenant's record");
    assert!(matches!(err, RecordError::NotFound), "got {err:?}");
    let listed = records
        .list_stored_for_key(tenant_b, &record.key_ref, None, 100)
        .await
        .expect("list");
    assert_eq!(listed, Vec::new());
    let updated = records
        .update_wrapped_key(
            tenant_b,
            record.recording_id,
            &record.wrapped_key,
            "key-of-b",
            b"b's wrapped key",
            at(1_700_000_100, 0),
        )
        .await
        .expect("update");
    assert!(!updated);
    // Tenant B's own record under the same id is another row: no conflict,
    // so the answer leaks nothing about tenant A.
    let same_id = new_record(tenant_b, record.recording_id, "key-of-b");
    records.insert(&same_id).await.expect("insert for tenant b");

    assert_eq!(
        get(records, tenant_a, record.recording_id).await,
        expected(&record)
    );
    assert_eq!(
        get(records, tenant_b, record.recording_id).await,
        expected(&same_id)
    );
}

async fn shredding_clears_the_key_once(records: &StorageRecords) {
    let record = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    records.insert(&record).await.expect("insert");
    let first = at(1_700_000_200, 5_000);

    let outcome = records
        .mark_shredded(record.tenant_id, record.recording_id, first)
        .await
        .expect("shred");
    assert_eq!(outcome, ShredOutcome::Shredded);
    let read = get(records, record.tenant_id, record.recording_id).await;
    assert_eq!(
        read,
        StorageRecord {
            state: RecordState::Shredded { at: first },
            ..expected(&record)
        }
    );

    let again = records
        .mark_shredded(record.tenant_id, record.recording_id, at(1_700_000_300, 0))
        .await
        .expect("shred again");
    assert_eq!(again, ShredOutcome::AlreadyShredded { at: first });
    let reread = get(records, record.tenant_id, record.recording_id).await;
    assert_eq!(reread, read, "a second shred changes nothing");

    let err = records
        .mark_shredded(record.tenant_id, Uuid::new_v4(), first)
        .await
        .expect_err("shred a missing record");
    assert!(matches!(err, RecordError::NotFound), "got {err:?}");
}

async fn listing_by_key_pages_over_every_stored_record(records: &StorageRecords) {
    let tenant_id = Uuid::new_v4();
    let mut stored = Vec::new();
    for index in 0..23 {
        let record = new_record(tenant_id, Uuid::new_v4(), "key-old");
        records.insert(&record).await.expect("insert");
        // Every fourth one is shredded and must not be listed.
        if index % 4 == 0 {
            records
                .mark_shredded(tenant_id, record.recording_id, at(1_700_000_400, 0))
                .await
                .expect("shred");
            continue;
        }
        stored.push(record.recording_id);
    }
    // Same key name, other key or other tenant: not listed either.
    let other_key = new_record(tenant_id, Uuid::new_v4(), "key-other");
    let other_tenant = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-old");
    records.insert(&other_key).await.expect("insert");
    records.insert(&other_tenant).await.expect("insert");
    stored.sort();

    // Walk the pages the way a re-wrap job does, moving each listed record
    // to the new key as it goes: keyset pagination still sees every record
    // exactly once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = records
            .list_stored_for_key(tenant_id, "key-old", after, 5)
            .await
            .expect("list a page");
        assert!(page.len() <= 5);
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.recording_id);
        for record in page {
            let RecordState::Stored { wrapped_key } = &record.state else {
                panic!("listed a shredded record");
            };
            let moved = records
                .update_wrapped_key(
                    tenant_id,
                    record.recording_id,
                    wrapped_key,
                    "key-new",
                    b"re-wrapped",
                    at(1_700_000_500, 0),
                )
                .await
                .expect("re-wrap");
            assert!(moved);
            seen.push(record.recording_id);
        }
    }
    assert_eq!(
        seen, stored,
        "every stored record once, in recording id order"
    );
    let left = records
        .list_stored_for_key(tenant_id, "key-old", None, 100)
        .await
        .expect("list");
    assert_eq!(left, Vec::new());
}

/// Ingestion's reconciler walks every tenant's stored records below a cutoff,
/// discarding some as it goes.
async fn listing_by_age_pages_over_every_tenant(records: &StorageRecords) {
    // Well before every other test's records, which are not below the
    // cutoff and so stay out of this listing.
    let base = 1_600_000_000;
    let cutoff = at(base + 10, 0);
    let mut expected = Vec::new();
    for index in 0..17i64 {
        // Three records share each instant, so ties are broken by tenant
        // and recording id; some share a tenant too.
        let tenant_id = if index % 5 == 0 {
            Uuid::nil()
        } else {
            Uuid::new_v4()
        };
        let mut record = new_record(tenant_id, Uuid::new_v4(), "key-age");
        record.created_at = at(base + index / 3, 250_000 * (index as u32 % 2));
        records.insert(&record).await.expect("insert");
        if index == 7 {
            records
                .mark_shredded(tenant_id, record.recording_id, at(base + 100, 0))
                .await
                .expect("shred");
            continue;
        }
        expected.push(ListedRecord {
            created_at: record.created_at,
            tenant_id: TenantId(tenant_id),
            recording_id: RecordingId(record.recording_id),
        });
    }
    // At the cutoff and after it: not listed.
    for created_at in [cutoff, at(base + 11, 0)] {
        let mut record = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-age");
        record.created_at = created_at;
        records.insert(&record).await.expect("insert");
    }
    expected.sort();

    let (mut seen, mut deleted) = (Vec::new(), 0);
    let mut after = None;
    loop {
        let page = records
            .list_stored_before(cutoff, after, 4)
            .await
            .expect("list a page");
        assert!(page.len() <= 4);
        let Some(last) = page.last().copied() else {
            break;
        };
        after = Some(last);
        // Discarding listed records while walking skips nothing.
        for (index, record) in page.into_iter().enumerate() {
            if index % 2 == 0 {
                let removed = records
                    .delete(record.tenant_id.0, record.recording_id.0, Utc::now())
                    .await
                    .expect("delete");
                assert!(removed);
                deleted += 1;
            }
            seen.push(record);
        }
    }
    assert_eq!(seen, expected, "every stored record once, oldest first");
    let again = records
        .list_stored_before(cutoff, None, 100)
        .await
        .expect("list");
    assert_eq!(again.len(), expected.len() - deleted);
}

async fn rewrap_is_a_compare_and_set(records: &StorageRecords) {
    let record = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    records.insert(&record).await.expect("insert");
    let (tenant_id, recording_id) = (record.tenant_id, record.recording_id);
    let rewrapped_at = at(1_700_000_600, 1_000);

    let stale = records
        .update_wrapped_key(
            tenant_id,
            recording_id,
            b"stale",
            "key-b",
            b"new",
            rewrapped_at,
        )
        .await
        .expect("update");
    assert!(!stale);
    assert_eq!(
        get(records, tenant_id, recording_id).await,
        expected(&record)
    );

    let updated = records
        .update_wrapped_key(
            tenant_id,
            recording_id,
            &record.wrapped_key,
            "key-b",
            b"wrapped by b",
            rewrapped_at,
        )
        .await
        .expect("update");
    assert!(updated);
    let read = get(records, tenant_id, recording_id).await;
    assert_eq!(
        read,
        StorageRecord {
            key_ref: "key-b".to_string(),
            rewrapped_at: Some(rewrapped_at),
            state: RecordState::Stored {
                wrapped_key: b"wrapped by b".to_vec()
            },
            ..expected(&record)
        }
    );

    // A shredded record never gets a key back, even with the right old one.
    records
        .mark_shredded(tenant_id, recording_id, at(1_700_000_700, 0))
        .await
        .expect("shred");
    let resurrected = records
        .update_wrapped_key(
            tenant_id,
            recording_id,
            b"wrapped by b",
            "key-c",
            b"wrapped by c",
            rewrapped_at,
        )
        .await
        .expect("update");
    assert!(!resurrected);
    let shredded = get(records, tenant_id, recording_id).await;
    assert!(matches!(shredded.state, RecordState::Shredded { .. }));
}

async fn migrations_run_twice_are_a_no_op(url: &str, records: &StorageRecords) {
    let record = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-a");
    records.insert(&record).await.expect("insert");

    records::migrate(records.connection())
        .await
        .expect("migrate again");
    let reconnected = records::connect(url).await.expect("connect again");
    let applied = Migrator::get_applied_migrations(&reconnected)
        .await
        .expect("applied migrations");
    assert_eq!(applied.len(), Migrator::migrations().len());

    let again = StorageRecords::new(reconnected.clone());
    assert_eq!(
        get(&again, record.tenant_id, record.recording_id).await,
        expected(&record)
    );
    reconnected.close().await.expect("close");
}

/// A database from before the listing index (and the outbox) gets them on
/// the next start, its records listed as any other.
async fn an_old_database_migrates_forward(url: String) {
    let old = sea_orm::Database::connect(url.as_str())
        .await
        .expect("connect");
    Migrator::up(&old, Some(1)).await.expect("the first schema");
    let record = new_record(Uuid::new_v4(), Uuid::new_v4(), "key-old");
    // Written as the code of that schema wrote it: the row alone.
    crate::support::insert_row_alone(&old, &record).await;
    old.close().await.expect("close");

    let db = records::connect(&url).await.expect("migrate forward");
    let applied = Migrator::get_applied_migrations(&db)
        .await
        .expect("applied");
    assert_eq!(applied.len(), Migrator::migrations().len());
    let listed = StorageRecords::new(db.clone())
        .list_stored_before(at(1_800_000_000, 0), None, 10)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].recording_id.0, record.recording_id);
    db.close().await.expect("close");
}

#[tokio::test]
async fn an_old_database_migrates_forward_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("storage.db");
    an_old_database_migrates_forward(format!("sqlite://{}?mode=rwc", path.display())).await;
}

#[tokio::test]
async fn an_old_database_migrates_forward_on_postgres() {
    with_pg_database(an_old_database_migrates_forward).await;
}
