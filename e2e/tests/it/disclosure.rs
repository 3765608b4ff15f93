//! The data-subject request drill of the disclosure issue, end to end,
//! through the real binary's GraphQL and HTTP only: a Tokyo tenant with
//! five calls from one number (one on legal hold, one due for deletion the
//! next day, one with a PCI pause, one under a statutory retention rule,
//! one redacted by the reviewer); an APPI access request from intake to a
//! downloaded bundle checked as a regulator would (`sha256sum -c`, the
//! Ed25519 signature with the published key, the WAV samples); the due
//! call preserved while the request is open and shredded by the first
//! retention run after; an erasure that shreds what it may and restricts
//! what it must keep; and every bad input refused, changing nothing.
//!
//! The same scenario runs on `callvault serve` (one process, SQLite,
//! filesystem blobs, local keyring) and on every service in its own
//! process (PostgreSQL, RabbitMQ, S3 + KMS on moto).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_e2e::{Callvault, graphql};
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cluster::{BUCKET, Deployment, Layout, with_deployment};
use crate::support::{create_bpo, object_versions, onboard};

/// The data subject's number: every call of the scenario is from it.
const SUBJECT: &str = "+819012345678";
/// The tenant's own line: the other party, never in a bundle.
const COMPANY_LINE: &str = "+81355550100";
const REQUESTER_NAME: &str = "山田 花子";
const REQUESTER_EMAIL: &str = "hanako.yamada@example.jp";
const RATE: u32 = 8_000;
const SECONDS: u32 = 10;
const DAY: i64 = 86_400;
/// The tenant's default retention (see `support::onboard`).
const RETENTION_DAYS: i64 = 365;
/// The queue a statutory rule keeps for ten years.
const STATUTORY_QUEUE: &str = "securities-orders";
/// The reviewer's span: the customer's side, 2 s to 4.5 s.
const REDACTED: (u64, u64) = (2_000, 4_500);
/// The recorder's pause for card capture: 3 s to 5 s.
const PCI_PAUSE: (u64, u64) = (3_000, 5_000);
const OFFICER_A: &str = "officer-a@example.jp";
const OFFICER_B: &str = "officer-b@example.jp";

