//! The billing issue's JPY scenario, end to end through the real binary's
//! GraphQL and HTTP and its RabbitMQ: a BPO in Tokyo and its client, a
//! Tokyo tenant on the retail plan of docs/billing.md §6 (¥10,000 a month;
//! minutes graduated: the first 1,000 at ¥0, ¥2 a minute up to 10,000,
//! ¥1.5 above; ¥3 per GB-month; ¥500 per delivered disclosure; 10 %;
//! rounded down by the BPO), the BPO on a wholesale plan (¥5,000 a month,
//! ¥0.8 a minute, ¥1.2 per GB-month, ¥100 per delivery, ¥50 per started
//! package of 10 recordings at 8 %; rounded half up by the platform).
//! Every expected amount is computed here from what the test sent, with
//! its own arithmetic (`billing/ledger.rs`), never billing's.
//!
//! Time. Billing bills periods of the account's time zone and meters
//! events at the instants they carry, and those instants are the wall
//! clock's: ingestion's `ingested_at`, storage's `stored_at` and
//! `shredded_at`, disclosure's delivery `at`. So the billed month, B, is
//! the running Tokyo month, and the processes start with billing's clock
//! (`lifecycle.clock_offset_secs`, which moves metadata's, disclosure's
//! and billing's clocks, never ingestion's or storage's timestamps) on the
//! wall clock: the plans are assigned in B, so B is the first month billed.
//! Then billing's process is restarted twice with its clock moved ahead
//! (in the embedded mode that is the one process, whose metadata and
//! disclosure clocks move too; nothing here depends on them after the
//! delivery): to 1 hour after B ends
//! (B's grace period, 72 hours, runs: drafts, the late event on the draft,
//! finalization by the BPO's admin), then to 73 hours after (the grace is
//! over: billing's timer finalizes the wholesale invoice; a later event for
//! B becomes an adjustment on the next month's draft).
//!
//! Real (through the API, metered from the services' own events):
//! - four uploads to the ingestion endpoint, 8 kHz µ-law WAVs of 181.5 s,
//!   120.001 s and 30 s for the tenant and 45.25 s for the BPO's other
//!   client (durations rounded up to the second: 182, 121, 30, 46 s);
//!   their `recording.ingested` and storage's `recording.stored`;
//! - the 30 s recording deleted by the tenant's officer (`deleteRecording`):
//!   storage's `recording.shredded` stops its storage at that second, in B
//!   but on whatever day the test runs (hence the published shred below);
//! - one APPI access request taken through identity, four-eyes approval
//!   and its bundle to `deliverDisclosureRequest`: disclosure's
//!   `disclosure.delivered`.
//!
//! Their instants are read off the bus (a queue of the test's own bound to
//! the same topics) to compute their storage to the second.
//!
//! Published by the test on the deployment's exchange (`Message::new` of
//! the contracts' events, the instants the test chooses), because real
//! events can only happen now, and big uploads would be gigabytes (the
//! published `recording.ingested` reach the metadata catalogue too, as
//! calls from a number no request asks about):
//! - the bulk of the minutes: 9,000 min and 2,000 min 29.5 s ingested and
//!   stored in B (their µ-law sizes, 4.3 GB and 0.96 GB), the second
//!   shredded on B's 15th at 07:20:30 (mid-month: its storage stops
//!   accruing that hour);
//! - both sides of both of B's edges: a 30 min recording at the last
//!   second of the month before (billed to no one: no plan then; its
//!   storage counts in B from B's first second), 90.5 s at B's first
//!   second, 601 s at B's last second, 100 min at the next month's first;
//! - the BPO's other client: 1,234 min 56.7 s and 5 min ingested in B;
//! - the late events: a delivery at 21:00 on B's last day, published in
//!   the grace period (on B's draft), and 301 s ingested at 19:00 on B's
//!   last day, published after both of B's invoices were finalized (an
//!   adjustment on the next month's drafts, dated that day).
//!
//! Checked: every draft and invoice, line by line (quantities, tiers,
//! amounts, tax per rate, totals); finalization by the BPO's admin numbers
//! the tenant's invoice and it never changes again; the wholesale invoice
//! and the BPO's statement (its margin); the CSV and the PDF (through
//! `pdftotext`) show the number, the line amounts, each rate's subtotal and
//! tax and the total; usage per month and per day (the shredded
//! recording's storage stops at its second); the storage reconciliation
//! (the BPO's other client's real storage matches storage's records; the
//! tenant's differs by exactly what the test published); active users;
//! another tenant's admin can't read the tenant's invoice; bad inputs
//! (an unknown currency, finalizing a running month) change nothing.
//!
//! The same scenario runs on `callvault serve` (one process, SQLite,
//! filesystem blobs, RabbitMQ so the test can reach its bus) and on every
//! service in its own process (PostgreSQL, RabbitMQ, S3 + KMS on moto).

mod bus;
mod files;
mod ledger;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_contracts::events::{
    DisclosureDeliveredV1, InvoiceFinalizedV1, RecordingIngestedV1, RecordingShreddedV1,
    RecordingStoredV1,
};
use callvault_e2e::{Callvault, graphql, mulaw_wav_frames};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use self::bus::TestBus;
use self::files::{assert_row, csv_records, pdftotext};
use self::ledger::{
    Delivered, Expected, Ingested, Late, Ledger, Meter, Month, Q, Stored, retail_plan, tokyo_day,
    wholesale_plan, yen,
};
use crate::cluster::{AMQP_URL, Deployment, Layout, delete_broker_topology, with_deployment};
use crate::support::{create_bpo, onboard};

/// Billing's grace period (the default, set all the same).
const GRACE_HOURS: i64 = 72;
/// The data subject: the caller of the tenant's first two real calls.
const SUBJECT: &str = "+819011112222";
/// The caller of every published call: never the subject, so the access
/// request matches only real recordings.
const BULK_CALLER: &str = "+81120000001";
const OTHER_CALLER: &str = "+81345678901";
const DEFAULT_FONT: &str = "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf";

const BPO_NAME: &str = "株式会社東京コンタクトセンター";
const BPO_ADDRESS: &str = "東京都千代田区丸の内1-1-1";
const BPO_REGISTRATION: &str = "T1234567890123";
const TENANT_NAME: &str = "Tokyo Insurance K.K.";
const PLATFORM_NAME: &str = "callvault K.K.";
const PLATFORM_REGISTRATION: &str = "T9876543210987";

