//! The outbox, its relay and the inbox, on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::outbox::{self, OutboxRelay};
use callvault_bus::{Bus, BusError, EventHandler, HandlerError, Message, RequestHandler, inbox};
use chrono::Utc;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use sea_orm_migration::prelude::*;
use uuid::Uuid;

use crate::db::ServiceMigrator;
use crate::support::{Recorder, message};

/// Generates, for each case, a test on SQLite and one on PostgreSQL.
macro_rules! on_both_databases {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::db::run(crate::db::Backend::Sqlite, super::$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::db::run(crate::db::Backend::Postgres, super::$case).await;
            }
        }
    )*};
}

on_both_databases!(
    rolled_back_messages_are_never_published,
    committed_messages_are_published_once_in_order_and_marked_sent,
    rows_left_by_a_crash_are_published_on_start,
    rows_stay_unsent_while_the_bus_fails,
    shutdown_stops_the_relay,
    inbox_records_each_message_once_per_consumer,
    duplicate_delivery_has_a_single_effect,
    migrations_are_idempotent_and_shareable,
    purge_removes_only_old_sent_rows,
);

const TOPIC: &str = "recording.ingested";

/// A relay that polls often, so tests that don't notify stay quick.
fn relay(db: &DatabaseConnection, bus: Arc<dyn Bus>) -> OutboxRelay {
    OutboxRelay::new(db.clone(), bus)
        .with_poll_interval(Duration::from_millis(20))
        .with_max_backoff(Duration::from_millis(50))
}

async fn subscribed_bus() -> (InProcessBus, Arc<Recorder>) {
    let bus = InProcessBus::new();
    let recorder = Arc::new(Recorder::default());
    bus.subscribe("recorder", &["#"], recorder.clone())
        .await
        .expect("subscribe");
    (bus, recorder)
}

async fn unsent_rows(db: &DatabaseConnection) -> u64 {
    outbox::backlog(db).await.expect("count the backlog")
}

async fn wait_until_drained(db: &DatabaseConnection) {
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    while unsent_rows(db).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn enqueue_committed(db: &DatabaseConnection, messages: &[Message]) {
    let txn = db.begin().await.expect("begin");
    for message in messages {
        outbox::enqueue(&txn, message).await.expect("enqueue");
    }
    txn.commit().await.expect("commit");
}

async fn rolled_back_messages_are_never_published(db: DatabaseConnection) {
    let (bus, recorder) = subscribed_bus().await;
    let relay = relay(&db, Arc::new(bus)).spawn();

    let txn = db.begin().await.expect("begin");
    outbox::enqueue(&txn, &message(TOPIC, 1))
        .await
        .expect("enqueue");
    txn.rollback().await.expect("roll back");
    relay.notify();

    // A committed message behind it proves the relay ran in between.
    let committed = message(TOPIC, 2);
    enqueue_committed(&db, std::slice::from_ref(&committed)).await;
    relay.notify();
    recorder.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(recorder.received(), vec![committed]);
    relay.shutdown().await;
}

async fn committed_messages_are_published_once_in_order_and_marked_sent(db: DatabaseConnection) {
    let (bus, recorder) = subscribed_bus().await;
    let relay = relay(&db, Arc::new(bus)).with_batch_size(2).spawn();

    // One transaction emitting several events: they keep their order,
    // across batches too.
    let sent: Vec<Message> = (0..5).map(|n| message(TOPIC, n)).collect();
    enqueue_committed(&db, &sent).await;
    relay.notify();

    assert_eq!(recorder.wait_for(5).await, sent);
    wait_until_drained(&db).await;
    // Several more polls: nothing goes out twice.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(recorder.received(), sent);
    assert_eq!(recorder.attempts(), 5);
    relay.shutdown().await;
}

async fn rows_left_by_a_crash_are_published_on_start(db: DatabaseConnection) {
    // Written by a process that died before its relay got to them.
    let left: Vec<Message> = (0..3).map(|n| message(TOPIC, n)).collect();
    enqueue_committed(&db, &left).await;
    assert_eq!(unsent_rows(&db).await, 3);

    // Nobody notifies the new process's relay: it looks on its own at start.
    let (bus, recorder) = subscribed_bus().await;
    let relay = OutboxRelay::new(db.clone(), Arc::new(bus))
        .with_poll_interval(Duration::from_secs(60))
        .spawn();
    assert_eq!(recorder.wait_for(3).await, left);
    wait_until_drained(&db).await;
    relay.shutdown().await;
}

/// A bus that refuses everything while `down` is set.
struct FlakyBus {
    inner: InProcessBus,
    down: AtomicBool,
}

#[async_trait]
impl Bus for FlakyBus {
    async fn publish(&self, message: &Message) -> Result<(), BusError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(BusError::Unavailable("broker down".to_owned()));
        }
        self.inner.publish(message).await
    }

    async fn subscribe(
        &self,
        consumer: &str,
        topics: &[&str],
        handler: Arc<dyn EventHandler>,
    ) -> Result<(), BusError> {
        self.inner.subscribe(consumer, topics, handler).await
    }

    async fn request(
        &self,
        queue: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, BusError> {
        self.inner.request(queue, body, timeout).await
    }

    async fn serve(&self, queue: &str, handler: Arc<dyn RequestHandler>) -> Result<(), BusError> {
        self.inner.serve(queue, handler).await
    }
}