/// The deletion worker runs only when the scenario asks (`runDeletion`);
/// the disclosure timer every second (queued audit entries, preservations).
const ENV: [(&str, &str); 2] = [
    ("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "0"),
    ("CALLVAULT_DISCLOSURE__TIMER_INTERVAL_SECS", "1"),
];

#[tokio::test]
async fn data_subject_requests_end_to_end_embedded() {
    let started = Instant::now();
    let cv = Callvault::start_with(&ENV).await;
    let mut system = System::Embedded(cv);
    scenario(&mut system).await;
    eprintln!("embedded disclosure scenario: {:?}", started.elapsed());
}

#[tokio::test]
async fn data_subject_requests_end_to_end_distributed() {
    let started = Instant::now();
    with_deployment(Layout::EveryService, &ENV, |deployment| async move {
        let mut system = System::Distributed(deployment);
        scenario(&mut system).await;
    })
    .await;
    eprintln!("distributed disclosure scenario: {:?}", started.elapsed());
}

/// The running system, however its services are spread over processes.
pub enum System {
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

    fn processes(&self) -> Vec<&Callvault> {
        match self {
            System::Embedded(cv) => vec![cv],
            System::Distributed(deployment) => deployment.processes.iter().collect(),
        }
    }

    /// Every stored object (every S3 version) whose key names `id`.
    async fn stored_objects(&self, client: &reqwest::Client, id: &str) -> Vec<Vec<u8>> {
        match self {
            System::Embedded(cv) => {
                let mut found = Vec::new();
                let mut dirs = vec![cv.data_dir.path().to_path_buf()];
                while let Some(dir) = dirs.pop() {
                    for entry in std::fs::read_dir(&dir).expect("data dir") {
                        let path = entry.expect("entry").path();
                        if path.is_dir() {
                            dirs.push(path);
                        } else if path.to_string_lossy().contains(id) {
                            found.push(std::fs::read(&path).expect("blob"));
                        }
                    }
                }
                found
            }
            System::Distributed(deployment) => {
                let endpoint = deployment.moto.endpoint();
                let mut found = Vec::new();
                for key in object_versions(client, &endpoint, BUCKET).await {
                    if !key.contains(id) {
                        continue;
                    }
                    let response = client
                        .get(format!("{endpoint}/{BUCKET}/{key}"))
                        .send()
                        .await
                        .expect("get object");
                    // A delete marker's key lists, but reads 404: still a
                    // trace of the bundle.
                    found.push(response.bytes().await.expect("object").to_vec());
                }
                found
            }
        }
    }

    /// Moves the clock of the services that read it (metadata's retention,
    /// disclosure's deadlines) `offset_secs` ahead of the wall clock: each
    /// such process is restarted with `lifecycle.clock_offset_secs`.
    async fn move_clock(&mut self, offset_secs: i64) {
        let offset = offset_secs.to_string();
        let env = [("CALLVAULT_LIFECYCLE__CLOCK_OFFSET_SECS", offset.as_str())];
        match self {
            System::Embedded(cv) => cv.restart_with(&env).await,
            System::Distributed(deployment) => {
                for process in deployment.processes.iter_mut() {
                    let target = process.target().to_owned();
                    if target
                        .split(',')
                        .any(|t| t == "metadata" || t == "disclosure")
                    {
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

    /// A call that must succeed.
    async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        self.call(token, query, variables)
            .await
            .unwrap_or_else(|code| panic!("{code} from {query}"))
    }

    /// The whole answer, errors included.
    async fn raw(&self, token: &str, query: &str, variables: Value) -> Value {
        self.client
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("graphql request")
            .json()
            .await
            .expect("graphql json")
    }
}

/// What a request answers, as the scenario reads it.
const REQUEST: &str = "id state kind regime receivedAt \
    deadline { dueDate suePossibleFrom clockStoppedDays } \
    identityAttempts { verified method recordedBy } \
    recordings { recordingId included source durationMs \
      redactions { channel startMs endMs mode } pciPauses { channel startMs endMs mode } \
      legalHolds statutory { ruleId ruleName legalBasis } retainUntil } \
    transitions { from to actor } preparedBy approvedBy \
    bundle { id state size sha256 downloads expiresAt } \
    erasure { erased retained { recordingId reason legalHolds statutory { ruleId ruleName legalBasis } retainUntil } certificateId } \
    updatedAt";

/// One step on a request: `field(tenantId: $t, id: $id <args>)`.
fn step(field: &str, args: &str) -> String {
    format!(
        "mutation($t: UUID!, $id: UUID!) {{ {field}(tenantId: $t, id: $id{args}) {{ {REQUEST} }} }}"
    )
}

const CREATE: &str = "mutation($t: UUID!, $i: CreateDisclosureRequestInput!) { createDisclosureRequest(tenantId: $t, input: $i) { id state recordings { recordingId } } }";
const READ: &str =
    "query($t: UUID!, $id: UUID!) { disclosureRequest(tenantId: $t, id: $id) { REQUEST } }";
const LIST: &str = "query($t: UUID!) { disclosureRequests(tenantId: $t) { id kind state } }";
const PLAYBACK: &str =
    "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { playbackUrl } }";
const RUN_DELETION: &str = "mutation($t: UUID!) { runDeletion(tenantId: $t) { id body signature deleted { recordingId reason } heldBack failed } }";

fn read_query() -> String {
    READ.replace("REQUEST", REQUEST)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One call of the scenario and the audio uploaded for it.
struct Call {
    id: String,
    samples: Vec<i16>,
    wav: Vec<u8>,
}

pub async fn scenario(system: &mut System) {
    let client = reqwest::Client::new();
    let gateway = system.running("gateway");
    let api = Api {
        client: client.clone(),
        base: gateway.base_url.clone(),
    };
    let ingestion_url = system.running("ingestion").base_url.clone();

    // A BPO, the tenant (Asia/Tokyo, 365 days' retention) and another.
    let admin = gateway.admin_token(&[]);
    let bpo = create_bpo(gateway, &client, &admin, "Tokyo Contact Center").await;
    let tenant = onboard(gateway, &client, &admin, &bpo, "Example Securities").await;
    let other = onboard(gateway, &client, &admin, &bpo, "Other Insurance").await;
    let token = |tenant: &str, role: &str, subject: &str| {
        gateway.admin_token(&["--role", role, "--tenant", tenant, "--subject", subject])
    };
    let officer_a = token(&tenant.id, "compliance_officer", OFFICER_A);
    let officer_b = token(&tenant.id, "compliance_officer", OFFICER_B);
    let supervisor = token(&tenant.id, "supervisor", "qa@example.jp");
    let auditor = token(&tenant.id, "auditor", "auditor@example.jp");
    let other_officer = token(&other.id, "compliance_officer", "officer@other.example.jp");
    let t = tenant.id.clone();
    let timezone = api
        .ok(
            &officer_a,
            "query($t: UUID!) { tenant(id: $t) { timeZone } }",
            json!({ "t": t }),
        )
        .await;
    assert_eq!(timezone["tenant"]["timeZone"], "Asia/Tokyo");

    // The privacy notice, in both languages.
    let privacy = privacy_notice();
    let settings = api
        .ok(
            &officer_a,
            "mutation($t: UUID!, $i: DisclosureSettingsInput!) { setDisclosureSettings(tenantId: $t, input: $i) { defaultRegime appiLimitDays privacy { rights { en ja } } } }",
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
                "privacy": privacy,
            } }),
        )
        .await;
    assert_eq!(
        settings["setDisclosureSettings"]["privacy"]["rights"],
        privacy["rights"]
    );

    // A statutory rule: the securities orders desk's calls are kept ten
    // years by law.
    let rule = api
        .ok(
            &officer_a,
            "mutation($t: UUID!, $i: RetentionRuleInput!) { createRetentionRule(tenantId: $t, input: $i) { id name } }",
            json!({ "t": t, "i": {
                "name": "orders desk",
                "matches": { "queue": STATUTORY_QUEUE },
                "retentionDays": 3650,
                "legalBasis": "FIEA art. 46-2: records of orders taken by telephone",
            } }),
        )
        .await;
    let rule_id = rule["createRetentionRule"]["id"]
        .as_str()
        .expect("rule id")
        .to_owned();

    // Five calls from the subject's number, dual-channel (agent left,
    // customer right).
    let now = Utc::now();
    let upload = |external: &'static str,
                  started: DateTime<Utc>,
                  queue: &'static str,
                  pauses: Value,
                  seed: u32| {
        let (client, base, key) = (client.clone(), ingestion_url.clone(), tenant.key.clone());
        async move {
            let (wav, samples) = stereo_call(seed);
            let metadata = json!({
                "external_call_id": external,
                "segment": 0,
                "direction": "inbound",
                "caller_number": SUBJECT,
                "callee_number": COMPANY_LINE,
                "agent": format!("agent-{seed}"),
                "queue": queue,
                "started_at": rfc3339(started),
                "ended_at": rfc3339(started + chrono::Duration::seconds(i64::from(SECONDS))),
                "agent_channel": "left",
                "customer_channel": "right",
                "pauses": pauses,
            });
            let response = client
                .post(format!("{base}/v1/recordings"))
                .bearer_auth(&key)
                .header("content-type", "audio/wav")
                .header("callvault-call", metadata.to_string())
                .body(wav.clone())
                .send()
                .await
                .expect("upload");
            let status = response.status();
            let receipt: Value = response.json().await.expect("receipt");
            assert_eq!(status, StatusCode::CREATED, "{external}: {receipt}");
            assert_eq!(receipt["channels"], 2);
            Call {
                id: receipt["recording_id"].as_str().expect("id").to_owned(),
                samples,
                wav,
            }
        }
    };
    let ago = |secs: i64| now - chrono::Duration::seconds(secs);
    // Due for deletion tomorrow: started 364 days ago, kept 365.
    let due = upload(
        "dsr-due",
        ago((RETENTION_DAYS - 1) * DAY),
        "support",
        json!([]),
        1,
    )
    .await;
    let held = upload("dsr-held", ago(3 * DAY), "support", json!([]), 2).await;
    let paused = upload(
        "dsr-pci",
        ago(2 * DAY),
        "support",
        json!([{ "start_ms": PCI_PAUSE.0, "end_ms": PCI_PAUSE.1 }]),
        3,
    )
    .await;
    let statutory = upload("dsr-statutory", ago(DAY), STATUTORY_QUEUE, json!([]), 4).await;
    let redacted = upload("dsr-redacted", ago(5 * 3600), "support", json!([]), 5).await;
    let calls = [&due, &held, &paused, &statutory, &redacted];
    let call_ids: BTreeSet<String> = calls.iter().map(|call| call.id.clone()).collect();
    wait_until_listed(&api, &supervisor, &t, 5).await;

    let hold = api
        .ok(
            &officer_a,
            "mutation($t: UUID!, $r: UUID!) { placeLegalHold(tenantId: $t, input: {caseName: \"FSA inquiry 2026-41\", reason: \"regulator's inquiry into order handling\", recordingIds: [$r]}) { id } }",
            json!({ "t": t, "r": held.id }),
        )
        .await;
    let hold_id = hold["placeLegalHold"]["id"]
        .as_str()
        .expect("hold id")
        .to_owned();

    // ---- Bad intake: refused, nothing created. ----
    let input = |kind: &str, regime: &str, received: DateTime<Utc>, number: &str| {
        json!({
            "kind": kind,
            "regime": regime,
            "receivedAt": rfc3339(received),
            "channel": "EMAIL",
            "requester": { "name": REQUESTER_NAME, "email": REQUESTER_EMAIL },
            "subject": { "numbers": [number] },
            "method": "ELECTRONIC",
        })
    };
    let unknown_regime = api
        .raw(
            &officer_a,
            CREATE,
            json!({ "t": t, "i": input("ACCESS", "CCPA", ago(3600), SUBJECT) }),
        )
        .await;
    let message = unknown_regime["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        unknown_regime["data"].is_null()
            && unknown_regime["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
            && message.contains("enumeration type \"Regime\"")
            && message.contains("CCPA"),
        "an unknown regime is a GraphQL enum error: {unknown_regime}"
    );
    for (what, bad) in [
        (
            "a receipt in the future",
            input("ACCESS", "APPI", now + chrono::Duration::days(3), SUBJECT),
        ),
        (
            "an invalid number",
            input("ACCESS", "APPI", ago(3600), "+81-not-a-number"),
        ),
    ] {
        let refused = api
            .call(&officer_a, CREATE, json!({ "t": t, "i": bad }))
            .await;
        assert_eq!(refused, Err("BAD_USER_INPUT".to_owned()), "{what}");
    }
    let listed = api.ok(&officer_a, LIST, json!({ "t": t })).await;
    assert_eq!(
        listed["disclosureRequests"],
        json!([]),
        "bad intake created a request"
    );
    let audited = audit_trail(&api, &auditor, &t).await;
    // The only disclosure entry so far is the settings change.
    assert!(
        audited
            .iter()
            .all(|entry| entry["action"] != "DISCLOSURE" || entry["target"] == "settings"),
        "bad intake was audited: {audited:?}"
    );

    // ---- The APPI access request. ----
    let received = ago(3600);
    let created = api
        .ok(
            &officer_a,
            CREATE,
            json!({ "t": t, "i": input("ACCESS", "APPI", received, SUBJECT) }),
        )
        .await;
    let access = created["createDisclosureRequest"]["id"]
        .as_str()
        .expect("request id")
        .to_owned();
    let request = read(&api, &officer_a, &t, &access).await;
    assert_eq!(request["state"], "RECEIVED");
    assert_eq!(request["regime"], "APPI");
    let matched: BTreeSet<String> = recordings(&request)
        .iter()
        .map(|r| r["recordingId"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(matched, call_ids, "every call from the number matched");
    let by_id = |request: &Value, id: &str| -> Value {
        recordings(request)
            .into_iter()
            .find(|r| r["recordingId"] == id)
            .unwrap_or_else(|| panic!("{id} not in the request"))
    };
    let retain_until: DateTime<Utc> = by_id(&request, &due.id)["retainUntil"]
        .as_str()
        .expect("retainUntil")
        .parse()
        .expect("a time");
    assert!(
        retain_until > now && retain_until < now + chrono::Duration::days(2),
        "the due call is due tomorrow: {retain_until}"
    );
    assert_eq!(by_id(&request, &held.id)["legalHolds"], json!([hold_id]));
    assert_eq!(
        by_id(&request, &statutory.id)["statutory"]["ruleId"],
        rule_id.as_str()
    );
    assert_eq!(
        by_id(&request, &paused.id)["pciPauses"],
        json!([{ "channel": "BOTH", "startMs": PCI_PAUSE.0, "endMs": PCI_PAUSE.1, "mode": "SILENCE" }])
    );
    // APPI: a suit is possible from receipt + 15 days (Tokyo dates).
    let tokyo = chrono::FixedOffset::east_opt(9 * 3600).expect("JST");
    let received_day = received.with_timezone(&tokyo).date_naive();
    assert_eq!(
        request["deadline"]["suePossibleFrom"],
        (received_day + chrono::Days::new(15)).to_string()
    );

    // Identity: asked for, failed once, verified at the second attempt.
    let run = |query: String, token: &str, id: &str| {
        let (api, token) = (api.clone(), token.to_owned());
        let variables = json!({ "t": t, "id": id });
        async move { api.call(&token, &query, variables).await }
    };
    run(
        step(
            "askForIdentity",
            ", reason: \"call back on the number on file\"",
        ),
        &officer_a,
        &access,
    )
    .await
    .expect("ask for identity");
    let attempt = |verified: bool| {
        step(
            "recordIdentityAttempt",
            &format!(", method: CALL_BACK, verified: {verified}"),
        )
    };
    let failed = run(attempt(false), &officer_a, &access)
        .await
        .expect("first attempt");
    assert_eq!(
        failed["recordIdentityAttempt"]["state"], "AWAITING_IDENTITY",
        "a first failure changes no state"
    );
    let verified = run(attempt(true), &officer_a, &access)
        .await
        .expect("second attempt");
    let request = &verified["recordIdentityAttempt"];
    assert_eq!(request["state"], "IN_REVIEW");
    assert_eq!(
        request["identityAttempts"],
        json!([
            { "verified": false, "method": "CALL_BACK", "recordedBy": OFFICER_A },
            { "verified": true, "method": "CALL_BACK", "recordedBy": OFFICER_A },
        ])
    );

    // Review: officer A redacts the customer's side of one call.
    let redactions = |spans: Value, token: &str| {
        let (api, token) = (api.clone(), token.to_owned());
        let variables = json!({ "t": t, "id": access, "r": redacted.id, "s": spans });
        async move {
            api.call(
                &token,
                &format!("mutation($t: UUID!, $id: UUID!, $r: UUID!, $s: [RedactionSpanInput!]!) {{ setRedactions(tenantId: $t, id: $id, recordingId: $r, spans: $s) {{ {REQUEST} }} }}"),
                variables,
            )
            .await
        }
    };
    let span = |channel: &str, start: u64, end: u64| json!({ "channel": channel, "startMs": start, "endMs": end, "mode": "SILENCE" });
    let reviewed = redactions(
        json!([span("CUSTOMER", REDACTED.0, REDACTED.1)]),
        &officer_a,
    )
    .await
    .expect("redactions");
    let expected_spans = json!([span("CUSTOMER", REDACTED.0, REDACTED.1)]);
    assert_eq!(
        by_id(&reviewed["setRedactions"], &redacted.id)["redactions"],
        expected_spans
    );

    // ---- Bad review steps: refused, nothing changed. ----
    let before = read(&api, &officer_a, &t, &access).await;
    let audited = disclosure_entries(&api, &auditor, &t, &access).await;
    let outside = redactions(json!([span("CUSTOMER", 9_000, 60_000)]), &officer_a).await;
    assert_eq!(outside, Err("BAD_USER_INPUT".to_owned()), "a span outside");
    let overlapping = redactions(
        json!([
            span("CUSTOMER", 1_000, 3_000),
            span("CUSTOMER", 2_000, 4_000)
        ]),
        &officer_a,
    )
    .await;
    assert_eq!(
        overlapping,
        Err("BAD_USER_INPUT".to_owned()),
        "overlapping spans"
    );
    let early = run(step("deliverDisclosureRequest", ""), &officer_a, &access).await;
    assert_eq!(
        early,
        Err("CONFLICT".to_owned()),
        "delivery before approval"
    );
    let early = run(step("approveDisclosureRequest", ""), &officer_b, &access).await;
    assert_eq!(
        early,
        Err("CONFLICT".to_owned()),
        "approval before submission"
    );
    // Another tenant's officer doesn't see the request, nor can they act on it.
    let foreign = api
        .call(
            &other_officer,
            &read_query(),
            json!({ "t": other.id, "id": access }),
        )
        .await;
    assert_eq!(
        foreign,
        Err("NOT_FOUND".to_owned()),
        "another tenant's request"
    );
    let foreign = api
        .call(
            &other_officer,
            &step("askForIdentity", ""),
            json!({ "t": other.id, "id": access }),
        )
        .await;
    assert_eq!(
        foreign,
        Err("NOT_FOUND".to_owned()),
        "another tenant's request"
    );
    // …and our officer can't reach into the other tenant at all.
    let foreign = api
        .call(
            &officer_a,
            &read_query(),
            json!({ "t": other.id, "id": access }),
        )
        .await;
    assert_eq!(foreign, Err("FORBIDDEN".to_owned()), "another tenant");
    let after = read(&api, &officer_a, &t, &access).await;
    assert_eq!(after, before, "a refused step changed the request");
    assert_eq!(
        disclosure_entries(&api, &auditor, &t, &access).await,
        audited,
        "a refused step was audited as a change"
    );

    // Submitted by A; A can't approve their own review, B can.
    let submitted = run(step("submitDisclosureForApproval", ""), &officer_a, &access)
        .await
        .expect("submit");
    assert_eq!(
        submitted["submitDisclosureForApproval"]["preparedBy"],
        OFFICER_A
    );
    let before = read(&api, &officer_a, &t, &access).await;
    let own = run(step("approveDisclosureRequest", ""), &officer_a, &access).await;
    assert_eq!(own, Err("FORBIDDEN".to_owned()), "four eyes");
    assert_eq!(read(&api, &officer_a, &t, &access).await, before);
    let approved = run(step("approveDisclosureRequest", ""), &officer_b, &access)
        .await
        .expect("approve");
    assert_eq!(approved["approveDisclosureRequest"]["state"], "APPROVED");
    assert_eq!(
        approved["approveDisclosureRequest"]["approvedBy"],
        OFFICER_B
    );
    let listed = api.ok(&officer_a, LIST, json!({ "t": t })).await;
    assert_eq!(
        listed["disclosureRequests"].as_array().map(Vec::len),
        Some(1),
        "the bad inputs created a request: {listed}"
    );

    let request = wait_for_bundle(&api, &officer_a, &t, &access).await;
    let bundle = request["bundle"].clone();
    let bundle_id = bundle["id"].as_str().expect("bundle id").to_owned();
    // At rest it is sealed: no ZIP, no manifest, no number in the store.
    let stored = system.stored_objects(&client, &bundle_id).await;
    assert!(!stored.is_empty(), "no object for bundle {bundle_id}");
    for object in &stored {
        assert!(
            !object.starts_with(b"PK"),
            "the bundle is stored as a plain ZIP"
        );
        for plain in [&b"disclosure_manifest"[..], b"819012345678", b"RIFF"] {
            assert!(
                !object.windows(plain.len()).any(|w| w == plain),
                "the stored bundle shows {}",
                String::from_utf8_lossy(plain)
            );
        }
    }

    // ---- Two days later, the due call is still there: the open request
    // preserves it. ----
    system.move_clock(2 * DAY).await;
    let run_deletion = || {
        let (api, token) = (api.clone(), officer_a.clone());
        let variables = json!({ "t": t });
        async move { api.ok(&token, RUN_DELETION, variables).await["runDeletion"].clone() }
    };
    let certificate = run_deletion().await;
    assert_eq!(
        certificate["deleted"],
        json!([]),
        "deleted while preserved: {certificate}"
    );
    let body: Value = serde_json::from_str(certificate["body"].as_str().expect("signed body"))
        .expect("certificate body");
    assert_eq!(
        body["held_by_request"],
        json!([{ "recording_id": due.id, "request_id": access }]),
        "{body}"
    );
    // Nor can anyone delete it by hand meanwhile.
    let deleted = api
        .call(
            &officer_a,
            "mutation($t: UUID!, $r: UUID!) { deleteRecording(tenantId: $t, id: $r, reason: USER_REQUEST, note: \"cleanup\") { id } }",
            json!({ "t": t, "r": due.id }),
        )
        .await;
    assert_eq!(
        deleted,
        Err("CONFLICT".to_owned()),
        "a preserved call deleted"
    );
    let due_url = playback_url(&api, &supervisor, &t, &due.id)
        .await
        .expect("the preserved call still plays");
    let played = client.get(&due_url).send().await.expect("play");
    assert_eq!(played.status(), StatusCode::OK);
    assert_eq!(played.bytes().await.expect("audio"), due.wav);

    // Delivery, then the bundle link: an EXPORT entry, then the download.
    let delivered = run(step("deliverDisclosureRequest", ""), &officer_a, &access)
        .await
        .expect("deliver");
    let request = &delivered["deliverDisclosureRequest"];
    assert_eq!(request["state"], "DELIVERED");
    assert!(
        request["bundle"]["expiresAt"].is_string(),
        "delivery starts the bundle's retention: {}",
        request["bundle"]
    );
    // Delivered but not closed: still preserved.
    let certificate = run_deletion().await;
    assert_eq!(certificate["deleted"], json!([]), "{certificate}");
    let body: Value = serde_json::from_str(certificate["body"].as_str().expect("signed body"))
        .expect("certificate body");
    assert_eq!(
        body["held_by_request"],
        json!([{ "recording_id": due.id, "request_id": access }]),
        "{body}"
    );
    let link = api
        .ok(
            &officer_a,
            "mutation($t: UUID!, $id: UUID!) { disclosureBundleUrl(tenantId: $t, requestId: $id) { url expiresAt fileName size sha256 } }",
            json!({ "t": t, "id": access }),
        )
        .await["disclosureBundleUrl"]
        .clone();
    assert_eq!(link["fileName"], format!("disclosure-{access}.zip"));
    assert_eq!(link["sha256"], bundle["sha256"]);
    let url = link["url"].as_str().expect("bundle url").to_owned();
    let disclosure_url = &system.running("disclosure").base_url;
    assert!(
        url.starts_with(&format!("{disclosure_url}/v1/disclosure/bundles/{t}/")),
        "the link must lead to the disclosure service ({disclosure_url}): {url}"
    );
    let response = client.get(&url).send().await.expect("download");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"disclosure-{access}.zip\"").as_str()
    );
    let zip = response.bytes().await.expect("zip").to_vec();
    assert_eq!(Some(zip.len() as u64), link["size"].as_u64());
    assert_eq!(
        hex::encode(digest(&SHA256, &zip).as_ref()),
        link["sha256"].as_str().expect("sha256")
    );
    let public_key = manifest_key(&client, &api.base, &t).await;
    check_bundle(
        &zip,
        &BundleExpectations {
            tenant: &t,
            request: &access,
            public_key: &public_key,
            calls: &calls,
            redacted: &redacted.id,
            paused: &paused.id,
            privacy: &privacy,
        },
    );

    // A tampered link and a playback link can't fetch the bundle.
    let tampered = tamper(&url);
    let response = client.get(&tampered).send().await.expect("tampered");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let error: Value = response.json().await.expect("json error");
    assert_eq!(error["error"]["code"], "invalid_signature", "{error}");
    let playback = playback_url(&api, &supervisor, &t, &statutory.id)
        .await
        .expect("playback url");
    let (bundle_path, _) = url.split_once('?').expect("signed");
    let (_, playback_query) = playback.split_once('?').expect("signed");
    let response = client
        .get(format!("{bundle_path}?{playback_query}"))
        .send()
        .await
        .expect("playback signature on a bundle");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let error: Value = response.json().await.expect("json error");
    assert_eq!(error["error"]["code"], "invalid_signature", "{error}");
    // Nor does a bundle link play as a recording: its signature on the
    // playback route, the bundle id in the recording's place.
    let (playback_path, _) = playback.split_once('?').expect("signed");
    assert!(playback_path.contains(&statutory.id), "{playback}");
    let (_, bundle_query) = url.split_once('?').expect("signed");
    let as_playback = format!(
        "{}?{bundle_query}",
        playback_path.replace(&statutory.id, &bundle_id)
    );
    let response = client
        .get(&as_playback)
        .send()
        .await
        .expect("bundle signature on the playback route");
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "{as_playback}");

    // The audit trail holds the export; the chain is intact.
    let entries = audit_trail(&api, &auditor, &t).await;
    let export = entries
        .iter()
        .find(|entry| entry["action"] == "EXPORT" && entry["target"] == access.as_str())
        .unwrap_or_else(|| panic!("no EXPORT of {access} in {entries:?}"));
    assert_eq!(export["actor"], OFFICER_A);
    assert_eq!(export["details"]["bundle_id"], bundle["id"]);
    assert_eq!(export["details"]["sha256"], bundle["sha256"]);
    let request = read(&api, &officer_a, &t, &access).await;
    assert_eq!(request["bundle"]["downloads"], 1, "{}", request["bundle"]);
    assert!(
        entries
            .iter()
            .any(|entry| entry["action"] == "DISCLOSURE" && entry["target"] == access.as_str()),
        "no DISCLOSURE entry for the request"
    );
    assert_chain_intact(&api, &auditor, &t).await;

    // Closed: the first retention run after shreds the due call.
    let closed = run(
        step("closeDisclosureRequest", ", reason: \"bundle handed over\""),
        &officer_a,
        &access,
    )
    .await
    .expect("close");
    assert_eq!(closed["closeDisclosureRequest"]["state"], "CLOSED");
    let certificate = run_deletion().await;
    let deleted: Vec<&str> = certificate["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|tombstone| tombstone["recordingId"].as_str().expect("id"))
        .collect();
    assert_eq!(deleted, [due.id.as_str()], "{certificate}");
    let gone = client.get(&due_url).send().await.expect("play shredded");
    assert_eq!(gone.status(), StatusCode::GONE, "the shredded call");
    let lookup = playback_url(&api, &supervisor, &t, &due.id).await;
    assert_eq!(lookup, Err("NOT_FOUND".to_owned()), "the shredded call");

    // ---- The erasure request for the same subject. ----
    let created = api
        .ok(
            &officer_a,
            CREATE,
            json!({ "t": t, "i": input("ERASURE", "GDPR", Utc::now(), SUBJECT) }),
        )
        .await;
    let erasure = created["createDisclosureRequest"]["id"]
        .as_str()
        .expect("request id")
        .to_owned();
    let matched: BTreeSet<&str> = created["createDisclosureRequest"]["recordings"]
        .as_array()
        .expect("recordings")
        .iter()
        .map(|r| r["recordingId"].as_str().expect("id"))
        .collect();
    assert_eq!(
        matched,
        BTreeSet::from([
            held.id.as_str(),
            paused.id.as_str(),
            statutory.id.as_str(),
            redacted.id.as_str()
        ]),
        "the shredded call is not matched"
    );
    run(attempt(true), &officer_b, &erasure)
        .await
        .expect("identity");
    run(
        step("submitDisclosureForApproval", ""),
        &officer_b,
        &erasure,
    )
    .await
    .expect("submit");
    let own = run(step("approveDisclosureRequest", ""), &officer_b, &erasure).await;
    assert_eq!(own, Err("FORBIDDEN".to_owned()), "four eyes");
    run(step("approveDisclosureRequest", ""), &officer_a, &erasure)
        .await
        .expect("approve");
    let erased_urls = [
        playback_url(&api, &supervisor, &t, &paused.id)
            .await
            .expect("url"),
        playback_url(&api, &supervisor, &t, &redacted.id)
            .await
            .expect("url"),
    ];
    let delivered = run(step("deliverDisclosureRequest", ""), &officer_a, &erasure)
        .await
        .expect("deliver the erasure");
    let outcome = &delivered["deliverDisclosureRequest"]["erasure"];
    let erased: BTreeSet<&str> = outcome["erased"]
        .as_array()
        .expect("erased")
        .iter()
        .map(|id| id.as_str().expect("id"))
        .collect();
    assert_eq!(
        erased,
        BTreeSet::from([paused.id.as_str(), redacted.id.as_str()]),
        "{outcome}"
    );
    let retained: BTreeMap<&str, &Value> = outcome["retained"]
        .as_array()
        .expect("retained")
        .iter()
        .map(|r| (r["recordingId"].as_str().expect("id"), r))
        .collect();
    assert_eq!(retained.len(), 2, "{outcome}");
    assert_eq!(retained[held.id.as_str()]["reason"], "LEGAL_HOLD");
    assert_eq!(retained[held.id.as_str()]["legalHolds"], json!([hold_id]));
    assert_eq!(retained[statutory.id.as_str()]["reason"], "STATUTORY");
    assert_eq!(
        retained[statutory.id.as_str()]["statutory"]["ruleId"],
        rule_id.as_str()
    );
    assert_eq!(
        retained[statutory.id.as_str()]["statutory"]["legalBasis"],
        "FIEA art. 46-2: records of orders taken by telephone"
    );
    let certificate_id = outcome["certificateId"].as_str().expect("certificate");
    let certificates = api
        .ok(
            &officer_a,
            "query($t: UUID!) { tenant(id: $t) { deletionCertificates { id deleted { recordingId reason } } } }",
            json!({ "t": t }),
        )
        .await;
    let certificate = certificates["tenant"]["deletionCertificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .find(|c| c["id"] == certificate_id)
        .unwrap_or_else(|| panic!("no certificate {certificate_id}: {certificates}"))
        .clone();
    let reasons: BTreeSet<&str> = certificate["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|t| t["reason"].as_str().expect("reason"))
        .collect();
    assert_eq!(reasons, BTreeSet::from(["ERASURE"]), "{certificate}");

    // Erased: gone from the catalogue and the store.
    for (id, url) in [&paused.id, &redacted.id].into_iter().zip(&erased_urls) {
        let lookup = api
            .call(&supervisor, PLAYBACK, json!({ "t": t, "r": id }))
            .await;
        assert_eq!(lookup, Err("NOT_FOUND".to_owned()), "{id} erased");
        let gone = client.get(url).send().await.expect("play erased");
        assert_eq!(gone.status(), StatusCode::GONE, "{id} erased");
    }
    // Kept: restricted. A supervisor can't play them; a compliance officer
    // who gives a reason can.
    for id in [&held.id, &statutory.id] {
        let listed = api
            .ok(
                &supervisor,
                "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { restricted } }",
                json!({ "t": t, "r": id }),
            )
            .await;
        assert_eq!(listed["recording"]["restricted"], true, "{id}");
        let refused = playback_url(&api, &supervisor, &t, id).await;
        assert_eq!(refused, Err("RECORDING_RESTRICTED".to_owned()), "{id}");
        let allowed = api
            .call(
                &officer_a,
                "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { playbackUrl(reason: \"regulator's inquiry\") } }",
                json!({ "t": t, "r": id }),
            )
            .await;
        assert!(allowed.is_ok(), "{id}: {allowed:?}");
    }

    let listed = api.ok(&officer_a, LIST, json!({ "t": t })).await;
    let states: BTreeMap<&str, &str> = listed["disclosureRequests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().expect("id"),
                r["state"].as_str().expect("state"),
            )
        })
        .collect();
    assert_eq!(
        states,
        BTreeMap::from([(access.as_str(), "CLOSED"), (erasure.as_str(), "DELIVERED")])
    );
    // Found by the subject's number (in the tenant's national format too),
    // not by another.
    let by_number = |number: &str| {
        let (api, token) = (api.clone(), officer_a.clone());
        let variables = json!({ "t": t, "n": number });
        async move {
            let found = api
                .ok(
                    &token,
                    "query($t: UUID!, $n: String!) { disclosureRequests(tenantId: $t, filter: {number: $n}) { id } }",
                    variables,
                )
                .await;
            found["disclosureRequests"]
                .as_array()
                .expect("requests")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned())
                .collect::<BTreeSet<String>>()
        }
    };
    let both = BTreeSet::from([access.clone(), erasure.clone()]);
    assert_eq!(by_number(SUBJECT).await, both);
    assert_eq!(by_number("09012345678").await, both);
    assert_eq!(by_number("+819099990000").await, BTreeSet::new());
    // The register a regulator asks for: both, answered.
    let register = api
        .ok(
            &auditor,
            "query($t: UUID!, $f: NaiveDate!, $to: NaiveDate!) { disclosureRegister(tenantId: $t, from: $f, to: $to) { requestId kind regime state outcome answeredAt } }",
            json!({
                "t": t,
                "f": (received_day - chrono::Days::new(1)).to_string(),
                "to": (received_day + chrono::Days::new(3)).to_string(),
            }),
        )
        .await;
    let outcomes: BTreeMap<&str, (&str, &str, &str)> = register["disclosureRegister"]
        .as_array()
        .expect("register")
        .iter()
        .map(|entry| {
            assert!(entry["answeredAt"].is_string(), "{entry}");
            (
                entry["requestId"].as_str().expect("id"),
                (
                    entry["kind"].as_str().expect("kind"),
                    entry["regime"].as_str().expect("regime"),
                    entry["outcome"].as_str().expect("outcome"),
                ),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        BTreeMap::from([
            (access.as_str(), ("ACCESS", "APPI", "delivered")),
            (erasure.as_str(), ("ERASURE", "GDPR", "delivered")),
        ])
    );
    assert_chain_intact(&api, &auditor, &t).await;

    // Past its retention (30 days from delivery), the bundle is shredded by
    // the disclosure timer, and its link fetches nothing.
    system.move_clock(33 * DAY).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let request = read(&api, &officer_a, &t, &access).await;
        if request["bundle"]["state"] == "SHREDDED" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bundle outlived its retention: {}",
            request["bundle"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let response = client.get(&url).send().await.expect("shredded bundle");
    assert_eq!(response.status(), StatusCode::GONE, "{url}");
    let error: Value = response.json().await.expect("json error");
    assert_eq!(error["error"]["code"], "bundle_gone", "{error}");
    let stored = system.stored_objects(&client, &bundle_id).await;
    assert!(
        stored.is_empty(),
        "{} objects of the shredded bundle left",
        stored.len()
    );

    // Nothing personal reached any process's log.
    for process in system.processes() {
        let logs = process.log_text();
        for secret in [SUBJECT, "819012345678", REQUESTER_NAME, REQUESTER_EMAIL] {
            assert!(
                !logs.contains(secret),
                "the log of {} holds personal data",
                process.target()
            );
        }
    }
}

pub(crate) fn privacy_notice() -> Value {
    let text = |en: &str, ja: &str| json!({ "en": en, "ja": ja });
    json!({
        "purposes": text("Quality assurance and proof of orders.", "品質向上および注文内容の確認のため。"),
        "categories": text("Call recordings and call records.", "通話録音および通話記録。"),
        "recipients": text("Our contact center operator (processor).", "委託先のコンタクトセンター事業者。"),
        "retention": text("One year; order calls ten years by law.", "1年間。注文の通話は法令により10年間。"),
        "source": text("Recorded when you called us.", "お客様からのお電話の際に録音しました。"),
        "rights": text("You may ask for disclosure, correction or erasure.", "開示、訂正、利用停止等を請求できます。"),
    })
}

async fn read(api: &Api, token: &str, tenant: &str, id: &str) -> Value {
    api.ok(token, &read_query(), json!({ "t": tenant, "id": id }))
        .await["disclosureRequest"]
        .clone()
}

fn recordings(request: &Value) -> Vec<Value> {
    request["recordings"]
        .as_array()
        .expect("recordings")
        .clone()
}

async fn playback_url(api: &Api, token: &str, tenant: &str, id: &str) -> Result<String, String> {
    let data = api
        .call(token, PLAYBACK, json!({ "t": tenant, "r": id }))
        .await?;
    Ok(data["recording"]["playbackUrl"]
        .as_str()
        .expect("url")
        .to_owned())
}

/// Waits until the catalogue lists `expected` recordings (it is fed by an
/// event).
async fn wait_until_listed(api: &Api, token: &str, tenant: &str, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let data = api
            .ok(
                token,
                "query($t: UUID!) { recordings(tenantId: $t) { edges { node { id } } } }",
                json!({ "t": tenant }),
            )
            .await;
        let found = data["recordings"]["edges"].as_array().map_or(0, Vec::len);
        if found == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{found} of {expected} recordings listed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the request until its bundle is `READY`.
async fn wait_for_bundle(api: &Api, token: &str, tenant: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let request = read(api, token, tenant, id).await;
        match request["bundle"]["state"].as_str() {
            Some("READY") => return request,
            Some("BUILDING") => {}
            other => panic!("bundle {other:?}: {}", request["bundle"]),
        }
        assert!(
            Instant::now() < deadline,
            "the bundle is not ready after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn audit_trail(api: &Api, token: &str, tenant: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = api
            .ok(
                token,
                "query($t: UUID!, $a: Int64) { tenant(id: $t) { auditTrail(after: $a, first: 100) { nodes { seq actor action target details } endSeq hasNextPage } } }",
                json!({ "t": tenant, "a": after }),
            )
            .await;
        let page = &page["tenant"]["auditTrail"];
        entries.extend(page["nodes"].as_array().expect("nodes").iter().cloned());
        if page["hasNextPage"] != true {
            return entries;
        }
        after = page["endSeq"].clone();
    }
}

/// The request's `DISCLOSURE` audit entries, by their queue id (the timer
/// and the step may both append a queued entry: a documented duplicate).
async fn disclosure_entries(
    api: &Api,
    token: &str,
    tenant: &str,
    request: &str,
) -> BTreeSet<String> {
    let entries = audit_trail(api, token, tenant).await;
    let mine: Vec<&Value> = entries
        .iter()
        .filter(|entry| entry["action"] == "DISCLOSURE" && entry["target"] == request)
        .collect();
    let ids: BTreeSet<String> = mine
        .iter()
        .map(|entry| {
            entry["details"]["queue_id"]
                .as_str()
                .expect("queue id")
                .to_owned()
        })
        .collect();
    ids
}

async fn assert_chain_intact(api: &Api, token: &str, tenant: &str) {
    let verified = api
        .ok(
            token,
            "query($t: UUID!) { tenant(id: $t) { verifyAuditChain { intact entriesChecked firstBadSeq } } }",
            json!({ "t": tenant }),
        )
        .await;
    let verification = &verified["tenant"]["verifyAuditChain"];
    assert_eq!(verification["intact"], true, "{verification}");
}

async fn manifest_key(client: &reqwest::Client, base: &str, tenant: &str) -> Vec<u8> {
    let key: Value = client
        .get(format!("{base}/v1/tenants/{tenant}/manifest-key"))
        .send()
        .await
        .expect("manifest key")
        .json()
        .await
        .expect("key json");
    assert_eq!(key["algorithm"], "Ed25519");
    assert_eq!(key["tenant_id"], tenant);
    BASE64
        .decode(key["public_key"].as_str().expect("public key"))
        .expect("base64 key")
}

/// The URL with its signature's first character changed (the last one
/// may carry only padding bits).
fn tamper(url: &str) -> String {
    let (head, signature) = url.split_once("sig=").expect("a signature");
    let mut chars = signature.chars();
    let first = chars.next().expect("a signature");
    let changed = if first == 'A' { 'B' } else { 'A' };
    format!("{head}sig={changed}{}", chars.as_str())
}

struct BundleExpectations<'a> {
    tenant: &'a str,
    request: &'a str,
    public_key: &'a [u8],
    calls: &'a [&'a Call],
    redacted: &'a str,
    paused: &'a str,
    privacy: &'a Value,
}

/// Unzips the bundle and checks it as a regulator would: the checksums
/// with the real `sha256sum -c`, the manifest's signature with the
/// tenant's published key, and every WAV sample against the upload.
fn check_bundle(zip: &[u8], expected: &BundleExpectations<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let mut names = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).expect("entry");
        let name = entry
            .enclosed_name()
            .expect("a safe path")
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("entry bytes");
        let path = dir.path().join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write entry");
        names.push(name);
    }
    let tail: Vec<&str> = names
        .iter()
        .skip(expected.calls.len())
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "calls.json",
            "calls.csv",
            "information.json",
            "information.txt",
            "manifest.json",
            "SHA256SUMS",
            "manifest.sig"
        ],
        "{names:?}"
    );

    let check = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir.path())
        .output()
        .expect("sha256sum");
    let output = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "sha256sum -c: {output}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(
        output.lines().filter(|line| line.ends_with(": OK")).count(),
        names.len() - 2,
        "every file but SHA256SUMS and the signature is checked: {output}"
    );

    let read = |name: &str| std::fs::read(dir.path().join(name)).expect("bundle file");
    let manifest_bytes = read("manifest.json");
    let signature = BASE64
        .decode(
            String::from_utf8(read("manifest.sig"))
                .expect("text")
                .trim(),
        )
        .expect("base64 signature");
    let key = UnparsedPublicKey::new(&ED25519, expected.public_key);
    key.verify(&manifest_bytes, &signature)
        .expect("manifest.sig verifies with the tenant's published key");
    let mut forged = manifest_bytes.clone();
    if let Some(byte) = forged.iter_mut().find(|b| b.is_ascii_digit()) {
        *byte = if *byte == b'9' { b'0' } else { *byte + 1 };
    }
    assert!(
        key.verify(&forged, &signature).is_err(),
        "a changed manifest verifies"
    );
    let manifest: Value = serde_json::from_slice(&manifest_bytes).expect("manifest json");
    assert_eq!(manifest["kind"], "disclosure_manifest");
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["tenant_id"], expected.tenant);
    assert_eq!(manifest["request_id"], expected.request);
    let redactions: BTreeSet<String> = manifest["redactions"]
        .as_array()
        .expect("redactions")
        .iter()
        .map(Value::to_string)
        .collect();
    let wanted: BTreeSet<String> = [
        json!({ "channel": "CUSTOMER", "start_ms": REDACTED.0, "end_ms": REDACTED.1, "mode": "SILENCE", "recording_id": expected.redacted, "source": "reviewer" }),
        json!({ "channel": "BOTH", "start_ms": PCI_PAUSE.0, "end_ms": PCI_PAUSE.1, "mode": "SILENCE", "recording_id": expected.paused, "source": "pci_pause" }),
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    assert_eq!(redactions, wanted);

    // The audio: every sample the original's, but the spans' (silent).
    let frame = |ms: u64| (ms * u64::from(RATE) / 1000) as usize;
    for call in expected.calls {
        let path = names
            .iter()
            .find(|name| {
                name.starts_with("recordings/") && name.ends_with(&format!("_{}.wav", call.id))
            })
            .unwrap_or_else(|| panic!("no WAV of {} in {names:?}", call.id));
        let (channels, rate, samples) = pcm16(&read(path));
        assert_eq!((channels, rate), (2, RATE), "{path}");
        assert_eq!(samples.len(), call.samples.len(), "{path}");
        // (channel, first frame, end frame) silenced in this call.
        let mut silent: Vec<(usize, usize, usize)> = Vec::new();
        if call.id == expected.redacted {
            silent.push((1, frame(REDACTED.0), frame(REDACTED.1)));
        }
        if call.id == expected.paused {
            silent.push((0, frame(PCI_PAUSE.0), frame(PCI_PAUSE.1)));
            silent.push((1, frame(PCI_PAUSE.0), frame(PCI_PAUSE.1)));
        }
        for (index, (got, original)) in samples.iter().zip(&call.samples).enumerate() {
            let (frame, channel) = (index / 2, index % 2);
            let muted = silent
                .iter()
                .any(|(c, from, to)| *c == channel && (*from..*to).contains(&frame));
            let want = if muted { 0 } else { *original };
            assert_eq!(
                *got, want,
                "{path}: frame {frame}, channel {channel} (redacted: {muted})"
            );
        }
    }

    // The call list names the subject's number, never the other party's.
    let calls_json: Value = serde_json::from_slice(&read("calls.json")).expect("calls.json");
    let rows = calls_json.as_array().expect("rows");
    assert_eq!(rows.len(), expected.calls.len());
    for row in rows {
        assert_eq!(row["subject_number"], SUBJECT, "{row}");
        let agent = row["agent"].as_str().expect("agent");
        let pseudonym = agent.strip_prefix("agent-").expect("agent-…");
        assert!(
            pseudonym.len() == 8 && pseudonym.chars().all(|c| c.is_ascii_hexdigit()),
            "agents are pseudonyms: {agent}"
        );
    }
    for name in ["calls.json", "calls.csv"] {
        let text = String::from_utf8(read(name)).expect("utf-8");
        assert!(!text.contains(COMPANY_LINE), "{name} names the other party");
    }
    let information: Value =
        serde_json::from_slice(&read("information.json")).expect("information.json");
    assert_eq!(&information, expected.privacy);
    let text = String::from_utf8(read("information.txt")).expect("utf-8");
    let (japanese, english) = text
        .split_once("[About your personal data]")
        .expect("an English part");
    assert!(
        japanese.starts_with("【個人データの取扱いについて】"),
        "{text}"
    );
    for field in [
        "purposes",
        "categories",
        "recipients",
        "retention",
        "source",
        "rights",
    ] {
        let notice = &expected.privacy[field];
        assert!(
            japanese.contains(notice["ja"].as_str().expect("ja")),
            "{field}: {text}"
        );
        assert!(
            english.contains(notice["en"].as_str().expect("en")),
            "{field}: {text}"
        );
    }
}

