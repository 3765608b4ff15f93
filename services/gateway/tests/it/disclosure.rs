//! The disclosure API at the gateway: every disclosure query and mutation
//! against every kind of caller (FORBIDDEN before any call, or let
//! through to the operation it names), input checks that change nothing,
//! the mapping of arguments and answers, answers about another tenant, and
//! the signed bundle link.
//!
//! The disclosure service here is `support::disclosure`'s stand-in on the
//! in-process bus: canned contract values, every call recorded. That is
//! acceptable ONLY because these tests are about the gateway's own layer
//! (its permission checks, its mapping); the real service is tested end to
//! end elsewhere.

use callvault_auth::signed_url::{Grant, Operation, UrlError, UrlSigner};
use callvault_contracts::{Actor, Role};
use callvault_gateway::{PlaybackLinks, StateError, bundle_path};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::disclosure::{BUNDLE, BUNDLE_SIZE, CONFLICTING_REQUEST};
use crate::support::keys::now;
use crate::support::{
    PLAYBACK_BASE, PLAYBACK_TTL, TestApp, URL_SECRET, bpo_admin, error_codes, platform_admin,
    spawn_app, tenant_user, token,
};

/// Callers, in column order: platform admin, BPO X admin, BPO Y admin,
/// then tenant A's tenant admin, supervisor, agent and compliance officer,
/// tenant B's compliance officer, and tenant A's auditor. Tenant A (the
/// one asked about) and B belong to BPO X.
const COLUMNS: &str = "PA BX BY TA SU AG CO CB AU";

/// `ReadDisclosure`: a BPO's admins for its tenants, the tenant's
/// compliance officers and auditors.
const READ: &str = "n Y n n n n Y n Y";
/// `HandleDisclosure`: the same without auditors.
const HANDLE: &str = "n Y n n n n Y n n";

/// Field, `Y` let through / `n` FORBIDDEN per column, and the disclosure
/// operation an allowed call reaches. Written out independently of the
/// code's `reach` (and matching services/gateway/PERMISSIONS.md).
pub const EXPECTED: [(&str, &str, &str); 24] = [
    ("disclosureSettings", READ, "disclosure_settings"),
    ("disclosureRequest", READ, "disclosure_request"),
    ("disclosureRequests", READ, "disclosure_requests"),
    ("disclosureRegister", READ, "disclosure_register"),
    ("disclosureRegisterCsv", READ, "disclosure_register_csv"),
    ("setDisclosureSettings", HANDLE, "set_disclosure_settings"),
    (
        "createDisclosureRequest",
        HANDLE,
        "create_disclosure_request",
    ),
    ("askForIdentity", HANDLE, "ask_for_identity"),
    ("recordIdentityAttempt", HANDLE, "record_identity_attempt"),
    (
        "reopenDisclosureRequest",
        HANDLE,
        "reopen_disclosure_request",
    ),
    (
        "extendDisclosureDeadline",
        HANDLE,
        "extend_disclosure_deadline",
    ),
    ("addRequestRecording", HANDLE, "add_request_recording"),
    ("removeRequestRecording", HANDLE, "remove_request_recording"),
    ("setRedactions", HANDLE, "set_redactions"),
    (
        "submitDisclosureForApproval",
        HANDLE,
        "submit_disclosure_for_approval",
    ),
    (
        "sendBackDisclosureRequest",
        HANDLE,
        "send_back_disclosure_request",
    ),
    (
        "approveDisclosureRequest",
        HANDLE,
        "approve_disclosure_request",
    ),
    ("recordDisclosureFee", HANDLE, "record_disclosure_fee"),
    (
        "deliverDisclosureRequest",
        HANDLE,
        "deliver_disclosure_request",
    ),
    ("closeDisclosureRequest", HANDLE, "close_disclosure_request"),
    (
        "refuseDisclosureRequest",
        HANDLE,
        "refuse_disclosure_request",
    ),
    (
        "withdrawDisclosureRequest",
        HANDLE,
        "withdraw_disclosure_request",
    ),
    (
        "liftDisclosureRestriction",
        HANDLE,
        "lift_disclosure_restriction",
    ),
    ("disclosureBundleUrl", HANDLE, "authorize_bundle_download"),
];

const BILINGUAL: &str = "{ en: \"text\", ja: \"文\" }";

fn settings_input() -> String {
    format!(
        "{{ defaultRegime: APPI, appiLimitDays: 10, gdprIdentityStopsClock: true, \
         appiIdentityStopsClock: false, japaneseHolidays: true, closedDays: [\"2025-12-31\"], \
         appiFee: {{ amount: 1000, currency: \"JPY\" }}, agentNames: false, \
         bundleRetentionDays: 30, dueSoonWorkingDays: 3, privacy: {{ purposes: {BILINGUAL}, \
         categories: {BILINGUAL}, recipients: {BILINGUAL}, retention: {BILINGUAL}, \
         source: {BILINGUAL}, rights: {BILINGUAL} }} }}"
    )
}

