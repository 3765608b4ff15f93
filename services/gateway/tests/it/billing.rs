//! The billing API at the gateway: every billing query and mutation
//! against every kind of caller, input checks that change nothing, and the
//! arguments as they reach the billing service.
//!
//! Nothing here fakes the billing service. The gateway's own decision —
//! refuse before any call, or send the operation the field names as the
//! caller — is read off the bus (`support::bus`), whether or not anything
//! serves the billing queue; what the real service (`callvault_billing`)
//! answers each caller, and a month billed end to end, are in
//! `billing/service.rs`.

mod documented;
mod inputs;
mod service;

use callvault_contracts::{Actor, Role};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    TestApp, bpo_admin, error_codes, platform_admin, spawn_app, tenant_user, token,
};

/// Callers, in column order: platform admin, BPO X admin, BPO Y admin,
/// tenant A's admin, tenant B's admin, then tenant A's supervisor, agent,
/// compliance officer and auditor. Tenants A (the one asked about) and B
/// belong to BPO X.
pub const COLUMNS: &str = "PA BX BY TA TB SU AG CO AU";

/// Row, and per column: `Y` answered; `n` FORBIDDEN by the gateway with
/// nothing sent to billing; `N` NOT_FOUND and `F` FORBIDDEN from the
/// billing service, which the gateway let the call through to (an id's
/// owner is the service's to know). Then the billing operation any but `n`
/// sends. Written out from the permission table (PERMISSIONS.md),
/// independently of the code.
///
/// A row is named after its field, with a `:variant` when the field is
/// asked of another kind of account or object.
pub const EXPECTED: [(&str, &str, &str); 30] = [
    ("billingProfile", "n Y n Y n n n n Y", "billing_profile"),
    ("billingProfile:bpo", "Y Y n n n n n n n", "billing_profile"),
    (
        "billingProfile:platform",
        "Y n n n n n n n n",
        "billing_profile",
    ),
    ("plans", "n Y n n n n n n n", "plans"),
    ("plans:wholesale", "Y n n n n n n n n", "plans"),
    ("plan", "N Y N n n n n n n", "plan"),
    ("plan:wholesale", "Y N N n n n n n n", "plan"),
    ("planAssignments", "n Y n Y n n n n Y", "plan_assignments"),
    (
        "planAssignments:bpo",
        "Y Y n n n n n n n",
        "plan_assignments",
    ),
    ("usage", "n Y n Y n n n n Y", "usage"),
    ("usage:bpo", "Y Y n n n n n n n", "usage"),
    ("invoices", "n Y n Y n n n n Y", "invoices"),
    ("invoices:mine", "Y Y Y Y Y n n n Y", "invoices"),
    ("invoice", "N Y N Y N n n n Y", "invoice"),
    ("invoice:wholesale", "Y Y N N N n n n N", "invoice"),
    ("invoiceCsv", "N Y N Y N n n n Y", "render_invoice"),
    ("invoicePdf", "N Y N Y N n n n Y", "render_invoice"),
    ("bpoStatement", "Y Y n n n n n n n", "bpo_statement"),
    (
        "setBillingProfile",
        "n Y n n n n n n n",
        "set_billing_profile",
    ),
    (
        "setBillingProfile:bpo",
        "n Y n n n n n n n",
        "set_billing_profile",
    ),
    (
        "setBillingProfile:platform",
        "Y n n n n n n n n",
        "set_billing_profile",
    ),
    ("createPlan", "n Y n n n n n n n", "create_plan"),
    ("createPlan:wholesale", "Y n n n n n n n n", "create_plan"),
    ("updatePlan", "N Y N n n n n n n", "update_plan"),
    ("updatePlan:wholesale", "Y N N n n n n n n", "update_plan"),
    ("assignPlan", "n Y n n n n n n n", "assign_plan"),
    ("assignPlan:bpo", "Y n n n n n n n n", "assign_plan"),
    ("finalizeInvoice", "N Y N n n n n n n", "finalize_invoice"),
    (
        "finalizeInvoice:wholesale",
        "Y F N n n n n n n",
        "finalize_invoice",
    ),
    ("reconcileStorage", "Y n n n n n n n n", "reconcile_storage"),
];

