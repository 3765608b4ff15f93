//! Billing's figures (docs/billing.md, "Performance"), on SQLite and on
//! PostgreSQL (127.0.0.1:5432):
//!
//! - event intake per second: messages counted through the inbox, in
//!   batches of 500 (a replay, or a consumer that batches) and one at a
//!   time (the bus consumer today);
//! - the time to finalize a month for 1,000 tenants with 1,000 events each,
//!   and for one tenant with 1,000,000 events;
//! - intake through RabbitMQ (the broker at 127.0.0.1:5672, guest/guest, or
//!   `CALLVAULT_TEST_AMQP_URL`, under a name prefix of its own): the
//!   billing consumer subscribed, 20,000 events waiting in its queue, the
//!   time until all are counted — with the consumer as it is (batches of up
//!   to 500) and, for comparison, one at a time (2,000 events); and 20,000
//!   events published (64 in flight) while it runs, from the first publish
//!   until all are counted.
//!
//! `cargo bench -p callvault-billing --bench billing` (add `-- quick` for a
//! tenth of the sizes, `-- rabbitmq` for the RabbitMQ part only,
//! `-- postgres` for PostgreSQL only). The tenant
//! directory is a stand-in for the metadata service: the benchmark measures
//! billing, not tenant lookups.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use callvault_billing::BillingService;
use callvault_billing::intake::{CONSUMER, TOPICS};
use callvault_bus::in_process::InProcessBus;
use callvault_bus::inbox::entity as inbox;
use callvault_bus::rabbitmq::{RabbitMqBus, RabbitMqOptions};
use callvault_bus::{Bus, EventHandler, HandlerError, Router, RpcClient};
use callvault_contracts::billing_api::{
    Account, BillingProfile, Charge, ChargeModel, ChargeUnit, Currency, Dec, Meter, NewPlan, Party,
    PlanLevel, RoundingMode, Tier,
};
use callvault_contracts::call::{AudioInfo, CallMetadata, Direction};
use callvault_contracts::events::{
    Message, RecordingIngestedV1, RecordingServedV1, RecordingStoredV1, ServedAs, UserActiveV1,
};
use callvault_contracts::metadata_api::Tenant;
use callvault_contracts::ops::billing::{AssignPlan, CreatePlan, SetBillingProfile};
use callvault_contracts::ops::tenancy::TenantDirectory;
use callvault_contracts::{Actor, BpoId, RecordingId, Role, TenantId};
use callvault_testkit::PgTestDatabase;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

const BPO: BpoId = BpoId(Uuid::from_u128(0xb0));

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("time")
}

fn dec(s: &str) -> Dec {
    s.parse().expect("decimal")
}

fn admin() -> Actor {
    Actor {
        subject: "bench".into(),
        role: Role::BpoAdmin,
        bpo_id: Some(BPO),
        tenant_id: None,
        agent_id: None,
        origin: None,
    }
}

/// One of five event kinds, spread over November in Tokyo.
fn event(tenant: TenantId, i: u64) -> Message {
    let when = at(2026, 10, 31, 15) + chrono::Duration::seconds((i * 2_591) as i64 % 2_592_000);
    let recording = RecordingId(Uuid::from_u128(
        u128::from(i) << 32 | tenant.0.as_u128() & 0xffff_ffff,
    ));
    match i % 5 {
        0 | 1 => Message::new(&RecordingIngestedV1 {
            tenant_id: tenant,
            recording_id: recording,
            call: CallMetadata {
                external_call_id: format!("c{i}"),
                segment: 0,
                direction: Direction::Inbound,
                caller_number: "+81312345678".into(),
                callee_number: "+81399990000".into(),
                agent: None,
                queue: None,
                started_at: when,
                ended_at: when,
                tags: Vec::new(),
                agent_channel: None,
                customer_channel: None,
                attributes: Default::default(),
                notice_played: None,
                pauses: Vec::new(),
            },
            audio: AudioInfo {
                codec: "wav/pcm_s16le".into(),
                sample_rate: 8_000,
                channels: 1,
                duration_ms: 180_000 + i % 60_000,
            },
            size: 2_880_000,
            sha256: "00".into(),
            key_ref: "k".into(),
            ingested_at: when,
        }),
        2 => Message::new(&RecordingStoredV1 {
            tenant_id: tenant,
            recording_id: recording,
            size: 2_880_000 + i % 1_000,
            stored_at: when,
        }),
        3 => Message::new(&RecordingServedV1 {
            tenant_id: tenant,
            recording_id: recording,
            served_as: ServedAs::Playback,
            bytes: 160_000,
            byte_rate: 16_000,
            served_at: when,
        }),
        _ => Message::new(&UserActiveV1 {
            tenant_id: tenant,
            user: format!("user-{}", i % 40),
            active_at: when,
        }),
    }
    .expect("message")
}