/// A valid operation for each field. `$a` is tenant A, `$q` a request,
/// `$r` one of tenant A's recordings.
fn operation(name: &str) -> String {
    let settings = "defaultRegime appiLimitDays closedDays appiFee { amount currency } privacy { rights { en ja } }";
    match name {
        "disclosureSettings" => {
            format!("query($a: UUID!) {{ disclosureSettings(tenantId: $a) {{ {settings} }} }}")
        }
        "disclosureRequest" => {
            "query($a: UUID!, $q: UUID!) { disclosureRequest(tenantId: $a, id: $q) { id tenantId state } }".into()
        }
        "disclosureRequests" => {
            "query($a: UUID!) { disclosureRequests(tenantId: $a, filter: { state: IN_REVIEW, overdue: true }) { id tenantId } }".into()
        }
        "disclosureRegister" => {
            "query($a: UUID!) { disclosureRegister(tenantId: $a, from: \"2025-01-01\", to: \"2025-12-31\") { requestId outcome onTime } }".into()
        }
        "disclosureRegisterCsv" => {
            "query($a: UUID!) { disclosureRegisterCsv(tenantId: $a, from: \"2025-01-01\", to: \"2025-01-01\") }".into()
        }
        "setDisclosureSettings" => format!(
            "mutation($a: UUID!) {{ setDisclosureSettings(tenantId: $a, input: {}) {{ {settings} }} }}",
            settings_input()
        ),
        "createDisclosureRequest" => {
            "mutation($a: UUID!) { createDisclosureRequest(tenantId: $a, input: { kind: ACCESS, receivedAt: \"2025-03-01T09:00:00Z\", channel: EMAIL, requester: { name: \" Hanako Yamada \", email: \"hanako@example.test\" }, subject: { numbers: [\" 03-1234-5678 \"] } }) { id tenantId state } }".into()
        }
        "askForIdentity" => {
            "mutation($a: UUID!, $q: UUID!) { askForIdentity(tenantId: $a, id: $q) { id state } }".into()
        }
        "recordIdentityAttempt" => {
            "mutation($a: UUID!, $q: UUID!) { recordIdentityAttempt(tenantId: $a, id: $q, method: ID_DOCUMENT, verified: true) { id state } }".into()
        }
        "reopenDisclosureRequest" => {
            "mutation($a: UUID!, $q: UUID!) { reopenDisclosureRequest(tenantId: $a, id: $q, reason: \"new documents\") { id } }".into()
        }
        "extendDisclosureDeadline" => {
            "mutation($a: UUID!, $q: UUID!) { extendDisclosureDeadline(tenantId: $a, id: $q, months: 2, reasons: \"complex\") { id deadline { dueDate extendedByMonths } } }".into()
        }
        "addRequestRecording" => {
            "mutation($a: UUID!, $q: UUID!, $r: UUID!) { addRequestRecording(tenantId: $a, id: $q, recordingId: $r, reason: \"named\") { id } }".into()
        }
        "removeRequestRecording" => {
            "mutation($a: UUID!, $q: UUID!, $r: UUID!) { removeRequestRecording(tenantId: $a, id: $q, recordingId: $r, reason: \"not the subject\") { id } }".into()
        }
        "setRedactions" => {
            "mutation($a: UUID!, $q: UUID!, $r: UUID!) { setRedactions(tenantId: $a, id: $q, recordingId: $r, spans: [{ channel: AGENT, startMs: 1000, endMs: 2000, mode: TONE }]) { id } }".into()
        }
        "submitDisclosureForApproval" => {
            "mutation($a: UUID!, $q: UUID!) { submitDisclosureForApproval(tenantId: $a, id: $q) { id } }".into()
        }
        "sendBackDisclosureRequest" => {
            "mutation($a: UUID!, $q: UUID!) { sendBackDisclosureRequest(tenantId: $a, id: $q, reason: \"redact the card number\") { id } }".into()
        }
        "approveDisclosureRequest" => {
            "mutation($a: UUID!, $q: UUID!) { approveDisclosureRequest(tenantId: $a, id: $q) { id approvedBy } }".into()
        }
        "recordDisclosureFee" => {
            "mutation($a: UUID!, $q: UUID!) { recordDisclosureFee(tenantId: $a, id: $q, paid: true) { id feePaid } }".into()
        }
        "deliverDisclosureRequest" => {
            "mutation($a: UUID!, $q: UUID!) { deliverDisclosureRequest(tenantId: $a, id: $q) { id } }".into()
        }
        "closeDisclosureRequest" => {
            "mutation($a: UUID!, $q: UUID!) { closeDisclosureRequest(tenantId: $a, id: $q) { id } }".into()
        }
        "refuseDisclosureRequest" => {
            "mutation($a: UUID!, $q: UUID!) { refuseDisclosureRequest(tenantId: $a, id: $q, ground: RIGHTS_OF_OTHERS, text: \"refused\", complaintNotice: \"you may complain\") { id refusal { ground } } }".into()
        }
        "withdrawDisclosureRequest" => {
            "mutation($a: UUID!, $q: UUID!) { withdrawDisclosureRequest(tenantId: $a, id: $q, reason: \"by email\") { id } }".into()
        }
        "liftDisclosureRestriction" => {
            "mutation($a: UUID!, $q: UUID!) { liftDisclosureRestriction(tenantId: $a, id: $q, reason: \"dispute settled\") { id restrictionActive } }".into()
        }
        "disclosureBundleUrl" => {
            "mutation($a: UUID!, $q: UUID!) { disclosureBundleUrl(tenantId: $a, requestId: $q) { url expiresAt fileName size sha256 } }".into()
        }
        other => panic!("no operation {other}"),
    }
}

