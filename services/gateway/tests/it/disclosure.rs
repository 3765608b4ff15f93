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

mod bundle;
mod documented;
mod mapping;

use callvault_contracts::{Actor, Role};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    TestApp, bpo_admin, error_codes, platform_admin, spawn_app, tenant_user, token,
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