fn plan() -> NewPlan {
    NewPlan {
        name: "Standard".into(),
        currency: Currency::Jpy,
        base_fee: 10_000,
        tax_rate: dec("10"),
        charges: vec![
            Charge {
                meter: Meter::IngestedSeconds,
                unit: ChargeUnit::Minute,
                included: dec("1000"),
                model: ChargeModel::Graduated {
                    tiers: vec![
                        Tier {
                            up_to: Some(dec("9000")),
                            unit_price: dec("2"),
                        },
                        Tier {
                            up_to: None,
                            unit_price: dec("1.5"),
                        },
                    ],
                },
                tax_rate: None,
            },
            Charge {
                meter: Meter::StorageGbMonths,
                unit: ChargeUnit::GbMonth,
                included: dec("0"),
                model: ChargeModel::PerUnit {
                    unit_price: dec("3"),
                },
                tax_rate: None,
            },
            Charge {
                meter: Meter::PlayedSeconds,
                unit: ChargeUnit::Minute,
                included: dec("0"),
                model: ChargeModel::Volume {
                    tiers: vec![
                        Tier {
                            up_to: Some(dec("1000")),
                            unit_price: dec("1"),
                        },
                        Tier {
                            up_to: None,
                            unit_price: dec("0.5"),
                        },
                    ],
                },
                tax_rate: None,
            },
            Charge {
                meter: Meter::ActiveUsers,
                unit: ChargeUnit::User,
                included: dec("0"),
                model: ChargeModel::PerUnit {
                    unit_price: dec("300"),
                },
                tax_rate: None,
            },
        ],
    }
}

struct Bench {
    billing: Arc<BillingService>,
    rpc: RpcClient,
    now: Arc<Mutex<DateTime<Utc>>>,
}

async fn setup(url: &str, tenants: &[TenantId]) -> Bench {
    let db = callvault_billing::connect(url)
        .await
        .expect("billing database");
    let bus = Arc::new(InProcessBus::new());
    let rpc = RpcClient::new(bus.clone(), Duration::from_secs(600));
    let directory: Arc<HashMap<Uuid, Tenant>> = Arc::new(
        tenants
            .iter()
            .map(|t| {
                (
                    t.0,
                    Tenant {
                        id: *t,
                        bpo_id: BPO,
                        name: "t".into(),
                        time_zone: "Asia/Tokyo".into(),
                        default_retention_days: 365,
                        key_ref: "k".into(),
                        created_at: at(2026, 1, 1, 0),
                        default_region: None,
                    },
                )
            })
            .collect(),
    );
    let mut router = Router::new();
    router.route(&directory, |d, r: TenantDirectory| async move {
        Ok(match r.tenant {
            Some(t) => d.get(&t.0).cloned().into_iter().collect(),
            None => d.values().cloned().collect(),
        })
    });
    router.serve(bus.as_ref()).await.expect("directory");
    let now = Arc::new(Mutex::new(at(2026, 11, 1, 0)));
    let clock = {
        let now = now.clone();
        Arc::new(move || *now.lock().expect("clock"))
    };
    let billing = Arc::new(BillingService::new(db, rpc.clone()).with_clock(clock));
    billing.router().serve(bus.as_ref()).await.expect("billing");
    rpc.call(SetBillingProfile {
        actor: admin(),
        party: Party::Bpo(BPO),
        profile: BillingProfile {
            legal_name: "BPO".into(),
            address: "Tokyo".into(),
            registration_number: Some("T1234567890123".into()),
            invoice_prefix: "INV".into(),
            rounding: RoundingMode::Down,
        },
    })
    .await
    .expect("profile");
    Bench { billing, rpc, now }
}

async fn assign(bench: &Bench, tenants: &[TenantId]) {
    let plan = bench
        .rpc
        .call(CreatePlan {
            actor: admin(),
            level: PlanLevel::Retail,
            bpo: Some(BPO),
            plan: plan(),
        })
        .await
        .expect("plan");
    for tenant in tenants {
        bench
            .rpc
            .call(AssignPlan {
                actor: admin(),
                account: Account::Tenant(*tenant),
                plan_id: plan.id,
                time_zone: None,
            })
            .await
            .expect("assign");
    }
}

