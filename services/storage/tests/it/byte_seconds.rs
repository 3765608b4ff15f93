//! `stored_byte_seconds`, billing's reconciliation, through storage's
//! router on the bus: hand-computed windows on SQLite and PostgreSQL, and
//! the same sums as billing gets from the events in the outbox.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use callvault_bus::RpcClient;
use callvault_bus::in_process::InProcessBus;
use callvault_contracts::events::{RecordingDiscardedV1, RecordingShreddedV1, RecordingStoredV1};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::storage::{StoredByteSeconds, TenantByteSeconds};
use callvault_contracts::{RecordingId, TenantId};
use callvault_storage::records::{NewRecord, StorageRecords};
use callvault_testkit::with_pg_database;
use chrono::{DateTime, Utc};

use crate::support::{Harness, events};

#[tokio::test]
async fn stored_byte_seconds_on_sqlite() {
    stored_byte_seconds(None).await;
}

#[tokio::test]
async fn stored_byte_seconds_on_postgres() {
    with_pg_database(|url| async move { stored_byte_seconds(Some(&url)).await }).await;
}

/// A whole second the windows are placed around.
const T0: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

/// `T0 + secs` and `micros` microseconds.
fn t(secs: i64, micros: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(T0 + secs, micros * 1_000).expect("a valid instant")
}

fn record(tenant: TenantId, len: u64, created_at: DateTime<Utc>) -> NewRecord {
    let recording = RecordingId::new();
    NewRecord {
        tenant_id: tenant.0,
        recording_id: recording.0,
        object_key: format!("tenants/{tenant}/recordings/{recording}.cvro"),
        key_ref: "local:test".into(),
        wrapped_key: vec![9; 40],
        frame_size: 64 * 1024,
        plaintext_len: len,
        ciphertext_len: len,
        sha256: [3; 32],
        created_at,
    }
}

/// Records `len` bytes of `tenant` created at `created_at`, shredded at
/// `shredded_at` if given.
async fn put(
    records: &StorageRecords,
    tenant: TenantId,
    len: u64,
    created_at: DateTime<Utc>,
    shredded_at: Option<DateTime<Utc>>,
) -> RecordingId {
    let record = record(tenant, len, created_at);
    records.insert(&record).await.expect("insert");
    if let Some(at) = shredded_at {
        records
            .mark_shredded(record.tenant_id, record.recording_id, at)
            .await
            .expect("shred");
    }
    RecordingId(record.recording_id)
}