fn callers(app: &TestApp) -> Vec<(&'static str, Actor)> {
    let w = &app.metadata.world;
    COLUMNS
        .split(' ')
        .zip([
            platform_admin(),
            bpo_admin(w.bpo_x),
            bpo_admin(w.bpo_y),
            tenant_user(Role::TenantAdmin, w.tenant_a),
            tenant_user(Role::Supervisor, w.tenant_a),
            tenant_user(Role::Agent, w.tenant_a),
            tenant_user(Role::ComplianceOfficer, w.tenant_a),
            tenant_user(Role::ComplianceOfficer, w.tenant_b),
            tenant_user(Role::Auditor, w.tenant_a),
        ])
        .collect()
}

fn variables(app: &TestApp, request: Uuid) -> Value {
    let w = &app.metadata.world;
    json!({ "a": w.tenant_a.0, "q": request, "r": w.rec_a1.0 })
}

fn clear(app: &TestApp) {
    app.metadata.clear();
    app.lifecycle.clear();
    app.disclosure.clear();
}

/// Everything but the tenant lookups that reached a backend.
fn reached_beyond_lookups(app: &TestApp) -> Vec<String> {
    app.metadata
        .methods()
        .into_iter()
        .filter(|method| *method != "get_tenant")
        .chain(app.lifecycle.methods())
        .chain(app.disclosure.methods())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_disclosure_field_against_every_caller_matches_the_table() {
    let app = spawn_app().await;
    let tenant_a = app.metadata.world.tenant_a;
    let request = Uuid::new_v4();
    let mut mismatches = Vec::new();
    for (name, row, method) in EXPECTED {
        for ((column, actor), expected) in callers(&app).iter().zip(row.split(' ')) {
            clear(&app);
            let answer = app
                .gql(
                    Some(&token(actor)),
                    &operation(name),
                    variables(&app, request),
                )
                .await;
            let outcome = match error_codes(&answer).as_slice() {
                [] if !answer["data"][name].is_null() => "Y",
                [code] if code == "FORBIDDEN" && answer["data"].is_null() => "n",
                _ => "?",
            };
            let calls = app.disclosure.calls();
            let consistent = match outcome {
                // Exactly the named operation, about tenant A, as the caller.
                "Y" => {
                    app.lifecycle.methods().is_empty()
                        && matches!(calls.as_slice(), [call]
                            if call.method == method
                                && call.tenant() == Some(tenant_a.0)
                                && call.actor().is_some_and(|seen| seen.subject == actor.subject && seen.role == actor.role))
                }
                // Refused: nothing but the tenant lookup left the gateway.
                _ => reached_beyond_lookups(&app).is_empty(),
            };
            if outcome != expected || !consistent {
                mismatches.push(format!(
                    "{name} as {column}: expected {expected}, got {answer}, disclosure saw {:?}, metadata saw {:?}",
                    app.disclosure.methods(),
                    app.metadata.methods()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn no_token_is_unauthenticated_and_reaches_nothing() {
    let app = spawn_app().await;
    for (name, _, _) in EXPECTED {
        clear(&app);
        let answer = app
            .gql(None, &operation(name), variables(&app, Uuid::new_v4()))
            .await;
        assert_eq!(
            error_codes(&answer),
            ["UNAUTHENTICATED"],
            "{name}: {answer}"
        );
        assert!(reached_beyond_lookups(&app).is_empty(), "{name}");
        assert!(app.metadata.methods().is_empty(), "{name}");
    }
}

/// Bad input, with the field it is for.
fn bad_inputs() -> Vec<(&'static str, String)> {
    let q = "mutation($a: UUID!, $q: UUID!)";
    let r = "mutation($a: UUID!, $q: UUID!, $r: UUID!)";
    vec![
        ("reopenDisclosureRequest", format!("{q} {{ reopenDisclosureRequest(tenantId: $a, id: $q, reason: \"  \") {{ id }} }}")),
        ("extendDisclosureDeadline", format!("{q} {{ extendDisclosureDeadline(tenantId: $a, id: $q, months: 3, reasons: \"complex\") {{ id }} }}")),
        ("extendDisclosureDeadline", format!("{q} {{ extendDisclosureDeadline(tenantId: $a, id: $q, months: 0, reasons: \"complex\") {{ id }} }}")),
        ("extendDisclosureDeadline", format!("{q} {{ extendDisclosureDeadline(tenantId: $a, id: $q, months: 1, reasons: \"\") {{ id }} }}")),
        ("addRequestRecording", format!("{r} {{ addRequestRecording(tenantId: $a, id: $q, recordingId: $r, reason: \"\") {{ id }} }}")),
        ("removeRequestRecording", format!("{r} {{ removeRequestRecording(tenantId: $a, id: $q, recordingId: $r, reason: \"\") {{ id }} }}")),
        ("setRedactions", format!("{r} {{ setRedactions(tenantId: $a, id: $q, recordingId: $r, spans: [{{ channel: BOTH, startMs: 2000, endMs: 2000, mode: SILENCE }}]) {{ id }} }}")),
        ("sendBackDisclosureRequest", format!("{q} {{ sendBackDisclosureRequest(tenantId: $a, id: $q, reason: \"\") {{ id }} }}")),
        ("askForIdentity", format!("{q} {{ askForIdentity(tenantId: $a, id: $q, reason: \" \") {{ id }} }}")),
        ("closeDisclosureRequest", format!("{q} {{ closeDisclosureRequest(tenantId: $a, id: $q, reason: \"\") {{ id }} }}")),
        ("refuseDisclosureRequest", format!("{q} {{ refuseDisclosureRequest(tenantId: $a, id: $q, ground: RIGHTS_OF_OTHERS, text: \"\", complaintNotice: \"you may complain\") {{ id }} }}")),
        ("refuseDisclosureRequest", format!("{q} {{ refuseDisclosureRequest(tenantId: $a, id: $q, ground: RIGHTS_OF_OTHERS, text: \"refused\", complaintNotice: \" \") {{ id }} }}")),
        ("withdrawDisclosureRequest", format!("{q} {{ withdrawDisclosureRequest(tenantId: $a, id: $q, reason: \"\") {{ id }} }}")),
        ("liftDisclosureRestriction", format!("{q} {{ liftDisclosureRestriction(tenantId: $a, id: $q, reason: \"\") {{ id }} }}")),
        ("createDisclosureRequest", "mutation($a: UUID!) { createDisclosureRequest(tenantId: $a, input: { kind: ERASURE, receivedAt: \"2025-03-01T09:00:00Z\", channel: PHONE, requester: { name: \"Hanako\" }, subject: { numbers: [] } }) { id } }".into()),
        ("createDisclosureRequest", "mutation($a: UUID!) { createDisclosureRequest(tenantId: $a, input: { kind: ERASURE, receivedAt: \"2025-03-01T09:00:00Z\", channel: PHONE, requester: { name: \" \" }, subject: { numbers: [\"+81312345678\"] } }) { id } }".into()),
        ("createDisclosureRequest", "mutation($a: UUID!) { createDisclosureRequest(tenantId: $a, input: { kind: ERASURE, receivedAt: \"2025-03-01T09:00:00Z\", channel: PHONE, requester: { name: \"Hanako\" }, subject: { numbers: [\"+81312345678\"], from: \"2025-02-01T00:00:00Z\", to: \"2025-01-01T00:00:00Z\" } }) { id } }".into()),
        ("disclosureRegister", "query($a: UUID!) { disclosureRegister(tenantId: $a, from: \"2025-02-01\", to: \"2025-01-31\") { requestId } }".into()),
        ("disclosureRegisterCsv", "query($a: UUID!) { disclosureRegisterCsv(tenantId: $a, from: \"2025-02-01\", to: \"2025-01-31\") }".into()),
        ("disclosureRequests", "query($a: UUID!) { disclosureRequests(tenantId: $a, filter: { number: \"\" }) { id } }".into()),
    ]
}

#[tokio::test]
async fn bad_input_is_refused_before_any_call_and_changes_nothing() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    // The compliance officer is decided from the token; the BPO admin would
    // need a tenant lookup, which bad input must not cost either.
    let officers = [
        tenant_user(Role::ComplianceOfficer, w.tenant_a),
        bpo_admin(w.bpo_x),
    ];
    for officer in &officers {
        for (name, query) in bad_inputs() {
            clear(&app);
            let answer = app
                .gql(
                    Some(&token(officer)),
                    &query,
                    variables(&app, Uuid::new_v4()),
                )
                .await;
            assert_eq!(
                error_codes(&answer),
                ["BAD_USER_INPUT"],
                "{name} as {:?}: {answer}",
                officer.role
            );
            assert!(answer["data"].is_null(), "{name}: {answer}");
            assert!(
                app.disclosure.methods().is_empty() && app.metadata.methods().is_empty(),
                "{name} reached {:?} {:?}",
                app.disclosure.methods(),
                app.metadata.methods()
            );
        }
    }
}

#[tokio::test]
async fn arguments_reach_the_service_as_the_contract_says() {
    let app = spawn_app().await;
    let officer = token(&tenant_user(
        Role::ComplianceOfficer,
        app.metadata.world.tenant_a,
    ));
    let request = Uuid::new_v4();
    let sent = |name: &'static str| {
        let app = &app;
        let officer = officer.clone();
        async move {
            clear(app);
            let answer = app
                .gql(Some(&officer), &operation(name), variables(app, request))
                .await;
            assert!(error_codes(&answer).is_empty(), "{name}: {answer}");
            let calls = app.disclosure.calls();
            assert_eq!(calls.len(), 1, "{name}");
            calls[0].request.clone()
        }
    };

    let extend = sent("extendDisclosureDeadline").await;
    assert_eq!(extend["id"], json!(request));
    assert_eq!(
        (extend["months"].clone(), extend["reasons"].clone()),
        (json!(2), json!("complex"))
    );

    let create = sent("createDisclosureRequest").await["request"].clone();
    assert_eq!(create["kind"], "ACCESS");
    assert_eq!(create["channel"], "EMAIL");
    assert_eq!(create["regime"], Value::Null);
    assert_eq!(create["received_at"], "2025-03-01T09:00:00Z");
    // Trimmed; the number is parsed by the service, not here.
    assert_eq!(create["requester"]["name"], "Hanako Yamada");
    assert_eq!(create["subject"]["numbers"], json!(["03-1234-5678"]));

    let spans = sent("setRedactions").await;
    assert_eq!(spans["recording"], json!(app.metadata.world.rec_a1.0));
    assert_eq!(
        spans["spans"],
        json!([{ "channel": "AGENT", "start_ms": 1000, "end_ms": 2000, "mode": "TONE" }])
    );

    let refuse = sent("refuseDisclosureRequest").await;
    assert_eq!(
        refuse["refusal"],
        json!({ "ground": "RIGHTS_OF_OTHERS", "text": "refused", "complaint_notice": "you may complain" })
    );

    let identity = sent("recordIdentityAttempt").await;
    assert_eq!(
        (identity["method"].clone(), identity["verified"].clone()),
        (json!("ID_DOCUMENT"), json!(true))
    );

    let filter = sent("disclosureRequests").await["filter"].clone();
    assert_eq!(
        filter,
        json!({ "state": "IN_REVIEW", "kind": null, "due_before": null, "overdue": true, "number": null })
    );

    let register = sent("disclosureRegister").await;
    assert_eq!(
        (register["from"].clone(), register["to"].clone()),
        (json!("2025-01-01"), json!("2025-12-31"))
    );

    let settings = sent("setDisclosureSettings").await["settings"].clone();
    assert_eq!(settings["default_regime"], "APPI");
    assert_eq!(settings["appi_limit_days"], 10);
    assert_eq!(settings["closed_days"], json!(["2025-12-31"]));
    assert_eq!(
        settings["appi_fee"],
        json!({ "amount": 1000, "currency": "JPY" })
    );
    assert_eq!(
        settings["privacy"]["rights"],
        json!({ "en": "text", "ja": "文" })
    );
}

#[tokio::test]
async fn a_request_answers_every_field_as_the_contract_says() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let auditor = token(&tenant_user(Role::Auditor, w.tenant_a));
    let request = Uuid::new_v4();
    let answer = app
        .gql(
            Some(&auditor),
            "query($a: UUID!, $q: UUID!) { disclosureRequest(tenantId: $a, id: $q) {
                id tenantId kind regime state receivedAt channel method duplicateOf overdue
                requester { name email phone postalAddress }
                subject { numbers from to }
                deadline { dueDate dueAt originalDueDate extendedByMonths extensionReasons clockStoppedDays suePossibleFrom }
                identityAttempts { at method verified recordedBy }
                recordings { recordingId startedAt durationMs direction source included reason
                    redactions { channel startMs endMs mode } pciPauses { channel startMs endMs mode }
                    legalHolds statutory { ruleId ruleName legalBasis } retainUntil }
                transitions { from to at actor role reason }
                preparedBy approvedBy refusal { ground text complaintNotice } fee { amount currency } feePaid
                bundle { id state size sha256 createdAt expiresAt downloads }
                erasure { erased retained { recordingId reason legalHolds statutory { legalBasis } retainUntil } certificateId }
                restrictionActive createdAt updatedAt } }",
            variables(&app, request),
        )
        .await;
    assert!(error_codes(&answer).is_empty(), "{answer}");
    let r = &answer["data"]["disclosureRequest"];
    assert_eq!(r["id"], json!(request));
    assert_eq!(r["tenantId"], json!(w.tenant_a.0));
    assert_eq!(
        [
            &r["kind"],
            &r["regime"],
            &r["state"],
            &r["channel"],
            &r["method"]
        ],
        [
            "ERASURE",
            "GDPR",
            "AWAITING_APPROVAL",
            "WEB_FORM",
            "ELECTRONIC"
        ]
    );
    assert_eq!(r["receivedAt"], "2025-03-04T05:06:07+00:00");
    assert_eq!(r["requester"]["phone"], Value::Null);
    assert_eq!(r["requester"]["postalAddress"], "1-1 Chiyoda, Tokyo");
    assert_eq!(r["subject"]["numbers"], json!(["+81312345678"]));
    assert_eq!(r["deadline"]["dueDate"], "2025-05-04");
    assert_eq!(r["deadline"]["originalDueDate"], "2025-04-04");
    assert_eq!(r["deadline"]["extendedByMonths"], 1);
    assert_eq!(r["deadline"]["clockStoppedDays"], 2);
    assert_eq!(r["identityAttempts"][0]["method"], "CALL_BACK");
    let recording = &r["recordings"][0];
    assert_eq!(recording["recordingId"], json!(w.rec_a1.0));
    // Past 2^31: Int64, sent as a JSON number.
    assert_eq!(recording["durationMs"], json!(3_000_000_000u64));
    assert_eq!(
        recording["pciPauses"],
        json!([{ "channel": "BOTH", "startMs": 2_600_000_000u64, "endMs": 2_600_005_000u64, "mode": "SILENCE" }])
    );
    assert_eq!(
        recording["redactions"],
        json!([{ "channel": "AGENT", "startMs": 1000, "endMs": 2500, "mode": "TONE" }])
    );
    assert_eq!(
        [&recording["direction"], &recording["source"]],
        ["INBOUND", "ADDED"]
    );
    assert_eq!(recording["statutory"]["legalBasis"], "MiFID II art. 16(7)");
    assert_eq!(r["transitions"][0]["from"], Value::Null);
    assert_eq!(r["transitions"][1]["from"], "IN_REVIEW");
    assert_eq!(r["transitions"][1]["to"], "AWAITING_APPROVAL");
    assert_eq!(r["refusal"]["ground"], "SERIOUS_HINDRANCE_TO_BUSINESS");
    assert_eq!(r["fee"], json!({ "amount": 1000, "currency": "JPY" }));
    assert_eq!(r["bundle"]["state"], "READY");
    assert_eq!(r["bundle"]["size"], json!(BUNDLE_SIZE));
    assert_eq!(r["bundle"]["id"], json!(BUNDLE));
    let erasure = &r["erasure"];
    assert_eq!(erasure["erased"], json!([w.rec_a2.0]));
    assert_eq!(erasure["retained"][0]["reason"], "LEGAL_HOLD");
    assert_eq!(
        erasure["retained"][0]["legalHolds"],
        json!([Uuid::from_u128(9)])
    );
    assert_eq!(erasure["retained"][0]["statutory"], Value::Null);
    assert_eq!(erasure["retained"][1]["reason"], "STATUTORY");
    assert_eq!(erasure["retained"][1]["legalHolds"], json!([]));
    assert_eq!(
        erasure["retained"][1]["statutory"]["legalBasis"],
        "MiFID II art. 16(7)"
    );
    assert_eq!(erasure["certificateId"], json!(Uuid::from_u128(12)));

    let register = app
        .gql(
            Some(&auditor),
            "query($a: UUID!) { disclosureRegister(tenantId: $a, from: \"2025-01-01\", to: \"2025-06-30\") { requestId kind regime state receivedAt dueDate extendedByMonths answeredAt outcome onTime } }",
            variables(&app, request),
        )
        .await;
    assert_eq!(
        register["data"]["disclosureRegister"],
        json!([{
            "requestId": Uuid::from_u128(21), "kind": "ACCESS", "regime": "APPI", "state": "REFUSED",
            "receivedAt": "2025-03-04T05:06:07+00:00", "dueDate": "2025-06-30", "extendedByMonths": null,
            "answeredAt": "2025-03-04T05:06:07+00:00", "outcome": "refused:violates_other_laws", "onTime": true
        }]),
        "{register}"
    );
    let settings = app
        .gql(
            Some(&auditor),
            &operation("disclosureSettings"),
            variables(&app, request),
        )
        .await;
    assert_eq!(
        settings["data"]["disclosureSettings"],
        json!({
            "defaultRegime": "APPI", "appiLimitDays": 10, "closedDays": ["2025-12-31"],
            "appiFee": { "amount": 1000, "currency": "JPY" },
            "privacy": { "rights": { "en": "rights (en)", "ja": "rights（日本語）" } }
        }),
        "{settings}"
    );
}

#[tokio::test]
async fn service_errors_pass_through_with_their_code() {
    let app = spawn_app().await;
    let officer = token(&tenant_user(
        Role::ComplianceOfficer,
        app.metadata.world.tenant_a,
    ));
    for (name, message) in [
        (
            "approveDisclosureRequest",
            "the request is not awaiting approval",
        ),
        ("disclosureBundleUrl", "the bundle is not ready"),
    ] {
        let answer = app
            .gql(
                Some(&officer),
                &operation(name),
                variables(&app, CONFLICTING_REQUEST),
            )
            .await;
        assert_eq!(error_codes(&answer), ["CONFLICT"], "{name}: {answer}");
        assert_eq!(answer["errors"][0]["message"], message);
        assert!(answer["data"].is_null(), "{answer}");
    }
}

#[tokio::test]
async fn an_answer_about_another_tenant_or_request_is_refused() {
    let app = spawn_app().await;
    let officer = token(&tenant_user(
        Role::ComplianceOfficer,
        app.metadata.world.tenant_a,
    ));
    app.disclosure.go_rogue(true);
    for name in [
        "disclosureRequest",
        "disclosureRequests",
        "createDisclosureRequest",
        "approveDisclosureRequest",
        "refuseDisclosureRequest",
        "disclosureBundleUrl",
    ] {
        clear(&app);
        let answer = app
            .gql(
                Some(&officer),
                &operation(name),
                variables(&app, Uuid::new_v4()),
            )
            .await;
        assert_eq!(error_codes(&answer), ["INTERNAL"], "{name}: {answer}");
        assert_eq!(answer["errors"][0]["message"], "internal error");
        assert!(answer["data"].is_null(), "{name}: {answer}");
        assert_eq!(app.disclosure.calls().len(), 1, "{name}");
    }
}

/// The exp and sig of a bundle URL for `tenant`'s `bundle` on `base`.
fn split_bundle_url<'u>(url: &'u str, base: &str, tenant: Uuid, bundle: Uuid) -> (u64, &'u str) {
    let prefix = format!("{base}/v1/disclosure/bundles/{tenant}/{bundle}?exp=");
    let rest = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected url {url}"));
    let (exp, sig) = rest.split_once("&sig=").expect("exp then sig");
    (exp.parse().expect("exp is unix seconds"), sig)
}

#[tokio::test]
async fn the_bundle_url_is_signed_for_bundles_only() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let officer = token(&tenant_user(Role::ComplianceOfficer, w.tenant_a));
    let request = Uuid::new_v4();
    let before = now();
    let answer = app
        .gql(
            Some(&officer),
            &operation("disclosureBundleUrl"),
            variables(&app, request),
        )
        .await;
    assert!(error_codes(&answer).is_empty(), "{answer}");
    let link = &answer["data"]["disclosureBundleUrl"];
    assert_eq!(link["fileName"], "disclosure-2025-0001.zip");
    assert_eq!(link["size"], json!(BUNDLE_SIZE));
    assert_eq!(link["sha256"], "cd".repeat(32));
    // Authorised (and audited by the service) for this request, once.
    let calls = app.disclosure.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].request["id"], json!(request));

    let url = link["url"].as_str().expect("a url");
    let (expires_at, sig) = split_bundle_url(url, PLAYBACK_BASE, w.tenant_a.0, BUNDLE);
    assert!(
        (before + PLAYBACK_TTL..=now() + PLAYBACK_TTL).contains(&expires_at),
        "{url}"
    );
    let expected_expiry =
        chrono::DateTime::from_timestamp(i64::try_from(expires_at).expect("fits"), 0)
            .expect("a time");
    let said: chrono::DateTime<chrono::Utc> = link["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .parse()
        .expect("rfc 3339");
    assert_eq!(said, expected_expiry);

    let bundle = Grant {
        operation: Operation::Bundle,
        tenant: w.tenant_a.0.to_string(),
        recording: BUNDLE.to_string(),
        expires_at,
    };
    assert_eq!(app.signer.verify(&bundle, sig, now()), Ok(()));
    assert_eq!(
        app.signer.verify(&bundle, sig, expires_at + 1),
        Err(UrlError::Expired)
    );
    // Not a playback URL, nor a bundle URL of another tenant.
    for other in [
        Grant {
            operation: Operation::Playback,
            ..bundle.clone()
        },
        Grant {
            tenant: w.tenant_b.0.to_string(),
            ..bundle.clone()
        },
    ] {
        assert_eq!(
            app.signer.verify(&other, sig, now()),
            Err(UrlError::BadSignature),
            "{other:?}"
        );
    }
}