/// The GraphQL field a row asks.
pub fn field(row: &str) -> &str {
    row.split(':').next().unwrap_or(row)
}

/// A plan's terms, every charge model in it.
pub const PLAN_TERMS: &str = "name: \"Standard\", currency: \"JPY\", baseFee: 10000, taxRate: \"10\", charges: [\
    { meter: INGESTED_SECONDS, unit: MINUTE, included: \"600\", model: { model: GRADUATED, tiers: [{ upTo: \"1000\", unitPrice: \"2\" }, { unitPrice: \"1.5\" }] } }, \
    { meter: STORAGE_GB_MONTHS, unit: GB_MONTH, model: { model: PER_UNIT, unitPrice: \"30\" } }, \
    { meter: RECORDINGS, unit: RECORDING, model: { model: PACKAGE, packageSize: \"1000\", packagePrice: \"500\" }, taxRate: \"8\" }, \
    { meter: ACTIVE_USERS, unit: USER, model: { model: VOLUME, tiers: [{ upTo: \"10\", unitPrice: \"1000\" }, { unitPrice: \"800\" }] } }]";

pub const PLAN_FIELDS: &str = "id version level bpoId name currency baseFee taxRate \
    charges { meter unit included taxRate model { model unitPrice tiers { upTo unitPrice } packageSize packagePrice } } \
    createdAt createdBy";

pub const INVOICE_FIELDS: &str = "id status number level account { kind id } issuer { kind id } \
    issuerProfile { legalName address registrationNumber invoicePrefix rounding } recipientProfile { legalName } \
    planId planVersion currency timeZone periodFirstDay periodLastDay periodStart periodEnd finalizeAfter finalizedAt \
    lines { kind meter description quantity unit tiers { from upTo quantity unitPrice amount } amount taxRate originalDate } \
    taxes { rate subtotal tax } subtotal tax total";

const PROFILE_FIELDS: &str = "legalName address registrationNumber invoicePrefix rounding";

pub const PROFILE_INPUT: &str = "{ legalName: \"Acme K.K.\", address: \"1-1 Chiyoda, Tokyo\", registrationNumber: \"T1234567890123\" }";