async fn rows_stay_unsent_while_the_bus_fails(db: DatabaseConnection) {
    let (inner, recorder) = subscribed_bus().await;
    let bus = Arc::new(FlakyBus {
        inner,
        down: AtomicBool::new(true),
    });
    let relay = relay(&db, bus.clone()).spawn();

    let sent: Vec<Message> = (0..3).map(|n| message(TOPIC, n)).collect();
    enqueue_committed(&db, &sent).await;
    relay.notify();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(unsent_rows(&db).await, 3);
    assert!(recorder.received().is_empty());

    bus.down.store(false, Ordering::SeqCst);
    assert_eq!(recorder.wait_for(3).await, sent);
    wait_until_drained(&db).await;
    relay.shutdown().await;
}

async fn shutdown_stops_the_relay(db: DatabaseConnection) {
    let (bus, recorder) = subscribed_bus().await;
    relay(&db, Arc::new(bus)).spawn().shutdown().await;

    enqueue_committed(&db, &[message(TOPIC, 1)]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(recorder.received().is_empty());
    assert_eq!(unsent_rows(&db).await, 1);
}

async fn inbox_records_each_message_once_per_consumer(db: DatabaseConnection) {
    let id = Uuid::new_v4();
    assert!(
        inbox::record_once(&db, "metadata", id)
            .await
            .expect("first record")
    );
    assert!(
        !inbox::record_once(&db, "metadata", id)
            .await
            .expect("second record")
    );
    assert!(
        inbox::record_once(&db, "billing", id)
            .await
            .expect("another consumer")
    );

    // The duplicate does not poison the caller's transaction (PostgreSQL
    // aborts a transaction on a failed statement): it can still commit work.
    let txn = db.begin().await.expect("begin");
    assert!(
        !inbox::record_once(&txn, "metadata", id)
            .await
            .expect("duplicate in a transaction")
    );
    insert_state(&txn, "after-duplicate").await;
    txn.commit().await.expect("commit after a duplicate");

    // A rolled back record is no record.
    let other = Uuid::new_v4();
    let txn = db.begin().await.expect("begin");
    assert!(
        inbox::record_once(&txn, "metadata", other)
            .await
            .expect("record")
    );
    txn.rollback().await.expect("roll back");
    assert!(
        inbox::record_once(&db, "metadata", other)
            .await
            .expect("record after rollback")
    );
}

async fn insert_state<C: ConnectionTrait>(conn: &C, id: &str) {
    let insert = Query::insert()
        .into_table(Alias::new("service_state"))
        .columns([Alias::new("id"), Alias::new("value")])
        .values_panic([id.into(), "ingested".into()])
        .to_owned();
    conn.execute(&insert)
        .await
        .expect("write the service's state");
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count rows")
        .expect("one row");
    row.try_get::<i64>("", "n").expect("a count")
}

/// A consumer whose effect is a row in `consumer_effects`, made
/// exactly-once by the inbox.
struct EffectConsumer {
    db: DatabaseConnection,
}

#[async_trait]
impl EventHandler for EffectConsumer {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let failed = |err: sea_orm::DbErr| HandlerError::retryable(err.to_string());
        let txn = self.db.begin().await.map_err(failed)?;
        if inbox::record_once(&txn, "effects", message.id)
            .await
            .map_err(failed)?
        {
            let insert = Query::insert()
                .into_table(Alias::new("consumer_effects"))
                .columns([Alias::new("message_id")])
                .values_panic([message.id.to_string().into()])
                .to_owned();
            txn.execute(&insert).await.map_err(failed)?;
        }
        txn.commit().await.map_err(failed)
    }
}