#[test]
fn bundle_links_use_their_own_base_when_given_one() {
    let signer = UrlSigner::new(URL_SECRET).expect("signer");
    let (tenant, bundle) = (Uuid::new_v4(), Uuid::new_v4());
    let grant = Grant {
        operation: Operation::Bundle,
        tenant: tenant.to_string(),
        recording: bundle.to_string(),
        expires_at: 1_700_000_000,
    };
    assert_eq!(
        bundle_path(&signer, tenant, bundle, 1_700_000_000),
        format!(
            "/v1/disclosure/bundles/{tenant}/{bundle}?{}",
            signer.query(&grant)
        )
    );

    let links = PlaybackLinks::new(signer.clone(), "http://x:8080", 60).expect("links");
    // The embedded default: the playback base.
    let same = links.bundle_url_at(tenant, bundle, 100);
    assert_eq!(same.expires_at, 160);
    assert_eq!(
        split_bundle_url(&same.url, "http://x:8080", tenant, bundle).0,
        160
    );
    let own = links
        .clone()
        .with_bundle_base("https://disclosure.test/")
        .expect("bundle base");
    let url = own.bundle_url_at(tenant, bundle, 100).url;
    let (_, sig) = split_bundle_url(&url, "https://disclosure.test", tenant, bundle);
    assert_eq!(
        signer.verify(
            &Grant {
                expires_at: 160,
                ..grant
            },
            sig,
            100
        ),
        Ok(())
    );
    // Playback URLs stay on the playback base.
    assert!(
        own.url_at(tenant, bundle, 100)
            .starts_with("http://x:8080/v1/playback/")
    );
    assert_eq!(
        links.with_bundle_base("ftp://x").err(),
        Some(StateError::BundleBaseUrl)
    );
}