/// The 16-bit PCM samples of a WAV: (channels, rate, interleaved samples).
fn pcm16(wav: &[u8]) -> (u16, u32, Vec<i16>) {
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..12], b"WAVE");
    let (mut channels, mut rate) = (0, 0);
    let mut at = 12;
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let size = u32::from_le_bytes(wav[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = &wav[at + 8..(at + 8 + size).min(wav.len())];
        if id == b"fmt " {
            assert_eq!(u16::from_le_bytes([body[0], body[1]]), 1, "PCM");
            channels = u16::from_le_bytes([body[2], body[3]]);
            rate = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
            assert_eq!(u16::from_le_bytes([body[14], body[15]]), 16, "16-bit");
        }
        if id == b"data" {
            let samples = body
                .chunks_exact(2)
                .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
                .collect();
            return (channels, rate, samples);
        }
        at += 8 + size + (size & 1);
    }
    panic!("no data chunk");
}

/// A dual-channel 16-bit call of [`SECONDS`] at [`RATE`]: the agent's
/// tone on the left, the customer's on the right, with a little noise, so
/// that no two calls (nor channels) share their samples.
fn stereo_call(seed: u32) -> (Vec<u8>, Vec<i16>) {
    let frames = (RATE * SECONDS) as usize;
    let mut samples = Vec::with_capacity(frames * 2);
    let mut noise = seed.wrapping_mul(2_654_435_761) | 1;
    let tones = [
        300.0 + 37.0 * f64::from(seed),
        520.0 + 53.0 * f64::from(seed),
    ];
    for f in 0..frames {
        let t = f as f64 / f64::from(RATE);
        for hz in tones {
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let jitter = f64::from(noise % 401) - 200.0;
            samples.push(((t * hz * std::f64::consts::TAU).sin() * 9_000.0 + jitter) as i16);
        }
    }
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut wav = Vec::with_capacity(data.len() + 44);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 4).to_le_bytes());
    wav.extend_from_slice(&4u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    (wav, samples)
}