async fn duplicate_delivery_has_a_single_effect(db: DatabaseConnection) {
    let bus = InProcessBus::new();
    bus.subscribe(
        "effects",
        &[TOPIC],
        Arc::new(EffectConsumer { db: db.clone() }),
    )
    .await
    .expect("subscribe");
    let relay = relay(&db, Arc::new(bus.clone())).spawn();

    // The service: its state and its event in one transaction.
    let event = message(TOPIC, 1);
    let txn = db.begin().await.expect("begin");
    insert_state(&txn, "recording-1").await;
    outbox::enqueue(&txn, &event).await.expect("enqueue");
    txn.commit().await.expect("commit");
    relay.notify();
    wait_until_drained(&db).await;
    assert_eq!(count(&db, "consumer_effects").await, 1);

    // A crash after publishing but before marking the row sent: the next
    // relay publishes it again.
    let unmark = match db.get_database_backend() {
        DbBackend::Postgres => "UPDATE outbox SET sent_at = NULL WHERE id = $1",
        _ => "UPDATE outbox SET sent_at = NULL WHERE id = ?",
    };
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        unmark,
        [event.id.into()],
    ))
    .await
    .expect("unmark the row");
    relay.notify();
    wait_until_drained(&db).await;
    // And a broker redelivering it on its own.
    bus.publish(&event).await.expect("publish a duplicate");

    assert_eq!(count(&db, "consumer_effects").await, 1);
    assert_eq!(count(&db, "inbox").await, 1);
    assert!(bus.dead_letters().is_empty());
    relay.shutdown().await;
}

/// Another service sharing the database, with its own migration history.
struct OtherServiceMigrator;

#[async_trait::async_trait]
impl MigratorTrait for OtherServiceMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            callvault_bus::outbox::migration(),
            callvault_bus::inbox::migration(),
        ]
    }

    fn migration_table_name() -> DynIden {
        "other_service_migrations".into_iden()
    }
}

async fn migrations_are_idempotent_and_shareable(db: DatabaseConnection) {
    enqueue_committed(&db, &[message(TOPIC, 1)]).await;
    ServiceMigrator::up(&db, None)
        .await
        .expect("run the migrations again");
    OtherServiceMigrator::up(&db, None)
        .await
        .expect("another service's migrator on the same database");
    assert_eq!(unsent_rows(&db).await, 1, "the shared table kept its rows");
    let names: Vec<String> = ServiceMigrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(names, ["m_bus_0001_outbox", "m_bus_0002_inbox"]);
}

async fn purge_removes_only_old_sent_rows(db: DatabaseConnection) {
    let (bus, recorder) = subscribed_bus().await;
    enqueue_committed(&db, &[message(TOPIC, 1), message(TOPIC, 2)]).await;
    let relay = relay(&db, Arc::new(bus)).spawn();
    recorder.wait_for(2).await;
    wait_until_drained(&db).await;
    relay.shutdown().await;
    enqueue_committed(&db, &[message(TOPIC, 3)]).await;

    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    assert_eq!(
        outbox::purge_sent(&db, an_hour_ago)
            .await
            .expect("purge nothing"),
        0
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(outbox::purge_sent(&db, Utc::now()).await.expect("purge"), 2);
    assert_eq!(count(&db, "outbox").await, 1);
    assert_eq!(unsent_rows(&db).await, 1);
}