#[tokio::test]
async fn every_disclosure_field_argument_and_value_is_documented() {
    // The descriptions are the public SDL the acceptance tests read.
    let sdl = callvault_gateway::sdl();
    for needle in [
        "disclosureSettings(\n\t\t\"\"\"\n\t\tThe tenant.\n\t\t\"\"\"\n\t\ttenantId: UUID!\n\t): DisclosureSettings!",
        "disclosureBundleUrl(",
        "type DisclosureBundleUrl {",
        "enum DisclosureState {",
        "durationMs: Int64!",
        "dueBefore: NaiveDate",
    ] {
        assert!(sdl.contains(needle), "sdl lacks `{needle}`");
    }
    let app = spawn_app().await;
    let answer = app
        .gql(
            None,
            "{ __schema { types { name description
                fields { name description args { name description } }
                inputFields { name description }
                enumValues { name description } } } }",
            json!({}),
        )
        .await;
    let disclosure_types = [
        "RequestKind",
        "Regime",
        "DisclosureState",
        "IntakeChannel",
        "DisclosureMethod",
        "IdentityMethod",
        "SpanChannel",
        "RedactionMode",
        "RecordingSource",
        "RefusalGround",
        "BundleState",
        "RetainedReason",
        "RequesterContact",
        "SubjectIdentifiers",
        "Deadline",
        "IdentityAttempt",
        "RedactionSpan",
        "StatutoryRetention",
        "RequestRecording",
        "Transition",
        "Refusal",
        "Fee",
        "DisclosureBundle",
        "RetainedRecording",
        "ErasureOutcome",
        "DisclosureRequest",
        "RegisterEntry",
        "DisclosureBundleUrl",
        "Bilingual",
        "PrivacyNotice",
        "DisclosureSettings",
        "BilingualInput",
        "PrivacyNoticeInput",
        "FeeInput",
        "DisclosureSettingsInput",
        "RequesterContactInput",
        "SubjectIdentifiersInput",
        "CreateDisclosureRequestInput",
        "DisclosureRequestFilter",
        "RedactionSpanInput",
    ];
    let disclosure_fields: Vec<&str> = EXPECTED.iter().map(|(name, _, _)| *name).collect();
    let documented = |value: &Value| {
        value["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    let mut undocumented = Vec::new();
    let types = answer["data"]["__schema"]["types"]
        .as_array()
        .expect("types");
    for ty in types {
        let name = ty["name"].as_str().expect("type name");
        let whole_type = disclosure_types.contains(&name);
        if whole_type && !documented(ty) {
            undocumented.push(name.to_owned());
        }
        let members = |key: &str| ty[key].as_array().cloned().unwrap_or_default();
        for field in members("fields") {
            let field_name = field["name"].as_str().expect("field name");
            let root_field =
                matches!(name, "Query" | "Mutation") && disclosure_fields.contains(&field_name);
            if !(whole_type || root_field) {
                continue;
            }
            if !documented(&field) {
                undocumented.push(format!("{name}.{field_name}"));
            }
            for arg in field["args"].as_array().cloned().unwrap_or_default() {
                if !documented(&arg) {
                    undocumented.push(format!("{name}.{field_name}({})", arg["name"]));
                }
            }
        }
        if whole_type {
            for member in members("inputFields")
                .into_iter()
                .chain(members("enumValues"))
            {
                if !documented(&member) {
                    undocumented.push(format!("{name}.{}", member["name"]));
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
    for ty in disclosure_types {
        assert!(
            types.iter().any(|t| t["name"] == ty),
            "{ty} is not in the schema"
        );
    }
}