/// A valid operation for each row. `$a` is tenant A, `$b` BPO X, `$r` a
/// retail plan of BPO X, `$w` a wholesale plan, `$i` an invoice of tenant
/// A, `$j` one of BPO X.
pub fn operation(row: &str) -> String {
    let plan = PLAN_FIELDS;
    let invoice = INVOICE_FIELDS;
    let profile = PROFILE_FIELDS;
    let terms = PLAN_TERMS;
    let usage = "date start end meters { meter quantity unit }";
    let assignment = "account { kind id } planId effectiveFrom timeZone assignedAt assignedBy";
    match row {
        "billingProfile" => format!("query($a: UUID!) {{ billingProfile(party: {{ kind: TENANT, id: $a }}) {{ {profile} }} }}"),
        "billingProfile:bpo" => format!("query($b: UUID!) {{ billingProfile(party: {{ kind: BPO, id: $b }}) {{ {profile} }} }}"),
        "billingProfile:platform" => format!("{{ billingProfile(party: {{ kind: PLATFORM }}) {{ {profile} }} }}"),
        "plans" => format!("query($b: UUID!) {{ plans(bpoId: $b) {{ {plan} }} }}"),
        "plans:wholesale" => format!("{{ plans {{ {plan} }} }}"),
        "plan" => format!("query($r: UUID!) {{ plan(id: $r) {{ {plan} }} }}"),
        "plan:wholesale" => format!("query($w: UUID!) {{ plan(id: $w, version: 1) {{ {plan} }} }}"),
        "planAssignments" => format!("query($a: UUID!) {{ planAssignments(account: {{ kind: TENANT, id: $a }}) {{ {assignment} }} }}"),
        "planAssignments:bpo" => format!("query($b: UUID!) {{ planAssignments(account: {{ kind: BPO, id: $b }}) {{ {assignment} }} }}"),
        "usage" => format!("query($a: UUID!) {{ usage(tenantId: $a, from: \"2025-03-01\", to: \"2025-03-31\", granularity: DAY) {{ {usage} }} }}"),
        "usage:bpo" => format!("query($b: UUID!) {{ usage(bpoId: $b, from: \"2025-01-01\", to: \"2025-03-31\", granularity: MONTH) {{ {usage} }} }}"),
        "invoices" => format!("query($a: UUID!) {{ invoices(filter: {{ account: {{ kind: TENANT, id: $a }}, from: \"2025-01-01\", to: \"2025-12-31\" }}) {{ {invoice} }} }}"),
        "invoices:mine" => format!("{{ invoices {{ {invoice} }} }}"),
        "invoice" => format!("query($i: UUID!) {{ invoice(id: $i) {{ {invoice} }} }}"),
        "invoice:wholesale" => format!("query($j: UUID!) {{ invoice(id: $j) {{ {invoice} }} }}"),
        "invoiceCsv" => "query($i: UUID!) { invoiceCsv(id: $i) }".into(),
        "invoicePdf" => "query($i: UUID!) { invoicePdf(id: $i) }".into(),
        "bpoStatement" => "query($b: UUID!) { bpoStatement(bpoId: $b, month: \"2025-03-15\") { bpoId month clients { tenantId invoice { id total } } wholesale { id total } margins { currency retailSubtotal wholesaleSubtotal margin } } }".into(),
        "setBillingProfile" => format!("mutation($a: UUID!) {{ setBillingProfile(party: {{ kind: TENANT, id: $a }}, profile: {{ legalName: \"Client A K.K.\", address: \"2-2 Minato, Tokyo\" }}) {{ {profile} }} }}"),
        "setBillingProfile:bpo" => format!("mutation($b: UUID!) {{ setBillingProfile(party: {{ kind: BPO, id: $b }}, profile: {PROFILE_INPUT}) {{ {profile} }} }}"),
        "setBillingProfile:platform" => format!("mutation {{ setBillingProfile(party: {{ kind: PLATFORM }}, profile: {{ legalName: \"Callvault Inc.\", address: \"3-3 Shibuya, Tokyo\", registrationNumber: \"T9876543210987\", invoicePrefix: \"CV\", rounding: HALF_UP }}) {{ {profile} }} }}"),
        "createPlan" => format!("mutation($b: UUID!) {{ createPlan(input: {{ level: RETAIL, bpoId: $b, {terms} }}) {{ {plan} }} }}"),
        "createPlan:wholesale" => format!("mutation {{ createPlan(input: {{ level: WHOLESALE, {terms} }}) {{ {plan} }} }}"),
        "updatePlan" => format!("mutation($r: UUID!) {{ updatePlan(id: $r, input: {{ {terms} }}) {{ {plan} }} }}"),
        "updatePlan:wholesale" => format!("mutation($w: UUID!) {{ updatePlan(id: $w, input: {{ {terms} }}) {{ {plan} }} }}"),
        "assignPlan" => format!("mutation($a: UUID!, $r: UUID!) {{ assignPlan(account: {{ kind: TENANT, id: $a }}, planId: $r) {{ {assignment} }} }}"),
        "assignPlan:bpo" => format!("mutation($b: UUID!, $w: UUID!) {{ assignPlan(account: {{ kind: BPO, id: $b }}, planId: $w, timeZone: \"Asia/Tokyo\") {{ {assignment} }} }}"),
        "finalizeInvoice" => format!("mutation($i: UUID!) {{ finalizeInvoice(id: $i) {{ {invoice} }} }}"),
        "finalizeInvoice:wholesale" => format!("mutation($j: UUID!) {{ finalizeInvoice(id: $j) {{ {invoice} }} }}"),
        "reconcileStorage" => "mutation { reconcileStorage(day: \"2025-03-02\") { tenantId from to billedByteSeconds storedByteSeconds matches } }".into(),
        other => panic!("no operation {other}"),
    }
}