async fn feed(bench: &Bench, messages: Vec<Message>, batch: usize) -> f64 {
    let started = Instant::now();
    let total = messages.len();
    for chunk in messages.chunks(batch) {
        bench.billing.record(chunk).await.expect("intake");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

async fn run(backend: &str, url_for: &mut dyn FnMut() -> String, scale: u64) {
    // Intake.
    let tenants: Vec<TenantId> = (0..10)
        .map(|i| TenantId(Uuid::from_u128(0x1000 + i)))
        .collect();
    let bench = setup(&url_for(), &tenants).await;
    let n = 50_000 * scale / 10;
    let messages: Vec<Message> = (0..n)
        .map(|i| event(tenants[(i % 10) as usize], i))
        .collect();
    let batched = feed(&bench, messages, 500).await;
    let singles: Vec<Message> = (n..n + n / 10)
        .map(|i| event(tenants[(i % 10) as usize], i))
        .collect();
    let single = feed(&bench, singles, 1).await;
    println!(
        "{backend}: intake {batched:.0} events/s in batches of 500 ({n} events), {single:.0} events/s one at a time ({} events)",
        n / 10
    );

    // 1,000 tenants × 1,000 events.
    let count = 1_000 * scale / 10;
    let tenants: Vec<TenantId> = (0..count)
        .map(|i| TenantId(Uuid::from_u128(0x10_0000 + u128::from(i))))
        .collect();
    let bench = setup(&url_for(), &tenants).await;
    assign(&bench, &tenants).await;
    for (t, tenant) in tenants.iter().enumerate() {
        let messages: Vec<Message> = (0..1_000)
            .map(|i| event(*tenant, t as u64 * 1_000 + i))
            .collect();
        bench.billing.record(&messages).await.expect("intake");
    }
    *bench.now.lock().expect("clock") = at(2026, 12, 5, 0);
    let started = Instant::now();
    let report = bench.billing.run_timer().await;
    assert_eq!(u64::from(report.finalized), count, "{report:?}");
    println!(
        "{backend}: finalized a month for {count} tenants × 1,000 events in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // One tenant, 1,000,000 events.
    let events = 1_000_000 * scale / 10;
    let one = [TenantId(Uuid::from_u128(0x20_0000))];
    let bench = setup(&url_for(), &one).await;
    assign(&bench, &one).await;
    let mut i = 0;
    while i < events {
        let messages: Vec<Message> = (i..(i + 1_000).min(events))
            .map(|k| event(one[0], k))
            .collect();
        bench.billing.record(&messages).await.expect("intake");
        i += 1_000;
    }
    *bench.now.lock().expect("clock") = at(2026, 12, 5, 0);
    let started = Instant::now();
    let report = bench.billing.run_timer().await;
    assert_eq!(report.finalized, 1, "{report:?}");
    println!(
        "{backend}: finalized a month for one tenant with {events} events in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}

/// The billing consumer without its batches: `handle` only, so the bus
/// hands it one message at a time (the consumer before batching).
struct OneAtATime(Arc<dyn EventHandler>);

#[async_trait]
impl EventHandler for OneAtATime {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        self.0.handle(message).await
    }
}

fn amqp_url() -> String {
    std::env::var("CALLVAULT_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A bus on the local broker under a prefix of its own.
async fn rabbitmq() -> RabbitMqBus {
    let prefix = format!("bench.billing.{}.", Uuid::new_v4().simple());
    let options = RabbitMqOptions {
        exchange: format!("{prefix}events"),
        dead_letter_exchange: format!("{prefix}dlx"),
        name_prefix: prefix.clone(),
        connection_name: prefix,
        ..RabbitMqOptions::default()
    };
    let url = amqp_url();
    RabbitMqBus::connect(&url, options)
        .await
        .unwrap_or_else(|err| panic!("the benchmark needs RabbitMQ at {url}: {err}"))
}

/// Message ids billing's consumer has in its inbox: the events counted.
async fn counted(db: &DatabaseConnection) -> u64 {
    inbox::Entity::find()
        .filter(inbox::Column::Consumer.eq(CONSUMER))
        .count(db)
        .await
        .expect("count the inbox")
}

/// Waits until `target` events are counted.
async fn until_counted(db: &DatabaseConnection, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(1_800);
    while counted(db).await < target {
        assert!(Instant::now() < deadline, "events not counted in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn publish_all(bus: &RabbitMqBus, messages: &[Message], in_flight: usize) {
    futures_util::stream::iter(messages)
        .map(|message| bus.publish(message))
        .buffer_unordered(in_flight)
        .for_each(|published| async move { published.expect("publish") })
        .await;
}

/// Events published with nobody consuming, then the consumer started: the
/// events per second it counts them at.
async fn backlog(
    bus: &RabbitMqBus,
    db: &DatabaseConnection,
    handler: Arc<dyn EventHandler>,
    messages: &[Message],
) -> f64 {
    let before = counted(db).await;
    publish_all(bus, messages, 64).await;
    let started = Instant::now();
    bus.subscribe(CONSUMER, &TOPICS, handler)
        .await
        .expect("subscribe");
    until_counted(db, before + messages.len() as u64).await;
    let rate = messages.len() as f64 / started.elapsed().as_secs_f64();
    bus.drain(Duration::from_secs(30)).await;
    rate
}

async fn intake_through_rabbitmq(backend: &str, url: &str, scale: u64) {
    let tenants: Vec<TenantId> = (0..10)
        .map(|i| TenantId(Uuid::from_u128(0x3000 + i)))
        .collect();
    let bench = setup(url, &tenants).await;
    let db = callvault_billing::connect(url)
        .await
        .expect("billing database");
    let bus = rabbitmq().await;
    let consumer = callvault_billing::consumer(bench.billing.clone());
    let events = |from: u64, n: u64| -> Vec<Message> {
        (from..from + n)
            .map(|i| event(tenants[(i % 10) as usize], i))
            .collect()
    };

    // The queue and its bindings, then nobody consuming.
    bus.subscribe(CONSUMER, &TOPICS, consumer.clone())
        .await
        .expect("subscribe");
    bus.drain(Duration::from_secs(30)).await;

    let n = 20_000 * scale / 10;
    let batched = backlog(&bus, &db, consumer.clone(), &events(0, n)).await;
    let singles = n / 10;
    let single = backlog(
        &bus,
        &db,
        Arc::new(OneAtATime(consumer.clone())),
        &events(n, singles),
    )
    .await;

    bus.subscribe(CONSUMER, &TOPICS, consumer.clone())
        .await
        .expect("subscribe");
    let before = counted(&db).await;
    let live = events(n + singles, n);
    let started = Instant::now();
    publish_all(&bus, &live, 64).await;
    let published = live.len() as f64 / started.elapsed().as_secs_f64();
    until_counted(&db, before + n).await;
    let end_to_end = n as f64 / started.elapsed().as_secs_f64();
    bus.drain(Duration::from_secs(30)).await;

    // A delivery the broker still held for a closed channel comes back to
    // the queue shortly after the close.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut backlog = bus.consumer_backlog().await.expect("backlog");
    backlog.sort();
    backlog.dedup();
    // Removed before the verdict, so a failed run leaves no queues behind.
    bus.delete_declared_topology()
        .await
        .expect("delete the benchmark's queues");
    let _ = bus.close().await;
    assert!(
        backlog.iter().all(|(_, depth)| *depth == 0),
        "nothing left over or dead-lettered: {backlog:?}"
    );
    println!(
        "{backend}: intake through RabbitMQ {batched:.0} events/s with batches ({n} events waiting), \
         {single:.0} events/s one at a time ({singles} events waiting); \
         {end_to_end:.0} events/s published and counted together ({n} events, published at {published:.0}/s)"
    );
}

fn main() {
    let scale = if std::env::args().any(|a| a == "quick") {
        1
    } else {
        10
    };
    let only_rabbitmq = std::env::args().any(|a| a == "rabbitmq");
    let only_postgres = std::env::args().any(|a| a == "postgres");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut n = 0;
        let mut sqlite = || {
            n += 1;
            format!(
                "sqlite://{}",
                dir.path().join(format!("billing-{n}.db")).display()
            )
        };
        if !only_postgres {
            if !only_rabbitmq {
                run("SQLite", &mut sqlite, scale).await;
            }
            intake_through_rabbitmq("SQLite", &sqlite(), scale).await;
        }
        let mut keep = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..4 {
            let db = PgTestDatabase::create().await;
            urls.push(db.url.clone());
            keep.push(db);
        }
        let mut postgres = || urls.remove(0);
        if !only_rabbitmq {
            run("PostgreSQL", &mut postgres, scale).await;
        }
        intake_through_rabbitmq("PostgreSQL", &postgres(), scale).await;
        for db in keep {
            db.drop_database().await;
        }
    });
}
