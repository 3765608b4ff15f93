//! The daily reconciliation against the REAL storage service: recordings
//! stored and shredded by storage reach billing through storage's outbox
//! and the bus; both sides then agree to the byte-second, and an event
//! billing lost shows as a difference.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use callvault_billing::BillingService;
use callvault_blob::{BlobStore, fs::FsBlobStore};
use callvault_bus::in_process::InProcessBus;
use callvault_bus::outbox::OutboxRelay;
use callvault_bus::{Bus, RpcClient};
use callvault_contracts::metadata_api::{ErrorCode, Tenant};
use callvault_contracts::ops::billing::ReconcileStorage;
use callvault_contracts::ops::tenancy::TenantDirectory;
use callvault_contracts::{BpoId, RecordingId, Role, TenantId};
use callvault_keys::{KeyProvider, local::LocalKeyring};
use callvault_storage::RecordingStore;
use callvault_storage::records::{self, StorageRecords};
use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use crate::lab::{actor, at, platform};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_and_storage_agree_and_a_lost_event_shows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = Arc::new(InProcessBus::new());
    let rpc = RpcClient::new(bus.clone(), Duration::from_secs(30));
    let tenant = TenantId(Uuid::new_v4());
    let bpo = BpoId(Uuid::new_v4());

    // The storage service, its records on SQLite, its outbox relayed.
    let keyring = Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
    let key = keyring
        .create_tenant_key(&tenant.to_string())
        .await
        .expect("tenant key");
    let storage_db = records::connect(&format!(
        "sqlite://{}",
        dir.path().join("storage.db").display()
    ))
    .await
    .expect("storage records");
    let store = Arc::new(RecordingStore::new(
        Arc::new(FsBlobStore::new(dir.path().join("blobs"))) as Arc<dyn BlobStore>,
        keyring.clone() as Arc<dyn KeyProvider>,
        StorageRecords::new(storage_db.clone()),
    ));
    callvault_storage::operations::router(&store)
        .serve(bus.as_ref())
        .await
        .expect("storage");

    // Billing, subscribed before storage's relay starts.
    let mut directory = callvault_bus::Router::new();
    directory.route(&Arc::new(()), move |_, _r: TenantDirectory| async move {
        Ok(vec![Tenant {
            id: tenant,
            bpo_id: bpo,
            name: "t".into(),
            time_zone: "UTC".into(),
            default_retention_days: 1,
            key_ref: "k".into(),
            created_at: at(2026, 1, 1, 0, 0, 0),
            default_region: None,
        }])
    });
    directory.serve(bus.as_ref()).await.expect("directory");
    let billing_db = callvault_billing::connect(&format!(
        "sqlite://{}",
        dir.path().join("billing.db").display()
    ))
    .await
    .expect("billing db");
    let billing = Arc::new(BillingService::new(billing_db.clone(), rpc.clone()));
    billing.router().serve(bus.as_ref()).await.expect("billing");
    bus.subscribe(
        "billing",
        &callvault_billing::intake::TOPICS,
        callvault_billing::consumer(billing.clone()),
    )
    .await
    .expect("subscribe");
    let relay = OutboxRelay::new(storage_db, bus.clone() as Arc<dyn Bus>).spawn();

    let audio = |n: usize| -> callvault_blob::ByteStream {
        Box::pin(futures_util::stream::once(async move {
            Ok(Bytes::from(vec![7u8; n]))
        }))
    };
    let (a, b) = (RecordingId(Uuid::new_v4()), RecordingId(Uuid::new_v4()));
    store
        .store(tenant, a, &key, audio(100_000))
        .await
        .expect("store a");
    store
        .store(tenant, b, &key, audio(250_000))
        .await
        .expect("store b");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    store.shred(tenant, a).await.expect("shred a");

    let today = Utc::now().date_naive();
    let reconcile = || ReconcileStorage {
        actor: platform(),
        day: today,
    };
    // The relay delivers within a poll; wait until billing has all three.
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = rpc.call(reconcile()).await.expect("reconcile");
        if rows.len() == 1 && rows[0].matches && count_usage(&billing_db).await == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        count_usage(&billing_db).await,
        3,
        "stored ×2 and shredded ×1 reached billing"
    );
    assert_eq!(rows.len(), 1);
    assert!(rows[0].matches, "{rows:?}");
    assert_ne!(rows[0].billed_byte_seconds.to_string(), "0");

    // Billing loses the shred: it now bills more than storage keeps.
    let backend = billing_db.get_database_backend();
    billing_db
        .execute_raw(Statement::from_string(
            backend,
            "DELETE FROM billing_usage WHERE dedupe_key LIKE 'shredded:%'",
        ))
        .await
        .expect("lose an event");
    let rows = rpc.call(reconcile()).await.expect("reconcile");
    assert!(!rows[0].matches, "{rows:?}");
    assert!(rows[0].billed_byte_seconds > rows[0].stored_byte_seconds);

    // Only the platform admin runs it.
    let refused = rpc
        .call(ReconcileStorage {
            actor: actor(Role::BpoAdmin, Some(bpo), None),
            day: today,
        })
        .await
        .expect_err("bpo admin");
    assert_eq!(refused.code, ErrorCode::Forbidden);
    relay.shutdown().await;
}

async fn count_usage(db: &sea_orm::DatabaseConnection) -> usize {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(
        backend,
        "SELECT dedupe_key FROM billing_usage",
    ))
    .await
    .expect("usage")
    .len()
}