async fn ask(
    rpc: &RpcClient,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BTreeMap<TenantId, String> {
    let reply: Vec<TenantByteSeconds> = rpc
        .call(StoredByteSeconds { from, to })
        .await
        .expect("stored byte-seconds");
    let tenants: Vec<TenantId> = reply.iter().map(|row| row.tenant).collect();
    let mut sorted = tenants.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(tenants, sorted, "one row per tenant, in tenant order");
    reply
        .into_iter()
        .map(|row| (row.tenant, row.byte_seconds))
        .collect()
}

async fn stored_byte_seconds(url: Option<&str>) {
    let harness = Harness::with_records(url).await;
    let records = &harness.records;
    let bus = Arc::new(InProcessBus::default());
    callvault_storage::operations::router(&harness.store)
        .serve(bus.as_ref())
        .await
        .expect("serve storage");
    let rpc = RpcClient::new(bus, Duration::from_secs(60));

    // The window: a day, from and to inside their seconds.
    let (from, to) = (t(0, 700_000), t(DAY, 200_000));

    let a = TenantId::new();
    // Stored before the window, shredded inside it: 1,000 B × 3,600 s.
    put(
        records,
        a,
        1_000,
        t(-1_000, 900_000),
        Some(t(3_600, 400_000)),
    )
    .await;
    // Stored inside it, never shredded: 2,000 B × (86,400 − 7,200) s.
    put(records, a, 2_000, t(7_200, 999_999), None).await;
    // Stored and shredded before it: nothing.
    put(records, a, 8_000, t(-500, 0), Some(t(-100, 0))).await;
    // Stored in the window's last second (after `to`'s floor): nothing.
    put(records, a, 16_000, t(DAY, 100_000), None).await;
    // Shredded in the window's first second: nothing.
    put(records, a, 32_000, t(-10, 0), Some(t(0, 900_000))).await;
    // Stored before `from` but in its second, shredded 10.5 s later:
    // floored, 64,000 B × 10 s.
    put(records, a, 64_000, t(0, 300_000), Some(t(10, 500_000))).await;
    // Stored inside it, then discarded: never stored.
    let discarded = put(records, a, 4_000, t(100, 0), None).await;
    assert!(
        records
            .delete(a.0, discarded.0, t(200, 0))
            .await
            .expect("discard")
    );
    let a_total: u128 = 1_000 * 3_600 + 2_000 * (86_400 - 7_200) + 64_000 * 10;
    assert_eq!(a_total, 162_640_000);

    // Past 2^64: 9 × 10^18 B for the whole day.
    let b = TenantId::new();
    put(records, b, 9_000_000_000_000_000_000, t(-DAY, 0), None).await;

    // Only a discarded recording: left out.
    let c = TenantId::new();
    let gone = put(records, c, 50_000, t(10, 0), None).await;
    assert!(
        records
            .delete(c.0, gone.0, t(20, 0))
            .await
            .expect("discard")
    );

    // Only a recording stored after the window's last whole second: zero,
    // left out.
    let d = TenantId::new();
    put(records, d, 70_000, t(DAY, 150_000), None).await;

    // More recordings than a page holds (1,000), one second each.
    let e = TenantId::new();
    for _ in 0..1_001 {
        put(records, e, 1, t(DAY - 1, 0), None).await;
    }

    let expected: BTreeMap<TenantId, String> = [
        (a, "162640000".to_owned()),
        (b, "777600000000000000000000".to_owned()),
        (e, "1001".to_owned()),
    ]
    .into();
    assert_eq!(ask(&rpc, from, to).await, expected);

    // Billing's side, from the outbox's events floored the same way,
    // agrees to the byte-second.
    assert_eq!(from_events(&harness, from, to).await, expected);

    // Shorter windows.
    let first_hour = ask(&rpc, from, t(3_600, 0)).await;
    assert_eq!(
        first_hour,
        [
            (a, (1_000u128 * 3_600 + 64_000 * 10).to_string()),
            (b, (9_000_000_000_000_000_000u128 * 3_600).to_string()),
        ]
        .into()
    );
    assert_eq!(from_events(&harness, from, t(3_600, 0)).await, first_hour);
    // Before anything was stored, or an empty window: nobody.
    assert!(ask(&rpc, t(-10 * DAY, 0), t(-2 * DAY, 0)).await.is_empty());
    assert!(ask(&rpc, from, from).await.is_empty());

    // `to` before `from`: refused with a code.
    let refused = rpc
        .call(StoredByteSeconds { from: to, to: from })
        .await
        .expect_err("a window ending before it starts");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert!(!refused.message.is_empty());
}

/// Billing's computation: each recording's bytes from its
/// `recording.stored`, until its `recording.shredded`, minus the discarded
/// ones, every instant floored to its Unix second.
async fn from_events(
    harness: &Harness,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BTreeMap<TenantId, String> {
    let discarded: Vec<RecordingId> = events::<RecordingDiscardedV1>(harness)
        .await
        .iter()
        .map(|event| event.recording_id)
        .collect();
    let shredded: BTreeMap<RecordingId, DateTime<Utc>> = events::<RecordingShreddedV1>(harness)
        .await
        .iter()
        .map(|event| (event.recording_id, event.shredded_at))
        .collect();
    let mut totals: BTreeMap<TenantId, u128> = BTreeMap::new();
    for stored in events::<RecordingStoredV1>(harness).await {
        if discarded.contains(&stored.recording_id) {
            continue;
        }
        let start = from.timestamp().max(stored.stored_at.timestamp());
        let end = shredded
            .get(&stored.recording_id)
            .map_or(to.timestamp(), |at| to.timestamp().min(at.timestamp()));
        if end > start {
            let seconds = u128::try_from(end - start).expect("positive");
            *totals.entry(stored.tenant_id).or_default() += u128::from(stored.size) * seconds;
        }
    }
    totals
        .into_iter()
        .filter(|(_, sum)| *sum > 0)
        .map(|(tenant, sum)| (tenant, sum.to_string()))
        .collect()
}