pub fn callers(app: &TestApp) -> Vec<(&'static str, Actor)> {
    let w = &app.metadata.world;
    COLUMNS
        .split(' ')
        .zip([
            platform_admin(),
            bpo_admin(w.bpo_x),
            bpo_admin(w.bpo_y),
            tenant_user(Role::TenantAdmin, w.tenant_a),
            tenant_user(Role::TenantAdmin, w.tenant_b),
            tenant_user(Role::Supervisor, w.tenant_a),
            tenant_user(Role::Agent, w.tenant_a),
            tenant_user(Role::ComplianceOfficer, w.tenant_a),
            tenant_user(Role::Auditor, w.tenant_a),
        ])
        .collect()
}

/// The ids the operations name.
pub struct Ids {
    pub retail_plan: Uuid,
    pub wholesale_plan: Uuid,
    pub tenant_invoice: Uuid,
    pub bpo_invoice: Uuid,
}

impl Ids {
    pub fn random() -> Self {
        Self {
            retail_plan: Uuid::new_v4(),
            wholesale_plan: Uuid::new_v4(),
            tenant_invoice: Uuid::new_v4(),
            bpo_invoice: Uuid::new_v4(),
        }
    }
}

pub fn variables(app: &TestApp, ids: &Ids) -> Value {
    let w = &app.metadata.world;
    json!({
        "a": w.tenant_a.0,
        "b": w.bpo_x.0,
        "r": ids.retail_plan,
        "w": ids.wholesale_plan,
        "i": ids.tenant_invoice,
        "j": ids.bpo_invoice,
    })
}

/// Keeps only the variables `query` declares (GraphQL refuses others
/// nowhere, but an unused one reads as a mistake in a failure message).
pub fn used(query: &str, variables: &Value) -> Value {
    let mut kept = serde_json::Map::new();
    if let Some(all) = variables.as_object() {
        for (name, value) in all {
            if query.contains(&format!("${name}:")) {
                kept.insert(name.clone(), value.clone());
            }
        }
    }
    Value::Object(kept)
}

pub fn clear(app: &TestApp) {
    app.metadata.clear();
    app.lifecycle.clear();
    app.disclosure.clear();
    app.bus.clear();
}

