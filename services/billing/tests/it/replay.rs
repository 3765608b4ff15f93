//! Determinism: the same events, replayed in any order and with
//! duplicates, give byte-identical invoices (draft and finalized, JSON and
//! CSV).
//!
//! The tenant directory here is a stand-in for the metadata service: the
//! real one gives every onboarded tenant a fresh id, and comparing invoices
//! byte for byte across databases needs the same tenant each time.

use std::sync::Arc;
use std::time::Duration;

use callvault_billing::BillingService;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{Router, RpcClient};
use callvault_contracts::billing_api::{Account, InvoiceFilter, RoundingMode};
use callvault_contracts::billing_api::{BillingProfile, Party, PlanLevel};
use callvault_contracts::events::Message;
use callvault_contracts::metadata_api::Tenant;
use callvault_contracts::ops::billing::{
    AssignPlan, CreatePlan, FinalizeInvoice, InvoiceFormat, ListInvoices, RenderInvoice,
    SetBillingProfile,
};
use callvault_contracts::ops::tenancy::TenantDirectory;
use callvault_contracts::{BpoId, Role, TenantId};
use proptest::prelude::*;
use uuid::Uuid;

use crate::lab::{actor, at, delivered, ingested, jpy_retail, shredded, stored};

const TENANT: TenantId = TenantId(Uuid::from_u128(0x1111));
const BPO: BpoId = BpoId(Uuid::from_u128(0x2222));

fn events() -> Vec<Message> {
    let start = at(2026, 10, 31, 15, 0, 0);
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let mut out = vec![
        stored(TENANT, a, 1 << 30, start),
        stored(TENANT, b, 5 << 29, at(2026, 11, 3, 7, 13, 0)),
        shredded(TENANT, a, 1 << 30, start, at(2026, 11, 15, 15, 0, 0)),
        delivered(TENANT, Uuid::from_u128(3), at(2026, 11, 10, 0, 0, 0)),
    ];
    for i in 0..20u64 {
        out.push(ingested(
            TENANT,
            Uuid::from_u128(100 + u128::from(i)),
            30_000_000 + i * 7_777,
            at(2026, 11, 1 + (i as u32 % 28), 1, 0, 0),
        ));
    }
    out
}

/// Replays `order` (indices into `events`) into a fresh database and
/// answers November's draft and then finalized invoice as JSON and CSV.
async fn replay(order: &[usize]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("billing.db").display());
    replay_into(&url, order).await
}

async fn replay_into(url: &str, order: &[usize]) -> Vec<String> {
    let db = callvault_billing::connect(url).await.expect("db");
    let bus = Arc::new(InProcessBus::new());
    let rpc = RpcClient::new(bus.clone(), Duration::from_secs(30));
    let mut directory = Router::new();
    directory.route(&Arc::new(()), |_, _r: TenantDirectory| async move {
        Ok(vec![Tenant {
            id: TENANT,
            bpo_id: BPO,
            name: "Tokyo Insurance".into(),
            time_zone: "Asia/Tokyo".into(),
            default_retention_days: 365,
            key_ref: "key".into(),
            created_at: at(2026, 1, 1, 0, 0, 0),
            default_region: None,
        }])
    });
    directory.serve(bus.as_ref()).await.expect("directory");
    let now = Arc::new(std::sync::Mutex::new(at(2026, 11, 1, 0, 0, 0)));
    let clock = {
        let now = now.clone();
        Arc::new(move || *now.lock().expect("clock"))
    };
    let billing = Arc::new(BillingService::new(db, rpc.clone()).with_clock(clock));
    billing.router().serve(bus.as_ref()).await.expect("billing");
    let admin = actor(Role::BpoAdmin, Some(BPO), None);
    rpc.call(SetBillingProfile {
        actor: admin.clone(),
        party: Party::Bpo(BPO),
        profile: BillingProfile {
            legal_name: "Tokyo BPO K.K.".into(),
            address: "Tokyo".into(),
            registration_number: Some("T1234567890123".into()),
            invoice_prefix: "INV".into(),
            rounding: RoundingMode::HalfUp,
        },
    })
    .await
    .expect("profile");
    let plan = rpc
        .call(CreatePlan {
            actor: admin.clone(),
            level: PlanLevel::Retail,
            bpo: Some(BPO),
            plan: jpy_retail(),
        })
        .await
        .expect("plan");
    rpc.call(AssignPlan {
        actor: admin.clone(),
        account: Account::Tenant(TENANT),
        plan_id: plan.id,
        time_zone: None,
    })
    .await
    .expect("assign");
    let all = events();
    for i in order {
        billing
            .record(std::slice::from_ref(&all[*i]))
            .await
            .expect("intake");
    }
    *now.lock().expect("clock") = at(2026, 12, 1, 0, 0, 0);
    let list = || ListInvoices {
        actor: admin.clone(),
        filter: InvoiceFilter {
            account: Some(Account::Tenant(TENANT)),
            ..Default::default()
        },
    };
    let mut out = Vec::new();
    let november = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("day");
    let draft = rpc
        .call(list())
        .await
        .expect("drafts")
        .into_iter()
        .find(|i| i.period_first_day == november)
        .expect("november's draft");
    // Plan ids are random; the rest must match byte for byte.
    let strip = |json: String| json.replace(&plan.id.to_string(), "PLAN");
    out.push(strip(serde_json::to_string(&draft).expect("json")));
    let csv = rpc
        .call(RenderInvoice {
            actor: admin.clone(),
            id: draft.id,
            format: InvoiceFormat::Csv,
        })
        .await
        .expect("csv");
    out.push(csv.content);
    let finalized = rpc
        .call(FinalizeInvoice {
            actor: admin.clone(),
            id: draft.id,
        })
        .await
        .expect("finalize");
    out.push(strip(serde_json::to_string(&finalized).expect("json")));
    let pdf = rpc
        .call(RenderInvoice {
            actor: admin,
            id: draft.id,
            format: InvoiceFormat::Pdf,
        })
        .await
        .expect("pdf");
    out.push(pdf.content);
    out
}

fn run(order: &[usize]) -> Vec<String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(replay(order))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn any_order_with_duplicates_gives_byte_identical_invoices(
        order in Just((0..events().len()).collect::<Vec<_>>()).prop_shuffle(),
        repeats in proptest::collection::vec(0..24usize, 0..10),
    ) {
        let baseline = run(&(0..events().len()).collect::<Vec<_>>());
        let mut shuffled = order;
        shuffled.extend(repeats);
        prop_assert_eq!(run(&shuffled), baseline);
    }
}

/// The same bytes on PostgreSQL as on SQLite, replayed backwards with
/// every event twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_gives_the_same_invoices_as_sqlite() {
    let n = events().len();
    let baseline = replay(&(0..n).collect::<Vec<_>>()).await;
    let pg = callvault_testkit::PgTestDatabase::create().await;
    let mut order: Vec<usize> = (0..n).rev().collect();
    order.extend(0..n);
    let replayed = replay_into(&pg.url, &order).await;
    pg.drop_database().await;
    assert_eq!(replayed, baseline);
}