/// The services' timers: disclosure's bundles and billing's finalization
/// every second, the deletion worker only on request.
fn environment() -> Vec<(String, String)> {
    let font = std::env::var("CALLVAULT_CJK_FONT").unwrap_or_else(|_| DEFAULT_FONT.to_owned());
    assert!(
        std::path::Path::new(&font).exists(),
        "{font} is missing: the invoice PDF is printed with a Japanese font. Install it \
         (apt-get install -y fonts-ipafont-gothic) or point CALLVAULT_CJK_FONT at one."
    );
    let grace = GRACE_HOURS.to_string();
    [
        ("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "0"),
        ("CALLVAULT_DISCLOSURE__TIMER_INTERVAL_SECS", "1"),
        ("CALLVAULT_BILLING__TIMER_INTERVAL_SECS", "1"),
        ("CALLVAULT_BILLING__GRACE_HOURS", &grace),
        ("CALLVAULT_BILLING__INVOICE_FONT_PATH", font.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn jpy_billing_end_to_end_embedded() {
    let started = Instant::now();
    let prefix = format!("e2e-{}.", Uuid::new_v4().simple());
    let mut env = environment();
    env.extend(
        [
            ("CALLVAULT_BUS__KIND", "rabbitmq"),
            ("CALLVAULT_BUS__URL", AMQP_URL),
            ("CALLVAULT_BUS__NAME_PREFIX", prefix.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let run_prefix = prefix.clone();
    // Its own task, so that a failed check unwinds there and the broker is
    // cleaned up below all the same.
    let outcome = tokio::spawn(async move {
        let cv = Callvault::start_with(&borrowed(&env)).await;
        scenario(System::Embedded(cv), &run_prefix).await;
    })
    .await;
    delete_broker_topology(&prefix).await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
    eprintln!("embedded billing scenario: {:?}", started.elapsed());
}

#[tokio::test]
async fn jpy_billing_end_to_end_distributed() {
    let started = Instant::now();
    let env = environment();
    with_deployment(
        Layout::EveryService,
        &borrowed(&env),
        |deployment| async move {
            let prefix = deployment.prefix.clone();
            scenario(System::Distributed(deployment), &prefix).await;
        },
    )
    .await;
    eprintln!("distributed billing scenario: {:?}", started.elapsed());
}

/// The running system, however its services are spread over processes.
enum System {
    Embedded(Callvault),
    Distributed(Deployment),
}

impl System {
    fn running(&self, service: &str) -> &Callvault {
        match self {
            System::Embedded(cv) => cv,
            System::Distributed(deployment) => deployment.running(service),
        }
    }

    /// Restarts the process(es) running billing with its clock
    /// `offset_secs` ahead of the wall clock.
    async fn move_billing_clock(&mut self, offset_secs: i64) {
        let offset = offset_secs.to_string();
        let env = [("CALLVAULT_LIFECYCLE__CLOCK_OFFSET_SECS", offset.as_str())];
        match self {
            System::Embedded(cv) => cv.restart_with(&env).await,
            System::Distributed(deployment) => {
                for process in deployment.processes.iter_mut() {
                    if process.target().split(',').any(|t| t == "billing") {
                        process.restart_with(&env).await;
                    }
                }
            }
        }
    }
}

/// GraphQL at the gateway.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, token: &str, query: &str, variables: Value) -> Result<Value, String> {
        graphql(&self.client, &self.base, token, query, variables).await
    }

    async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        self.call(token, query, variables)
            .await
            .unwrap_or_else(|code| panic!("{code} from {query}"))
    }

    /// Asks until `done` holds of the answer (up to 60 s: events take a
    /// moment to be counted, a restarted process to answer).
    async fn until(
        &self,
        token: &str,
        query: &str,
        variables: Value,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = self.call(token, query, variables.clone()).await;
            match &answer {
                Ok(data) if done(data) => return data.clone(),
                // Waiting mends nothing of these.
                Err(code)
                    if [
                        "BAD_USER_INPUT",
                        "FORBIDDEN",
                        "NOT_FOUND",
                        "UNAUTHENTICATED",
                    ]
                    .contains(&code.as_str()) =>
                {
                    panic!("{what}: {code} from {query}")
                }
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "{what}: still {answer:?} after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

const PLAN_FIELDS: &str = "id version level bpoId name currency baseFee taxRate \
    charges { meter unit included taxRate model { model unitPrice tiers { upTo unitPrice } packageSize packagePrice } }";

const INVOICE_FIELDS: &str = "id status number level account { kind id } issuer { kind id } \
    issuerProfile { legalName address registrationNumber invoicePrefix rounding } recipientProfile { legalName } \
    planId planVersion currency timeZone periodFirstDay periodLastDay periodStart periodEnd finalizeAfter finalizedAt \
    lines { kind meter description quantity unit tiers { from upTo quantity unitPrice amount } amount taxRate originalDate } \
    taxes { rate subtotal tax } subtotal tax total";

const PROFILE: &str = "mutation($p: PartyInput!, $i: BillingProfileInput!) { setBillingProfile(party: $p, profile: $i) { legalName invoicePrefix rounding } }";
const CREATE_PLAN: &str =
    "mutation($i: CreatePlanInput!) { createPlan(input: $i) { id version name } }";
const UPDATE_PLAN: &str =
    "mutation($id: UUID!, $i: PlanInput!) { updatePlan(id: $id, input: $i) { id version } }";
const PLANS: &str = "query($b: UUID) { plans(bpoId: $b) { PLAN } }";
const ASSIGN: &str = "mutation($a: AccountInput!, $p: UUID!, $z: String) { assignPlan(account: $a, planId: $p, timeZone: $z) { account { kind id } planId effectiveFrom timeZone } }";
const FINALIZE: &str = "mutation($id: UUID!) { finalizeInvoice(id: $id) { INVOICE } }";
const INVOICE: &str = "query($id: UUID!) { invoice(id: $id) { INVOICE } }";
const INVOICES: &str = "query($a: AccountInput!) { invoices(filter: { account: $a }) { INVOICE } }";
const CSV: &str = "query($id: UUID!) { invoiceCsv(id: $id) }";
const PDF: &str = "query($id: UUID!) { invoicePdf(id: $id) }";
const USAGE_TENANT: &str = "query($t: UUID!, $f: NaiveDate!, $to: NaiveDate!, $g: Granularity!) { usage(tenantId: $t, from: $f, to: $to, granularity: $g) { date start end meters { meter quantity unit } } }";
const USAGE_BPO: &str = "query($b: UUID!, $f: NaiveDate!, $to: NaiveDate!, $g: Granularity!) { usage(bpoId: $b, from: $f, to: $to, granularity: $g) { date start end meters { meter quantity unit } } }";
const STATEMENT: &str = "query($b: UUID!, $m: NaiveDate!) { bpoStatement(bpoId: $b, month: $m) { bpoId month clients { tenantId invoice { id status number subtotal } } wholesale { id status number subtotal } margins { currency retailSubtotal wholesaleSubtotal margin } } }";
const RECONCILE: &str = "mutation($d: NaiveDate!) { reconcileStorage(day: $d) { tenantId from to billedByteSeconds storedByteSeconds matches } }";

fn with_fields(query: &str) -> String {
    query
        .replace("INVOICE }", &format!("{INVOICE_FIELDS} }}"))
        .replace("PLAN }", &format!("{PLAN_FIELDS} }}"))
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .unwrap_or_else(|| panic!("not an instant: {value}"))
        .with_timezone(&Utc)
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
}

/// The retail plan as the BPO's admin types it (`ledger::retail_plan` is
/// the same plan as the test prices it).
fn retail_terms(storage_price: &str) -> Value {
    json!({
        "name": "Standard",
        "currency": "JPY",
        "baseFee": 10000,
        "taxRate": "10",
        "charges": [
            { "meter": "INGESTED_SECONDS", "unit": "MINUTE",
              "model": { "model": "GRADUATED", "tiers": [
                  { "upTo": "1000", "unitPrice": "0" },
                  { "upTo": "10000", "unitPrice": "2" },
                  { "unitPrice": "1.5" } ] } },
            { "meter": "STORAGE_GB_MONTHS", "unit": "GB_MONTH",
              "model": { "model": "PER_UNIT", "unitPrice": storage_price } },
            { "meter": "DISCLOSURES_DELIVERED", "unit": "REQUEST",
              "model": { "model": "PER_UNIT", "unitPrice": "500" } },
        ],
    })
}

/// The wholesale plan as the platform's admin types it
/// (`ledger::wholesale_plan`).
fn wholesale_terms() -> Value {
    json!({
        "level": "WHOLESALE",
        "name": "Wholesale JP",
        "currency": "JPY",
        "baseFee": 5000,
        "taxRate": "10",
        "charges": [
            { "meter": "INGESTED_SECONDS", "unit": "MINUTE",
              "model": { "model": "PER_UNIT", "unitPrice": "0.8" } },
            { "meter": "STORAGE_GB_MONTHS", "unit": "GB_MONTH",
              "model": { "model": "PER_UNIT", "unitPrice": "1.2" } },
            { "meter": "DISCLOSURES_DELIVERED", "unit": "REQUEST",
              "model": { "model": "PER_UNIT", "unitPrice": "100" } },
            { "meter": "RECORDINGS", "unit": "RECORDING", "taxRate": "8",
              "model": { "model": "PACKAGE", "packageSize": "10", "packagePrice": "50" } },
        ],
    })
}

fn account(kind: &str, id: &str) -> Value {
    json!({ "kind": kind, "id": id })
}

/// Everything the scenario holds between its phases.
struct Scene {
    system: System,
    api: Api,
    bus: TestBus,
    ledger: Ledger,
    /// Billing's clock minus the wall clock.
    offset: chrono::Duration,
    /// The billed month (Tokyo).
    b: Month,
    platform: String,
    bpo_admin: String,
    tenant_admin: String,
    other_admin: String,
    officer_a: String,
    officer_b: String,
    bpo: String,
    tenant: String,
    other: String,
}

impl Scene {
    /// What billing's clock reads now.
    fn billing_now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    /// Restarts billing with its clock at `at` (from now on).
    async fn set_billing_clock(&mut self, at: DateTime<Utc>) {
        let offset = (at - Utc::now()).num_seconds();
        self.system.move_billing_clock(offset).await;
        self.offset = chrono::Duration::seconds(offset);
    }

    async fn invoices(&self, token: &str, kind: &str, id: &str) -> Vec<Value> {
        let data = self
            .api
            .ok(
                token,
                &with_fields(INVOICES),
                json!({ "a": account(kind, id) }),
            )
            .await;
        data["invoices"].as_array().expect("invoices").clone()
    }

    /// An account's invoice of the month starting on `first_day`.
    async fn invoice_of(&self, token: &str, kind: &str, id: &str, first_day: NaiveDate) -> Value {
        self.invoices(token, kind, id)
            .await
            .into_iter()
            .find(|i| i["periodFirstDay"] == first_day.to_string())
            .unwrap_or_else(|| panic!("no invoice of {first_day} for {kind} {id}"))
    }

    /// [`Self::invoice_of`], once its total is `total`: the events it
    /// counts are in (a consumer may count them in another order than they
    /// were published).
    async fn invoice_totalling(
        &self,
        token: &str,
        kind: &str,
        id: &str,
        first_day: NaiveDate,
        total: i64,
    ) -> Value {
        let data = self
            .api
            .until(
                token,
                &with_fields(INVOICES),
                json!({ "a": account(kind, id) }),
                &format!("{kind} {id}'s invoice of {first_day} totalling {total}"),
                |data| {
                    data["invoices"].as_array().is_some_and(|all| {
                        all.iter().any(|i| {
                            i["periodFirstDay"] == first_day.to_string() && i["total"] == total
                        })
                    })
                },
            )
            .await;
        data["invoices"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["periodFirstDay"] == first_day.to_string())
            .cloned()
            .unwrap_or_default()
    }

    async fn invoice(&self, token: &str, id: &str) -> Value {
        self.api
            .ok(token, &with_fields(INVOICE), json!({ "id": id }))
            .await["invoice"]
            .clone()
    }

    /// A real upload of a WAV of `frames` 1/8 ms samples: its id and its
    /// storage's place in the ledger.
    async fn upload(
        &mut self,
        key: &str,
        tenant: &str,
        caller: &str,
        frames: u32,
    ) -> (Uuid, usize) {
        let wav = mulaw_wav_frames(frames, frames % 500);
        let seconds = i64::from(frames.div_ceil(8_000));
        let started = Utc::now() - chrono::Duration::hours(1);
        let call = json!({
            "external_call_id": format!("call-{}", Uuid::new_v4().simple()),
            "segment": 0,
            "direction": "inbound",
            "caller_number": caller,
            "callee_number": "+81355550100",
            "agent": "agent-7",
            "queue": "claims",
            "started_at": rfc3339(started),
            "ended_at": rfc3339(started + chrono::Duration::seconds(seconds)),
        });
        let ingestion = self.system.running("ingestion").base_url.clone();
        let response = self
            .api
            .client
            .post(format!("{ingestion}/v1/recordings"))
            .bearer_auth(key)
            .header("content-type", "audio/wav")
            .header("callvault-call", call.to_string())
            .body(wav.clone())
            .send()
            .await
            .expect("upload");
        let status = response.status();
        let receipt: Value = response.json().await.expect("receipt");
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        let duration_ms = u64::from(frames) * 1000 / 8000;
        assert_eq!(receipt["duration_ms"], duration_ms);
        let id: Uuid = text(&receipt["recording_id"]).parse().expect("uuid");

        // The instants it happened at, as the services published them.
        let ingested = self
            .bus
            .wait_for::<RecordingIngestedV1>("an upload", |e| e.recording_id.0 == id)
            .await;
        assert_eq!(ingested.audio.duration_ms, duration_ms);
        let stored = self
            .bus
            .wait_for::<RecordingStoredV1>("an upload", |e| e.recording_id.0 == id)
            .await;
        assert_eq!(
            stored.size,
            wav.len() as u64,
            "storage meters the audio's bytes"
        );
        self.ledger.ingested.push(Ingested {
            tenant: tenant.to_owned(),
            at: ingested.ingested_at,
            duration_ms,
        });
        self.ledger.stored.push(Stored {
            tenant: tenant.to_owned(),
            size: stored.size,
            from: stored.stored_at,
            until: None,
            real: true,
        });
        (id, self.ledger.stored.len() - 1)
    }
}

async fn scenario(system: System, prefix: &str) {
    let started = Instant::now();
    // A month that ends in the next minutes would end mid-scenario: wait
    // for the next one.
    let now = Utc::now();
    let running = Month::of(now);
    if running.end - now < chrono::Duration::minutes(15) {
        let wait = (running.end - now).to_std().unwrap_or_default() + Duration::from_secs(5);
        eprintln!("Tokyo's month ends in {wait:?}: waiting for the next one");
        tokio::time::sleep(wait).await;
    }
    let b = Month::of(Utc::now());
    let client = reqwest::Client::new();
    let gateway = system.running("gateway");
    let api = Api {
        client: client.clone(),
        base: gateway.base_url.clone(),
    };
    let platform = gateway.admin_token(&["--subject", "ops@callvault.example"]);
    let bpo = create_bpo(gateway, &client, &platform, "Tokyo Contact Center").await;
    let tenant = onboard(gateway, &client, &platform, &bpo, "Tokyo Insurance").await;
    let other = onboard(gateway, &client, &platform, &bpo, "Osaka Logistics").await;
    let token = |role: &str, scope: &str, id: &str, subject: &str| {
        gateway.admin_token(&["--role", role, scope, id, "--subject", subject])
    };
    let bpo_admin = token("bpo_admin", "--bpo", &bpo, "billing@tokyo-cc.example.jp");
    let tenant_admin = token(
        "tenant_admin",
        "--tenant",
        &tenant.id,
        "it@tokyo-insurance.example.jp",
    );
    let other_admin = token(
        "tenant_admin",
        "--tenant",
        &other.id,
        "it@osaka-logistics.example.jp",
    );
    let officer_a = token(
        "compliance_officer",
        "--tenant",
        &tenant.id,
        "officer-a@tokyo-insurance.example.jp",
    );
    let officer_b = token(
        "compliance_officer",
        "--tenant",
        &tenant.id,
        "officer-b@tokyo-insurance.example.jp",
    );
    let bus = TestBus::connect(prefix).await;
    let mut scene = Scene {
        system,
        api,
        bus,
        ledger: Ledger::default(),
        offset: chrono::Duration::zero(),
        b,
        platform,
        bpo_admin,
        tenant_admin,
        other_admin,
        officer_a,
        officer_b,
        bpo,
        tenant: tenant.id.clone(),
        other: other.id.clone(),
    };
    let keys = (tenant.key, other.key);
    setup(&scene).await;
    real_usage(&mut scene, &keys.0, &keys.1).await;
    published_usage(&mut scene).await;
    running_month(&scene).await;
    eprintln!(
        "billing: month {} set up in {:?}",
        b.first_day,
        started.elapsed()
    );

    // One hour after B: its grace period runs.
    scene
        .set_billing_clock(b.end + chrono::Duration::hours(1))
        .await;
    let finalized = grace_period(&mut scene).await;
    let finalized_files = files(&scene, &scene.tenant_admin, text(&finalized["id"])).await;
    eprintln!("billing: grace period done at {:?}", started.elapsed());

    // An hour past the grace period: the timer finalizes what is left.
    scene
        .set_billing_clock(b.end + chrono::Duration::hours(GRACE_HOURS + 1))
        .await;
    after_finalization(&mut scene, &finalized, &finalized_files).await;
    eprintln!("billing: done at {:?}", started.elapsed());
}

/// Profiles, plans and assignments, with billing's clock in B; the bad
/// plan refused first.
async fn setup(scene: &Scene) {
    let api = &scene.api;
    let b = scene.b;
    for (token, party, profile) in [
        (
            &scene.platform,
            json!({ "kind": "PLATFORM" }),
            json!({ "legalName": PLATFORM_NAME, "address": "東京都港区六本木6-10-1",
                    "registrationNumber": PLATFORM_REGISTRATION, "invoicePrefix": "CV", "rounding": "HALF_UP" }),
        ),
        (
            &scene.bpo_admin,
            json!({ "kind": "BPO", "id": scene.bpo }),
            json!({ "legalName": BPO_NAME, "address": BPO_ADDRESS,
                    "registrationNumber": BPO_REGISTRATION, "invoicePrefix": "TCC", "rounding": "DOWN" }),
        ),
        (
            &scene.bpo_admin,
            json!({ "kind": "TENANT", "id": scene.tenant }),
            json!({ "legalName": TENANT_NAME, "address": "東京都新宿区西新宿2-8-1" }),
        ),
    ] {
        api.ok(token, PROFILE, json!({ "p": party, "i": profile }))
            .await;
    }

    // An unknown currency: refused, nothing created.
    let plans = |token: &str, bpo: Option<&str>| {
        let (api, token, variables) = (api.clone(), token.to_owned(), json!({ "b": bpo }));
        async move { api.ok(&token, &with_fields(PLANS), variables).await["plans"].clone() }
    };
    let mut bad = retail_terms("3");
    bad["currency"] = json!("XYZ");
    bad["level"] = json!("RETAIL");
    bad["bpoId"] = json!(scene.bpo);
    let refused = api
        .call(&scene.bpo_admin, CREATE_PLAN, json!({ "i": bad }))
        .await;
    assert_eq!(refused, Err("INVALID_PLAN".to_owned()), "unknown currency");
    assert_eq!(
        plans(&scene.bpo_admin, Some(&scene.bpo)).await,
        json!([]),
        "a refused plan was created"
    );

    let mut retail = retail_terms("3");
    retail["level"] = json!("RETAIL");
    retail["bpoId"] = json!(scene.bpo);
    let retail = api
        .ok(&scene.bpo_admin, CREATE_PLAN, json!({ "i": retail }))
        .await;
    let retail_id = text(&retail["createPlan"]["id"]).to_owned();
    let wholesale = api
        .ok(
            &scene.platform,
            CREATE_PLAN,
            json!({ "i": wholesale_terms() }),
        )
        .await;
    let wholesale_id = text(&wholesale["createPlan"]["id"]).to_owned();
    let listed = plans(&scene.bpo_admin, Some(&scene.bpo)).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["charges"][0]["included"], "0");
    assert_eq!(
        listed[0]["charges"][0]["model"]["tiers"],
        json!([
            { "upTo": "1000", "unitPrice": "0" },
            { "upTo": "10000", "unitPrice": "2" },
            { "upTo": null, "unitPrice": "1.5" },
        ])
    );

    // The first plan bills the running month: B, from its first second.
    let assigned = api
        .ok(
            &scene.bpo_admin,
            ASSIGN,
            json!({ "a": account("TENANT", &scene.tenant), "p": retail_id, "z": null }),
        )
        .await;
    assert_eq!(instant(&assigned["assignPlan"]["effectiveFrom"]), b.start);
    assert_eq!(assigned["assignPlan"]["timeZone"], "Asia/Tokyo");
    let assigned = api
        .ok(
            &scene.platform,
            ASSIGN,
            json!({ "a": account("BPO", &scene.bpo), "p": wholesale_id, "z": "Asia/Tokyo" }),
        )
        .await;
    assert_eq!(instant(&assigned["assignPlan"]["effectiveFrom"]), b.start);
}

/// The real part: uploads, a shred, a delivered access request.
async fn real_usage(scene: &mut Scene, tenant_key: &str, other_key: &str) {
    let (tenant, other) = (scene.tenant.clone(), scene.other.clone());
    // 181.5 s → 182 s and 120.001 s → 121 s from the subject; 30 s from
    // someone else (it is deleted below); 45.25 s → 46 s for the other client.
    let (first, _) = scene.upload(tenant_key, &tenant, SUBJECT, 1_452_000).await;
    scene.upload(tenant_key, &tenant, SUBJECT, 960_008).await;
    let (deleted, kept) = scene
        .upload(tenant_key, &tenant, OTHER_CALLER, 240_000)
        .await;
    scene.upload(other_key, &other, OTHER_CALLER, 362_000).await;

    deliver_access_request(scene, first).await;

    // The 30 s call deleted: storage's event ends its storage.
    scene
        .api
        .ok(
            &scene.officer_a,
            "mutation($t: UUID!, $r: UUID!) { deleteRecording(tenantId: $t, id: $r, reason: USER_REQUEST, note: \"recorded by mistake\") { id } }",
            json!({ "t": tenant, "r": deleted.to_string() }),
        )
        .await;
    let shredded = scene
        .bus
        .wait_for::<RecordingShreddedV1>("the deleted call", |e| e.recording_id.0 == deleted)
        .await;
    let kept = &mut scene.ledger.stored[kept];
    assert_eq!((kept.size, kept.from), (shredded.size, shredded.stored_at));
    kept.until = Some(shredded.shredded_at);
}

/// An APPI access request for the subject's calls, from intake to
/// delivery: identity verified, prepared by officer A, approved by
/// officer B, its bundle built, delivered.
async fn deliver_access_request(scene: &mut Scene, recording: Uuid) {
    let api = &scene.api;
    let t = &scene.tenant;
    // Approval wants the tenant's privacy notice, in both languages.
    api.ok(
        &scene.officer_a,
        "mutation($t: UUID!, $i: DisclosureSettingsInput!) { setDisclosureSettings(tenantId: $t, input: $i) { defaultRegime } }",
        json!({ "t": t, "i": {
            "defaultRegime": "APPI",
            "appiLimitDays": 14,
            "gdprIdentityStopsClock": true,
            "appiIdentityStopsClock": false,
            "japaneseHolidays": true,
            "closedDays": [],
            "agentNames": false,
            "bundleRetentionDays": 30,
            "dueSoonWorkingDays": 3,
            "privacy": crate::disclosure::privacy_notice(),
        } }),
    )
    .await;
    let created = api
        .ok(
            &scene.officer_a,
            "mutation($t: UUID!, $i: CreateDisclosureRequestInput!) { createDisclosureRequest(tenantId: $t, input: $i) { id recordings { recordingId } } }",
            json!({ "t": t, "i": {
                "kind": "ACCESS",
                "regime": "APPI",
                "receivedAt": rfc3339(Utc::now() - chrono::Duration::minutes(30)),
                "channel": "EMAIL",
                "requester": { "name": "山田 花子", "email": "hanako.yamada@example.jp" },
                "subject": { "numbers": [SUBJECT] },
                "method": "ELECTRONIC",
            } }),
        )
        .await;
    let request = text(&created["createDisclosureRequest"]["id"]).to_owned();
    let matched = created["createDisclosureRequest"]["recordings"].to_string();
    assert!(
        matched.contains(&recording.to_string()),
        "the subject's calls: {matched}"
    );
    let step = |field: &str, args: &str| {
        format!(
            "mutation($t: UUID!, $id: UUID!) {{ {field}(tenantId: $t, id: $id{args}) {{ state bundle {{ state }} }} }}"
        )
    };
    let variables = json!({ "t": t, "id": request });
    for (token, field, args) in [
        (
            &scene.officer_a,
            "recordIdentityAttempt",
            ", method: CALL_BACK, verified: true",
        ),
        (&scene.officer_a, "submitDisclosureForApproval", ""),
        (&scene.officer_b, "approveDisclosureRequest", ""),
    ] {
        api.ok(token, &step(field, args), variables.clone()).await;
    }
    api.until(
        &scene.officer_a,
        "query($t: UUID!, $id: UUID!) { disclosureRequest(tenantId: $t, id: $id) { state bundle { state } } }",
        variables.clone(),
        "the access request's bundle",
        |data| data["disclosureRequest"]["bundle"]["state"] == "READY",
    )
    .await;
    let delivered = api
        .ok(
            &scene.officer_a,
            &step("deliverDisclosureRequest", ""),
            variables,
        )
        .await;
    assert_eq!(delivered["deliverDisclosureRequest"]["state"], "DELIVERED");
    let event = scene
        .bus
        .wait_for::<DisclosureDeliveredV1>("the access request", |e| {
            e.0.request_id.to_string() == request
        })
        .await;
    scene.ledger.delivered.push(Delivered {
        tenant: t.clone(),
        at: event.0.at,
    });
}

/// How long a published recording is stored.
enum Kept {
    /// Not at all (only its minutes are published).
    Not,
    ForGood,
    /// Shredded then.
    Until(DateTime<Utc>),
}

/// The published part of B and its edges (see the module's doc).
async fn published_usage(scene: &mut Scene) {
    let b = scene.b;
    let second = chrono::Duration::seconds(1);
    let (t, u) = (scene.tenant.clone(), scene.other.clone());
    let shred = b.at(15, 7, 20, 30);
    let recordings = [
        (&t, b.start - second, 1_800_000, Kept::ForGood),
        (&t, b.start, 90_500, Kept::ForGood),
        (&t, b.at(3, 10, 0, 0), 540_000_000, Kept::ForGood),
        (&t, b.at(10, 14, 30, 0), 120_029_500, Kept::Until(shred)),
        (&t, b.end - second, 601_000, Kept::ForGood),
        (&t, b.end, 6_000_000, Kept::ForGood),
        // The other client's: their minutes only.
        (&u, b.at(5, 11, 0, 0), 74_096_700, Kept::Not),
        (&u, b.at(20, 9, 15, 0), 300_000, Kept::Not),
    ];
    let mut messages = Vec::new();
    for (tenant, at, duration_ms, kept) in recordings {
        let id = Uuid::new_v4();
        messages.push(bus::ingested(tenant, id, duration_ms, at, BULK_CALLER));
        scene.ledger.ingested.push(Ingested {
            tenant: tenant.clone(),
            at,
            duration_ms,
        });
        let until = match kept {
            Kept::Not => continue,
            Kept::ForGood => None,
            Kept::Until(shredded_at) => Some(shredded_at),
        };
        // Its µ-law size: 8 bytes a millisecond and the header.
        let size = duration_ms * 8 + 58;
        messages.push(bus::stored(tenant, id, size, at));
        if let Some(shredded_at) = until {
            messages.push(bus::shredded(tenant, id, size, at, shredded_at));
        }
        scene.ledger.stored.push(Stored {
            tenant: tenant.clone(),
            size,
            from: at,
            until,
            real: false,
        });
    }
    scene.bus.publish(&messages).await;
    // Counted once each, however often the bus delivers them: publishing
    // them all again changes nothing.
    scene.bus.publish(&messages).await;
}

fn meter<'a>(bucket: &'a Value, name: &str) -> &'a str {
    bucket["meters"]
        .as_array()
        .expect("meters")
        .iter()
        .find(|m| m["meter"] == name)
        .map(|m| text(&m["quantity"]))
        .unwrap_or_else(|| panic!("no {name} in {bucket}"))
}

/// Waits until billing has counted what the test expects (every event is
/// in), then checks the months before, of and after B.
async fn usage_counted(scene: &Scene) {
    let b = scene.b;
    let (p, n) = (b.previous(), b.next());
    let tenant = [scene.tenant.as_str()];
    let l = &scene.ledger;
    let counted = |bucket: &Value, month: &Month| {
        let (start, end) = (month.start, month.end);
        let count =
            |meter_name: &str, expected: i128| Q::int(expected).matches(meter(bucket, meter_name));
        count("INGESTED_SECONDS", l.seconds(&tenant, start, end))
            && count("RECORDINGS", l.recordings(&tenant, start, end))
            && count("DISCLOSURES_DELIVERED", l.deliveries(&tenant, start, end))
    };
    // The month before B is over: its storage (one recording, its last
    // second) is exact.
    let p_storage = l.gb_months(&tenant, &p, p.start, p.end);
    let variables = json!({
        "t": scene.tenant,
        "f": p.first_day.to_string(),
        "to": n.last_day().to_string(),
        "g": "MONTH",
    });
    let data = scene
        .api
        .until(
            &scene.bpo_admin,
            USAGE_TENANT,
            variables,
            "the tenant's usage",
            |data| {
                let months = data["usage"].as_array().cloned().unwrap_or_default();
                months.len() == 3
                    && months
                        .iter()
                        .zip([p, b, n])
                        .all(|(bucket, month)| counted(bucket, &month))
                    && p_storage.matches(meter(&months[0], "STORAGE_GB_MONTHS"))
            },
        )
        .await;
    let months = data["usage"].as_array().expect("months");
    for (bucket, month) in months.iter().zip([p, b, n]) {
        assert_eq!(bucket["date"], month.first_day.to_string());
        assert_eq!(instant(&bucket["start"]), month.start);
        assert_eq!(instant(&bucket["end"]), month.end);
    }
}

/// Phase 1, the month running: everything counted, B's draft can't be
/// finalized, storage reconciled against storage's own records.
async fn running_month(scene: &Scene) {
    let b = scene.b;
    let tenant = [scene.tenant.as_str()];
    usage_counted(scene).await;
    // The tenant's seconds in B, by hand: the real 182 + 121 + 30, the
    // published 91 + 540,000 + 120,030 + 601.
    assert_eq!(scene.ledger.seconds(&tenant, b.start, b.end), 661_055);

    let drafts = scene
        .invoices(&scene.bpo_admin, "TENANT", &scene.tenant)
        .await;
    assert_eq!(drafts.len(), 1, "B only: the month before had no plan");
    let draft = &drafts[0];
    assert_eq!(draft["status"], "DRAFT");
    assert_eq!(draft["periodFirstDay"], b.first_day.to_string());
    let refused = scene
        .api
        .call(
            &scene.bpo_admin,
            &with_fields(FINALIZE),
            json!({ "id": draft["id"] }),
        )
        .await;
    assert_eq!(
        refused,
        Err("CONFLICT".to_owned()),
        "finalized while running"
    );
    let after = scene.invoice(&scene.bpo_admin, text(&draft["id"])).await;
    assert_eq!(
        (&after["status"], &after["number"]),
        (&json!("DRAFT"), &Value::Null)
    );

    // Storage's records know only the real recordings: the other client's
    // (all real) match to the byte-second, the tenant's differ by exactly
    // what the test published.
    let day = Utc::now().date_naive();
    let (from, to) = (
        day.and_time(chrono::NaiveTime::MIN).and_utc(),
        day.succ_opt()
            .expect("tomorrow")
            .and_time(chrono::NaiveTime::MIN)
            .and_utc(),
    );
    let expected: Vec<(String, i128, i128)> = [&scene.tenant, &scene.other]
        .into_iter()
        .map(|tenant| {
            let all = scene.ledger.byte_seconds(&[tenant], from, to);
            let real = scene.ledger.real().byte_seconds(&[tenant], from, to);
            (tenant.clone(), all, real)
        })
        .collect();
    let reconciled = |data: &Value| {
        let entries = data["reconcileStorage"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        expected.iter().all(|(tenant, all, real)| {
            entries.iter().any(|e| {
                e["tenantId"] == tenant.as_str()
                    && e["billedByteSeconds"] == all.to_string()
                    && e["storedByteSeconds"] == real.to_string()
                    && e["matches"] == (all == real)
            })
        })
    };
    scene
        .api
        .until(
            &scene.platform,
            RECONCILE,
            json!({ "d": day.to_string() }),
            "the storage reconciliation",
            reconciled,
        )
        .await;
    // The other client's storage is all real, the tenant's not.
    let (_, all, real) = &expected[1];
    assert_eq!(all, real);
    let (_, all, real) = &expected[0];
    assert!(all > real, "the tenant's published storage");
}

/// Checks an invoice line by line against the test's own. For a running
/// month, `storage` bounds the storage quantity (it grows until the query).
fn check_invoice(invoice: &Value, expected: &Expected, storage: Option<(Q, Q)>, what: &str) {
    let lines = invoice["lines"].as_array().expect("lines");
    assert_eq!(
        lines.len(),
        expected.lines.len(),
        "{what}: lines of {invoice:#}"
    );
    for (got, want) in lines.iter().zip(&expected.lines) {
        let context = format!("{what}: {got}");
        assert_eq!(got["kind"], want.kind, "{context}");
        assert_eq!(got["meter"].as_str(), want.meter, "{context}");
        assert_eq!(got["amount"], want.amount, "{context}");
        assert_eq!(got["taxRate"], want.tax_rate.to_string(), "{context}");
        assert_eq!(
            got["originalDate"].as_str(),
            want.original_date.map(|d| d.to_string()).as_deref(),
            "{context}"
        );
        let quantity = text(&got["quantity"]);
        match storage {
            Some((low, high))
                if want.kind == "USAGE" && want.meter == Some("STORAGE_GB_MONTHS") =>
            {
                assert!(
                    Q::between(quantity, low, high),
                    "{context}: not within {low:?} and {high:?}"
                );
            }
            _ => assert!(
                want.quantity.matches(quantity),
                "{context}: expected {:?}",
                want.quantity
            ),
        }
    }
    let taxes: Vec<(String, i64, i64)> = invoice["taxes"]
        .as_array()
        .expect("taxes")
        .iter()
        .map(|t| {
            (
                text(&t["rate"]).to_owned(),
                t["subtotal"].as_i64().expect("subtotal"),
                t["tax"].as_i64().expect("tax"),
            )
        })
        .collect();
    let want: Vec<(String, i64, i64)> = expected
        .taxes
        .iter()
        .map(|(rate, subtotal, tax)| (rate.to_string(), *subtotal, *tax))
        .collect();
    assert_eq!(taxes, want, "{what}: taxes");
    assert_eq!(
        (&invoice["subtotal"], &invoice["tax"], &invoice["total"]),
        (
            &json!(expected.subtotal),
            &json!(expected.tax),
            &json!(expected.total)
        ),
        "{what}: totals"
    );
}

/// The tenant's and the BPO's invoices of B, as the test computes them.
fn expected_b(scene: &Scene) -> (Expected, Expected) {
    let b = scene.b;
    let tenant = [scene.tenant.as_str()];
    let all = [scene.tenant.as_str(), scene.other.as_str()];
    (
        retail_plan().invoice(&scene.ledger.usage(&tenant, &b, b.end), &[]),
        wholesale_plan().invoice(&scene.ledger.usage(&all, &b, b.end), &[]),
    )
}

/// Phase 2, one hour after B: drafts, the late delivery on them, bad
/// inputs, the tenant's invoice finalized by the BPO's admin, its files.
/// Answers the finalized invoice.
async fn grace_period(scene: &mut Scene) -> Value {
    let b = scene.b;
    let n = b.next();
    // Billing answers again.
    let drafts = scene
        .api
        .until(
            &scene.bpo_admin,
            &with_fields(INVOICES),
            json!({ "a": account("TENANT", &scene.tenant) }),
            "the drafts after the restart",
            |data| data["invoices"].as_array().map(Vec::len) == Some(2),
        )
        .await;
    let drafts = drafts["invoices"].as_array().expect("invoices");
    assert_eq!(drafts[0]["periodFirstDay"], n.first_day.to_string());
    let draft = &drafts[1];
    assert_eq!(draft["status"], "DRAFT");
    assert_eq!(draft["number"], Value::Null);
    assert_eq!(instant(&draft["periodStart"]), b.start);
    assert_eq!(instant(&draft["periodEnd"]), b.end);
    assert_eq!(
        instant(&draft["finalizeAfter"]),
        b.end + chrono::Duration::hours(GRACE_HOURS)
    );
    assert_eq!(draft["issuerProfile"]["legalName"], BPO_NAME);
    assert_eq!(draft["recipientProfile"]["legalName"], TENANT_NAME);
    let (retail, wholesale) = expected_b(scene);
    let draft = scene
        .api
        .until(
            &scene.bpo_admin,
            &with_fields(INVOICE),
            json!({ "id": draft["id"] }),
            "B's draft",
            |data| data["invoice"]["total"] == retail.total,
        )
        .await["invoice"]
        .clone();
    check_invoice(&draft, &retail, None, "B's draft");
    check_tiers(&draft);
    let bpo_draft = scene
        .invoice_totalling(
            &scene.bpo_admin,
            "BPO",
            &scene.bpo,
            b.first_day,
            wholesale.total,
        )
        .await;
    check_invoice(&bpo_draft, &wholesale, None, "B's wholesale draft");

    // A delivery of B's last evening, late but within the grace period:
    // on the drafts.
    let late_delivery = b.end - chrono::Duration::hours(3);
    scene
        .bus
        .publish(&[bus::delivered(&scene.tenant, late_delivery)])
        .await;
    scene.ledger.delivered.push(Delivered {
        tenant: scene.tenant.clone(),
        at: late_delivery,
    });
    let (retail, wholesale) = expected_b(scene);
    let id = text(&draft["id"]).to_owned();
    let draft = scene
        .api
        .until(
            &scene.bpo_admin,
            &with_fields(INVOICE),
            json!({ "id": id }),
            "the late delivery on B's draft",
            |data| data["invoice"]["total"] == retail.total,
        )
        .await["invoice"]
        .clone();
    check_invoice(&draft, &retail, None, "B's draft with the late delivery");
    let bpo_draft = scene
        .invoice_totalling(
            &scene.bpo_admin,
            "BPO",
            &scene.bpo,
            b.first_day,
            wholesale.total,
        )
        .await;
    check_invoice(
        &bpo_draft,
        &wholesale,
        None,
        "B's wholesale draft, late delivery",
    );

    refusals(scene, &id, text(&drafts[0]["id"])).await;

    // The BPO's admin finalizes it: numbered, the same amounts.
    let finalized = scene
        .api
        .ok(
            &scene.bpo_admin,
            &with_fields(FINALIZE),
            json!({ "id": id }),
        )
        .await["finalizeInvoice"]
        .clone();
    assert_eq!(finalized["status"], "FINALIZED");
    assert_eq!(finalized["number"], "TCC-000001");
    assert_eq!(finalized["id"], draft["id"]);
    let at = instant(&finalized["finalizedAt"]);
    assert!(
        at >= b.end && at <= scene.billing_now(),
        "finalized at {at} by billing's clock"
    );
    check_invoice(&finalized, &retail, None, "B's invoice");
    let mut unnumbered = finalized.clone();
    unnumbered["status"] = json!("DRAFT");
    unnumbered["number"] = Value::Null;
    unnumbered["finalizedAt"] = Value::Null;
    assert_eq!(unnumbered, draft, "finalizing changed more than the number");
    let event = scene
        .bus
        .wait_for::<InvoiceFinalizedV1>("the tenant's invoice", |e| e.number == "TCC-000001")
        .await;
    assert_eq!(
        (event.subtotal, event.tax, event.total),
        (retail.subtotal, retail.tax, retail.total)
    );
    let again = scene
        .api
        .call(
            &scene.bpo_admin,
            &with_fields(FINALIZE),
            json!({ "id": id }),
        )
        .await;
    assert_eq!(again, Err("CONFLICT".to_owned()), "finalized twice");

    check_files(
        scene,
        &scene.tenant_admin,
        &finalized,
        &retail,
        &RETAIL_PARTIES,
    )
    .await;
    finalized
}

/// The graduated minutes of B's draft: ¥0 to 1,000, ¥2 to 10,000, ¥1.5
/// above.
fn check_tiers(invoice: &Value) {
    let minutes = invoice["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["meter"] == "INGESTED_SECONDS")
        .expect("the minutes");
    let tiers = minutes["tiers"].as_array().expect("tiers");
    assert_eq!(tiers.len(), 3, "{minutes}");
    let want = [
        ("0", Some("1000"), Q::int(1000), "0", Q::int(0)),
        ("1000", Some("10000"), Q::int(9000), "2", Q::int(18_000)),
        // 661,055 s − 600,000 s = 61,055 s = 1,017.583… min at ¥1.5.
        (
            "10000",
            None,
            Q::new(61_055, 60),
            "1.5",
            Q::new(61_055 * 3, 120),
        ),
    ];
    for (tier, (from, up_to, quantity, price, amount)) in tiers.iter().zip(want) {
        assert_eq!(tier["from"], from, "{tier}");
        assert_eq!(tier["upTo"].as_str(), up_to, "{tier}");
        assert!(quantity.matches(text(&tier["quantity"])), "{tier}");
        assert_eq!(tier["unitPrice"], price, "{tier}");
        assert!(amount.matches(text(&tier["amount"])), "{tier}");
    }
    assert_eq!(tiers[2]["amount"], "1526.375");
}

/// What nobody may do, and bad inputs: refused, nothing changed.
async fn refusals(scene: &Scene, b_draft: &str, n_draft: &str) {
    let api = &scene.api;
    let before = scene.invoice(&scene.bpo_admin, b_draft).await;
    // The tenant's own admin reads its invoice but doesn't finalize it.
    let own = api
        .call(
            &scene.tenant_admin,
            &with_fields(FINALIZE),
            json!({ "id": b_draft }),
        )
        .await;
    assert_eq!(own, Err("FORBIDDEN".to_owned()), "the tenant's admin");
    assert_eq!(scene.invoice(&scene.tenant_admin, b_draft).await, before);
    // Another tenant's admin (of the same BPO) finds nothing.
    for query in [with_fields(INVOICE), CSV.to_owned(), PDF.to_owned()] {
        let foreign = api
            .call(&scene.other_admin, &query, json!({ "id": b_draft }))
            .await;
        assert_eq!(foreign, Err("NOT_FOUND".to_owned()), "{query}");
    }
    let foreign = api
        .call(
            &scene.other_admin,
            &with_fields(INVOICES),
            json!({ "a": account("TENANT", &scene.tenant) }),
        )
        .await;
    assert_eq!(
        foreign,
        Err("FORBIDDEN".to_owned()),
        "another tenant's invoices"
    );
    // The next month runs: not finalized.
    let running = api
        .call(
            &scene.bpo_admin,
            &with_fields(FINALIZE),
            json!({ "id": n_draft }),
        )
        .await;
    assert_eq!(running, Err("CONFLICT".to_owned()), "a running month");
    assert_eq!(
        scene.invoice(&scene.bpo_admin, n_draft).await["status"],
        "DRAFT"
    );
    assert_eq!(scene.invoice(&scene.bpo_admin, b_draft).await, before);

    // A new version of the plan: B and the next month, both begun before
    // it, keep version 1. An unknown currency is refused first.
    let plan = text(&before["planId"]).to_owned();
    let mut bad = retail_terms("4");
    bad["currency"] = json!("XYZ");
    let refused = api
        .call(
            &scene.bpo_admin,
            UPDATE_PLAN,
            json!({ "id": plan, "i": bad }),
        )
        .await;
    assert_eq!(refused, Err("INVALID_PLAN".to_owned()), "unknown currency");
    let updated = api
        .ok(
            &scene.bpo_admin,
            UPDATE_PLAN,
            json!({ "id": plan, "i": retail_terms("4") }),
        )
        .await;
    assert_eq!(updated["updatePlan"]["version"], 2, "one new version");
    for id in [b_draft, n_draft] {
        assert_eq!(scene.invoice(&scene.bpo_admin, id).await["planVersion"], 1);
    }
}

/// An invoice's CSV text and PDF bytes.
async fn files(scene: &Scene, token: &str, id: &str) -> (String, Vec<u8>) {
    let csv = scene.api.ok(token, CSV, json!({ "id": id })).await;
    let pdf = scene.api.ok(token, PDF, json!({ "id": id })).await;
    let bytes = BASE64.decode(text(&pdf["invoicePdf"])).expect("base64");
    (text(&csv["invoiceCsv"]).to_owned(), bytes)
}

/// The finalized invoice's CSV and PDF show what the test computed.
/// Who an invoice is from and to, as printed.
struct Parties<'a> {
    issuer: &'a str,
    registration: &'a str,
    recipient: &'a str,
}

const RETAIL_PARTIES: Parties<'static> = Parties {
    issuer: BPO_NAME,
    registration: BPO_REGISTRATION,
    recipient: TENANT_NAME,
};

const WHOLESALE_PARTIES: Parties<'static> = Parties {
    issuer: PLATFORM_NAME,
    registration: PLATFORM_REGISTRATION,
    recipient: BPO_NAME,
};

/// A finalized invoice's CSV and PDF (read with `token`) show what the
/// test computed.
async fn check_files(
    scene: &Scene,
    token: &str,
    invoice: &Value,
    expected: &Expected,
    parties: &Parties<'_>,
) {
    let number = text(&invoice["number"]);
    let (csv, bytes) = files(scene, token, text(&invoice["id"])).await;
    let records = csv_records(&csv);
    let header = |key: &str| {
        records
            .iter()
            .find(|r| r[0] == "header" && r[1] == key)
            .map(|r| r[4].clone())
            .unwrap_or_else(|| panic!("no {key} in the CSV: {records:?}"))
    };
    assert_eq!(header("number"), number);
    assert_eq!(header("status"), "FINALIZED");
    assert_eq!(header("issuer_name"), parties.issuer);
    assert_eq!(header("issuer_registration_number"), parties.registration);
    assert_eq!(header("recipient_name"), parties.recipient);
    assert_eq!(header("currency"), "JPY");
    assert_eq!(header("period_first_day"), scene.b.first_day.to_string());
    let lines: Vec<&Vec<String>> = records.iter().filter(|r| r[0] == "line").collect();
    assert_eq!(lines.len(), expected.lines.len(), "{records:?}");
    for (line, want) in lines.iter().zip(&expected.lines) {
        assert_eq!(line[2], want.kind, "{line:?}");
        assert_eq!(line[3], want.meter.unwrap_or_default(), "{line:?}");
        assert_eq!(line[8], want.amount.to_string(), "{line:?}");
        assert_eq!(line[9], want.tax_rate.to_string(), "{line:?}");
    }
    let taxes: Vec<(String, String, String)> = records
        .iter()
        .filter(|r| r[0] == "tax")
        .map(|r| (r[9].clone(), r[8].clone(), r[10].clone()))
        .collect();
    let want: Vec<(String, String, String)> = expected
        .taxes
        .iter()
        .map(|(rate, subtotal, tax)| (rate.to_string(), subtotal.to_string(), tax.to_string()))
        .collect();
    assert_eq!(taxes, want, "the CSV's taxes");
    for (key, amount) in [
        ("subtotal", expected.subtotal),
        ("tax", expected.tax),
        ("total", expected.total),
    ] {
        assert!(
            records
                .iter()
                .any(|r| r[0] == "total" && r[1] == key && r[8] == amount.to_string()),
            "{key} {amount} in the CSV: {records:?}"
        );
    }

    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    let page = pdftotext(&bytes);
    assert_row(&page, &["No.", number]);
    assert_row(&page, &[parties.issuer]);
    assert_row(
        &page,
        &[&format!("Registration No. {}", parties.registration)],
    );
    assert_row(&page, &[parties.recipient]);
    assert_row(
        &page,
        &[&format!(
            "Issue date: {}",
            tokyo_day(instant(&invoice["finalizedAt"]))
        )],
    );
    for (line, want) in invoice["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .zip(&expected.lines)
    {
        assert_row(&page, &[text(&line["description"]), &yen(want.amount)]);
    }
    for (rate, subtotal, tax) in &expected.taxes {
        assert_row(
            &page,
            &[
                &format!("{rate}%"),
                "subtotal",
                &yen(*subtotal),
                "tax",
                &yen(*tax),
            ],
        );
    }
    assert_row(&page, &["Subtotal", &yen(expected.subtotal)]);
    assert_row(&page, &["Total", &yen(expected.total)]);
}

/// Phase 3, past B's grace period: the timer finalizes the wholesale
/// invoice; a late event of B becomes an adjustment on the next month's
/// drafts; B's invoices never change; the BPO's statement; usage by day.
async fn after_finalization(
    scene: &mut Scene,
    finalized: &Value,
    finalized_files: &(String, Vec<u8>),
) {
    let b = scene.b;
    let n = b.next();
    let (retail_b, wholesale_b) = expected_b(scene);
    let tenant = [scene.tenant.as_str()];
    let all = [scene.tenant.as_str(), scene.other.as_str()];

    // Nobody finalized the wholesale invoice: the timer does, once the
    // grace period is over.
    let wholesale = scene
        .api
        .until(
            &scene.platform,
            &with_fields(INVOICES),
            json!({ "a": account("BPO", &scene.bpo) }),
            "the timer's finalization",
            |data| {
                data["invoices"].as_array().is_some_and(|all| {
                    all.iter().any(|i| {
                        i["periodFirstDay"] == b.first_day.to_string() && i["status"] == "FINALIZED"
                    })
                })
            },
        )
        .await;
    let wholesale = wholesale["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .find(|i| i["periodFirstDay"] == b.first_day.to_string())
        .expect("B's wholesale invoice")
        .clone();
    assert_eq!(wholesale["number"], "CV-000001");
    assert_eq!(wholesale["issuerProfile"]["legalName"], PLATFORM_NAME);
    assert_eq!(wholesale["recipientProfile"]["legalName"], BPO_NAME);
    assert!(instant(&wholesale["finalizedAt"]) >= instant(&wholesale["finalizeAfter"]));
    check_invoice(&wholesale, &wholesale_b, None, "B's wholesale invoice");
    // Its files show both tax rates, each with its subtotal and tax.
    check_files(
        scene,
        &scene.bpo_admin,
        &wholesale,
        &wholesale_b,
        &WHOLESALE_PARTIES,
    )
    .await;
    scene
        .bus
        .wait_for::<InvoiceFinalizedV1>("the wholesale invoice", |e| e.number == "CV-000001")
        .await;

    // 301 s of B's last evening, after both were finalized.
    let late_at = b.end - chrono::Duration::hours(5);
    scene
        .bus
        .publish(&[bus::ingested(
            &scene.tenant,
            Uuid::new_v4(),
            301_000,
            late_at,
            BULK_CALLER,
        )])
        .await;
    let before_late = scene.ledger.clone();
    scene.ledger.ingested.push(Ingested {
        tenant: scene.tenant.clone(),
        at: late_at,
        duration_ms: 301_000,
    });
    let late = |meter: Meter, tenants: &[&str]| Late {
        meter,
        billed: before_late.usage(tenants, &b, b.end)[&meter],
        now: scene.ledger.usage(tenants, &b, b.end)[&meter],
        original_date: b.last_day(),
    };
    let retail_late = [late(Meter::IngestedSeconds, &tenant)];
    let wholesale_late = [
        late(Meter::IngestedSeconds, &all),
        // 10 recordings billed, 11 now: a second package.
        late(Meter::Recordings, &all),
    ];
    let n_draft = |tenants: &[&str], late: &[Late], plan: ledger::Plan, at: DateTime<Utc>| {
        plan.invoice(&scene.ledger.usage(tenants, &n, at), late)
    };

    let low = scene.billing_now();
    let draft = scene
        .api
        .until(
            &scene.tenant_admin,
            &with_fields(INVOICES),
            json!({ "a": account("TENANT", &scene.tenant) }),
            "the adjustment on the next month's draft",
            |data| data.to_string().contains("ADJUSTMENT"),
        )
        .await;
    let high = scene.billing_now();
    let invoices = draft["invoices"].as_array().expect("invoices");
    assert_eq!(invoices.len(), 2, "B and the next month");
    let draft = &invoices[0];
    assert_eq!(draft["periodFirstDay"], n.first_day.to_string());
    assert_eq!(draft["planVersion"], 1, "the month began before version 2");
    let candidates = [
        n_draft(&tenant, &retail_late, retail_plan(), low),
        n_draft(&tenant, &retail_late, retail_plan(), high),
    ];
    let expected = candidates
        .iter()
        .find(|c| draft["total"] == c.total)
        .unwrap_or(&candidates[0]);
    let storage = |e: &Expected| {
        e.lines
            .iter()
            .find(|l| l.kind == "USAGE" && l.meter == Some("STORAGE_GB_MONTHS"))
            .map(|l| l.quantity)
            .expect("storage")
    };
    check_invoice(
        draft,
        expected,
        Some((storage(&candidates[0]), storage(&candidates[1]))),
        "the next month's draft",
    );
    // 301 s at B's ¥1.5: ¥7.525, rounded down.
    let adjustment = draft["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["kind"] == "ADJUSTMENT")
        .expect("adjustment");
    assert_eq!(adjustment["amount"], 7);
    assert_eq!(adjustment["originalDate"], b.last_day().to_string());

    let low = scene.billing_now();
    let bpo_draft = scene
        .invoice_of(&scene.platform, "BPO", &scene.bpo, n.first_day)
        .await;
    let high = scene.billing_now();
    let candidates = [
        n_draft(&all, &wholesale_late, wholesale_plan(), low),
        n_draft(&all, &wholesale_late, wholesale_plan(), high),
    ];
    let expected = candidates
        .iter()
        .find(|c| bpo_draft["total"] == c.total)
        .unwrap_or(&candidates[0]);
    check_invoice(
        &bpo_draft,
        expected,
        Some((storage(&candidates[0]), storage(&candidates[1]))),
        "the next month's wholesale draft",
    );

    // B's invoices never change, nor their files.
    let id = text(&finalized["id"]);
    assert_eq!(&scene.invoice(&scene.tenant_admin, id).await, finalized);
    assert!(
        files(scene, &scene.tenant_admin, id).await == *finalized_files,
        "the finalized invoice's files changed"
    );
    check_invoice(finalized, &retail_b, None, "B's invoice, again");
    let wholesale_again = scene.invoice(&scene.platform, text(&wholesale["id"])).await;
    assert_eq!(wholesale_again, wholesale);

    // The BPO's month side by side.
    let statement = scene
        .api
        .ok(
            &scene.bpo_admin,
            STATEMENT,
            json!({ "b": scene.bpo, "m": tokyo_day(b.at(17, 12, 0, 0)).to_string() }),
        )
        .await["bpoStatement"]
        .clone();
    assert_eq!(statement["month"], b.first_day.to_string());
    let clients = statement["clients"].as_array().expect("clients");
    assert_eq!(clients.len(), 2);
    for client in clients {
        if client["tenantId"] == scene.tenant.as_str() {
            assert_eq!(client["invoice"]["number"], "TCC-000001");
            assert_eq!(client["invoice"]["subtotal"], retail_b.subtotal);
        } else {
            assert_eq!(client["tenantId"], scene.other.as_str());
            assert_eq!(client["invoice"], Value::Null, "on no retail plan");
        }
    }
    assert_eq!(statement["wholesale"]["number"], "CV-000001");
    assert_eq!(
        statement["margins"],
        json!([{
            "currency": "JPY",
            "retailSubtotal": retail_b.subtotal,
            "wholesaleSubtotal": wholesale_b.subtotal,
            "margin": retail_b.subtotal - wholesale_b.subtotal,
        }])
    );

    usage_by_day(scene).await;
}

/// The days around the published shred: its storage stops that morning;
/// and B's month now has the late 301 s; active users.
async fn usage_by_day(scene: &Scene) {
    let b = scene.b;
    let tenant = [scene.tenant.as_str()];
    let (d15, d16) = (tokyo_day(b.at(15, 0, 0, 0)), tokyo_day(b.at(16, 0, 0, 0)));
    let days = scene
        .api
        .ok(
            &scene.tenant_admin,
            USAGE_TENANT,
            json!({ "t": scene.tenant, "f": d15.to_string(), "to": d16.to_string(), "g": "DAY" }),
        )
        .await;
    let days = days["usage"].as_array().expect("days");
    assert_eq!(days.len(), 2);
    for (bucket, day) in days.iter().zip([15, 16]) {
        let (start, end) = (b.at(day, 0, 0, 0), b.at(day + 1, 0, 0, 0));
        assert_eq!(instant(&bucket["start"]), start);
        let expected = scene.ledger.gb_months(&tenant, &b, start, end);
        assert!(
            expected.matches(meter(bucket, "STORAGE_GB_MONTHS")),
            "{bucket}: expected {expected:?}"
        );
    }
    usage_counted(scene).await;

    // Active users: the people of a tenant role who made requests (B, by
    // the wall clock): the tenant's admin onboarding used ("admin"), its
    // admin and two officers; the other client's two admins, "admin" the
    // same person (a pseudonym of the subject) for the BPO.
    for (query, key, id, expected) in [
        (USAGE_TENANT, "t", &scene.tenant, "4"),
        (USAGE_TENANT, "t", &scene.other, "2"),
        (USAGE_BPO, "b", &scene.bpo, "5"),
    ] {
        let today = tokyo_day(Utc::now());
        scene
            .api
            .until(
                &scene.bpo_admin,
                query,
                json!({ key: id, "f": today.to_string(), "to": today.to_string(), "g": "MONTH" }),
                "active users",
                |data| {
                    data["usage"][0]["meters"].as_array().is_some_and(|m| {
                        m.iter()
                            .any(|m| m["meter"] == "ACTIVE_USERS" && m["quantity"] == expected)
                    })
                },
            )
            .await;
    }
}