/// Calls outside billing that aren't the tenant lookup deciding access.
pub fn reached_beyond_lookups(app: &TestApp) -> Vec<String> {
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
async fn the_gateway_lets_through_exactly_the_callers_the_table_allows() {
    // No billing service here: a call let through fails UNAVAILABLE, but
    // it was sent, as the caller, and that is the gateway's decision.
    let app = spawn_app().await;
    let ids = Ids::random();
    let mut mismatches = Vec::new();
    for (row, expected_row, op) in EXPECTED {
        let query = operation(row);
        for ((column, actor), expected) in callers(&app).iter().zip(expected_row.split(' ')) {
            clear(&app);
            let answer = app
                .gql(
                    Some(&token(actor)),
                    &query,
                    used(&query, &variables(&app, &ids)),
                )
                .await;
            let sent = app.bus.sent_to("billing");
            let as_caller = |seen: &Option<Actor>| {
                seen.as_ref()
                    .is_some_and(|seen| seen.subject == actor.subject && seen.role == actor.role)
            };
            let consistent = match expected {
                "n" => {
                    error_codes(&answer) == ["FORBIDDEN"]
                        && answer["data"].is_null()
                        && sent.is_empty()
                        && reached_beyond_lookups(&app).is_empty()
                }
                _ => {
                    matches!(sent.as_slice(), [call] if call.op == op && as_caller(&call.actor()))
                        && error_codes(&answer) != ["FORBIDDEN"]
                }
            };
            if !consistent {
                mismatches.push(format!(
                    "{row} as {column}: expected {expected}, got {answer}, billing was sent {:?}",
                    sent.iter().map(|s| s.op.as_str()).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn no_token_or_a_recorder_key_is_unauthenticated_and_reaches_nothing() {
    let app = spawn_app().await;
    let ids = Ids::random();
    // A recorder's API key is for uploads; the gateway takes user tokens only.
    let recorder_key = "cvk_abcd_0123456789abcdef0123456789abcdef";
    for (row, _, _) in EXPECTED {
        for bearer in [None, Some(recorder_key)] {
            clear(&app);
            let query = operation(row);
            let answer = app
                .gql(bearer, &query, used(&query, &variables(&app, &ids)))
                .await;
            assert_eq!(
                error_codes(&answer),
                ["UNAUTHENTICATED"],
                "{row} with {bearer:?}: {answer}"
            );
            assert!(app.bus.sent_to("billing").is_empty(), "{row}");
            assert!(app.metadata.methods().is_empty(), "{row}");
        }
    }
    assert!(app.bus.published("user.active").is_empty());
}

#[tokio::test]
async fn another_tenants_or_bpos_account_is_forbidden_before_any_call() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let reads = [
        "query($t: UUID!) { usage(tenantId: $t, from: \"2025-03-01\", to: \"2025-03-01\", granularity: DAY) { date } }",
        "query($t: UUID!) { invoices(filter: { account: { kind: TENANT, id: $t } }) { id } }",
        "query($t: UUID!) { planAssignments(account: { kind: TENANT, id: $t }) { planId } }",
        "query($t: UUID!) { billingProfile(party: { kind: TENANT, id: $t }) { legalName } }",
    ];
    // Tenant B's admin and auditor on tenant A.
    for role in [Role::TenantAdmin, Role::Auditor] {
        let intruder = token(&tenant_user(role, w.tenant_b));
        for query in reads {
            clear(&app);
            let answer = app
                .gql(Some(&intruder), query, json!({ "t": w.tenant_a.0 }))
                .await;
            assert_eq!(
                error_codes(&answer),
                ["FORBIDDEN"],
                "{role:?} {query}: {answer}"
            );
            assert!(answer["data"].is_null(), "{answer}");
            assert!(app.bus.sent_to("billing").is_empty());
            assert!(app.metadata.methods().is_empty(), "decided from the token");
        }
    }
    // BPO X's admin on tenant C (BPO Y's) and on a tenant that doesn't
    // exist: the same FORBIDDEN, after the lookup that told.
    let admin_x = token(&bpo_admin(w.bpo_x));
    for tenant in [w.tenant_c.0, Uuid::new_v4()] {
        for query in reads {
            clear(&app);
            let answer = app.gql(Some(&admin_x), query, json!({ "t": tenant })).await;
            assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{query}: {answer}");
            assert_eq!(app.metadata.methods(), ["get_tenant"]);
            assert!(app.bus.sent_to("billing").is_empty());
        }
    }
    // And on BPO Y itself.
    for query in [
        "query($b: UUID!) { usage(bpoId: $b, from: \"2025-03-01\", to: \"2025-03-01\", granularity: DAY) { date } }",
        "query($b: UUID!) { bpoStatement(bpoId: $b, month: \"2025-03-01\") { bpoId } }",
        "query($b: UUID!) { plans(bpoId: $b) { id } }",
        "mutation($b: UUID!) { createPlan(input: { level: RETAIL, bpoId: $b, name: \"x\", currency: \"JPY\", baseFee: 0, taxRate: \"10\", charges: [] }) { id } }",
    ] {
        clear(&app);
        let answer = app
            .gql(Some(&admin_x), query, json!({ "b": w.bpo_y.0 }))
            .await;
        assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{query}: {answer}");
        assert!(app.bus.sent_to("billing").is_empty());
        assert!(app.metadata.methods().is_empty());
    }
}
