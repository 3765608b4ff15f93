//! The billing API through the gateway and the REAL billing service: a
//! month set up, metered, invoiced and finalized with GraphQL alone, what
//! every caller gets for every field (answered, or refused by whom), and
//! the service's own refusals passed on with their codes.

use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use callvault_contracts::{Actor, Role};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{EXPECTED, Ids, callers, clear, field, operation, reached_beyond_lookups, used};
use crate::support::billing::{BillingApp, spawn};
use crate::support::{bpo_admin, error_codes, platform_admin, tenant_user, token};

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("a valid time")
}

fn data(answer: &Value) -> &Value {
    assert!(answer["errors"].is_null(), "{answer}");
    &answer["data"]
}

fn id(value: &Value) -> Uuid {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("an id: {value}"))
}

async fn ask(app: &BillingApp, who: &Actor, query: &str, ids: &Ids) -> Value {
    let variables = used(query, &super::variables(app, ids));
    app.gql(Some(&token(who)), query, variables).await
}

/// March 2025, set up through the gateway: the platform's profile and a
/// wholesale plan BPO X is on; BPO X's profile, tenant A's, and a retail
/// plan tenant A is on; three of tenant A's people active on 12 March;
/// then the clock on 10 April, March over.
async fn billed_march() -> (BillingApp, Ids) {
    let app = spawn(at(2025, 3, 10, 0)).await;
    let w = &app.metadata.world;
    let platform = platform_admin();
    let admin_x = bpo_admin(w.bpo_x);
    let mut ids = Ids::random();

    let setup = |who: &Actor, row: &str| (who.clone(), operation(row));
    for (who, query) in [
        setup(&platform, "setBillingProfile:platform"),
        setup(&admin_x, "setBillingProfile:bpo"),
        setup(&admin_x, "setBillingProfile"),
    ] {
        data(&ask(&app, &who, &query, &ids).await);
    }
    let wholesale = ask(&app, &platform, &operation("createPlan:wholesale"), &ids).await;
    ids.wholesale_plan = id(&data(&wholesale)["createPlan"]["id"]);
    let retail = ask(&app, &admin_x, &operation("createPlan"), &ids).await;
    ids.retail_plan = id(&data(&retail)["createPlan"]["id"]);
    data(&ask(&app, &platform, &operation("assignPlan:bpo"), &ids).await);
    data(&ask(&app, &admin_x, &operation("assignPlan"), &ids).await);

    // Tenant A's people use the gateway on 12 March; billing counts the
    // gateway's user.active.
    app.clock
        .store(at(2025, 3, 12, 9).timestamp(), Ordering::SeqCst);
    for role in [Role::TenantAdmin, Role::Auditor, Role::Supervisor] {
        let person = tenant_user(role, w.tenant_a);
        data(
            &app.gql(Some(&token(&person)), "{ me { role } }", json!({}))
                .await,
        );
    }
    assert_eq!(app.bus.wait_for("user.active", 3).await.len(), 3);
    app.count_user_activity().await;

    app.billing_now(at(2025, 4, 10, 0));
    let march = |kind: &str| {
        format!(
            "query($id: UUID!) {{ invoices(filter: {{ account: {{ kind: {kind}, id: $id }}, from: \"2025-03-01\", to: \"2025-03-01\" }}) {{ id periodFirstDay }} }}"
        )
    };
    let tenant = app
        .gql(
            Some(&token(&admin_x)),
            &march("TENANT"),
            json!({ "id": w.tenant_a.0 }),
        )
        .await;
    let tenant = data(&tenant)["invoices"].clone();
    assert_eq!(tenant.as_array().map(Vec::len), Some(1), "{tenant}");
    ids.tenant_invoice = id(&tenant[0]["id"]);
    let bpo = app
        .gql(
            Some(&token(&platform)),
            &march("BPO"),
            json!({ "id": w.bpo_x.0 }),
        )
        .await;
    let bpo = data(&bpo)["invoices"].clone();
    assert_eq!(bpo.as_array().map(Vec::len), Some(1), "{bpo}");
    ids.bpo_invoice = id(&bpo[0]["id"]);
    (app, ids)
}

#[tokio::test]
async fn every_billing_field_against_every_caller_answers_as_the_table_says() {
    let (app, ids) = billed_march().await;
    let mut mismatches = Vec::new();
    for (row, expected_row, op) in EXPECTED {
        let query = operation(row);
        for ((column, actor), expected) in callers(&app).iter().zip(expected_row.split(' ')) {
            clear(&app);
            let answer = ask(&app, actor, &query, &ids).await;
            let codes = error_codes(&answer);
            let sent = app.bus.sent_to("billing");
            let sent_as_caller = matches!(sent.as_slice(), [call]
                if call.op == op
                    && call.actor().is_some_and(|seen| seen.subject == actor.subject && seen.role == actor.role));
            let refused_by_gateway = sent.is_empty() && reached_beyond_lookups(&app).is_empty();
            let outcome = match codes.as_slice() {
                [] if !answer["data"][field(row)].is_null() && sent_as_caller => "Y",
                [code] if code == "FORBIDDEN" && refused_by_gateway => "n",
                [code] if code == "NOT_FOUND" && sent_as_caller => "N",
                [code] if code == "FORBIDDEN" && sent_as_caller => "F",
                _ => "?",
            };
            let partial = !codes.is_empty() && !answer["data"].is_null();
            if outcome != expected || partial {
                mismatches.push(format!(
                    "{row} as {column}: expected {expected}, got {outcome}: {answer}, billing was sent {:?}",
                    sent.iter().map(|s| s.op.as_str()).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn a_tenants_month_is_metered_invoiced_and_finalized_through_the_gateway() {
    let (app, ids) = billed_march().await;
    let w = &app.metadata.world;
    let admin_x = bpo_admin(w.bpo_x);
    let tenant_admin = tenant_user(Role::TenantAdmin, w.tenant_a);
    let auditor = tenant_user(Role::Auditor, w.tenant_a);

    // The plan as created: decimals as strings, money as numbers.
    let plans = ask(&app, &admin_x, &operation("plans"), &ids).await;
    let plan = &data(&plans)["plans"][0];
    assert_eq!(id(&plan["id"]), ids.retail_plan);
    assert_eq!(
        (
            plan["level"].clone(),
            plan["bpoId"].clone(),
            plan["currency"].clone()
        ),
        (json!("RETAIL"), json!(w.bpo_x.0), json!("JPY"))
    );
    assert_eq!(
        (plan["baseFee"].clone(), plan["taxRate"].clone()),
        (json!(10000), json!("10"))
    );
    assert_eq!(
        plan["charges"][0],
        json!({ "meter": "INGESTED_SECONDS", "unit": "MINUTE", "included": "600", "taxRate": null,
                "model": { "model": "GRADUATED", "unitPrice": null, "packageSize": null, "packagePrice": null,
                           "tiers": [{ "upTo": "1000", "unitPrice": "2" }, { "upTo": null, "unitPrice": "1.5" }] } })
    );
    assert_eq!(
        plan["charges"][2]["model"],
        json!({ "model": "PACKAGE", "unitPrice": null, "tiers": null, "packageSize": "1000", "packagePrice": "500" })
    );

    // Three people were active on 12 March (Tokyo), none on the 13th.
    let usage = app
        .gql(
            Some(&token(&auditor)),
            "query($a: UUID!) { usage(tenantId: $a, from: \"2025-03-12\", to: \"2025-03-13\", granularity: DAY) { date start meters { meter quantity unit } } }",
            json!({ "a": w.tenant_a.0 }),
        )
        .await;
    let buckets = data(&usage)["usage"].clone();
    assert_eq!(buckets.as_array().map(Vec::len), Some(2), "{buckets}");
    assert_eq!(buckets[0]["date"], "2025-03-12");
    assert_eq!(buckets[0]["start"], "2025-03-11T15:00:00+00:00");
    let active = |bucket: &Value| {
        bucket["meters"]
            .as_array()
            .and_then(|meters| meters.iter().find(|m| m["meter"] == "ACTIVE_USERS"))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        active(&buckets[0]),
        json!({ "meter": "ACTIVE_USERS", "quantity": "3", "unit": "USER" })
    );
    assert_eq!(active(&buckets[1])["quantity"], "0");
    assert_eq!(buckets[0]["meters"].as_array().map(Vec::len), Some(6));

    // March's draft, as the tenant admin reads it.
    let invoice = ask(&app, &tenant_admin, &operation("invoice"), &ids).await;
    let invoice = data(&invoice)["invoice"].clone();
    assert_eq!(
        (
            invoice["status"].clone(),
            invoice["number"].clone(),
            invoice["level"].clone()
        ),
        (json!("DRAFT"), json!(null), json!("RETAIL"))
    );
    assert_eq!(
        invoice["account"],
        json!({ "kind": "TENANT", "id": w.tenant_a.0 })
    );
    assert_eq!(invoice["issuer"], json!({ "kind": "BPO", "id": w.bpo_x.0 }));
    assert_eq!(
        invoice["issuerProfile"]["registrationNumber"],
        "T1234567890123"
    );
    assert_eq!(invoice["recipientProfile"]["legalName"], "Client A K.K.");
    assert_eq!(
        (
            invoice["periodFirstDay"].clone(),
            invoice["periodLastDay"].clone(),
            invoice["timeZone"].clone()
        ),
        (
            json!("2025-03-01"),
            json!("2025-03-31"),
            json!("Asia/Tokyo")
        )
    );
    let lines = invoice["lines"].as_array().cloned().unwrap_or_default();
    let base = lines
        .iter()
        .find(|l| l["kind"] == "BASE_FEE")
        .expect("a base fee line");
    assert_eq!(base["amount"], 10000);
    let users = lines
        .iter()
        .find(|l| l["meter"] == "ACTIVE_USERS")
        .expect("an active users line");
    // VOLUME: all 3 at the first tier's 1000 yen.
    assert_eq!(
        (users["quantity"].clone(), users["amount"].clone()),
        (json!("3"), json!(3000))
    );
    let number = |v: &Value| v.as_i64().expect("an amount");
    assert_eq!(
        number(&invoice["subtotal"]) + number(&invoice["tax"]),
        number(&invoice["total"])
    );
    assert_eq!(number(&invoice["subtotal"]), 13000);
    assert_eq!(number(&invoice["tax"]), 1300);

    // The same invoice as CSV text and as a PDF in base64.
    let csv = ask(&app, &auditor, &operation("invoiceCsv"), &ids).await;
    let csv = data(&csv)["invoiceCsv"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(csv.lines().count() > 1 && csv.contains(','), "{csv}");
    let pdf = ask(&app, &auditor, &operation("invoicePdf"), &ids).await;
    let pdf = STANDARD
        .decode(data(&pdf)["invoicePdf"].as_str().unwrap_or_default())
        .expect("base64");
    assert!(pdf.starts_with(b"%PDF-"));

    // Finalized by the BPO's admin once, numbered with its prefix; again
    // is a conflict, and so is April's draft, whose period runs.
    let finalized = ask(&app, &admin_x, &operation("finalizeInvoice"), &ids).await;
    let finalized = data(&finalized)["finalizeInvoice"].clone();
    assert_eq!(finalized["status"], "FINALIZED");
    assert!(
        finalized["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("INV")),
        "{finalized}"
    );
    assert_eq!(finalized["total"], invoice["total"]);
    let again = ask(&app, &admin_x, &operation("finalizeInvoice"), &ids).await;
    assert_eq!(error_codes(&again), ["CONFLICT"], "{again}");
    let april = app
        .gql(
            Some(&token(&admin_x)),
            "query($a: UUID!) { invoices(filter: { account: { kind: TENANT, id: $a }, status: DRAFT }) { id periodFirstDay } }",
            json!({ "a": w.tenant_a.0 }),
        )
        .await;
    let april = data(&april)["invoices"].clone();
    assert_eq!(april[0]["periodFirstDay"], "2025-04-01", "{april}");
    let running = app
        .gql(
            Some(&token(&admin_x)),
            "mutation($i: UUID!) { finalizeInvoice(id: $i) { id } }",
            json!({ "i": april[0]["id"] }),
        )
        .await;
    assert_eq!(error_codes(&running), ["CONFLICT"], "{running}");

    // The BPO's month side by side, as the platform admin reads it.
    let statement = ask(&app, &platform_admin(), &operation("bpoStatement"), &ids).await;
    let statement = data(&statement)["bpoStatement"].clone();
    assert_eq!(
        (statement["bpoId"].clone(), statement["month"].clone()),
        (json!(w.bpo_x.0), json!("2025-03-01"))
    );
    let client = statement["clients"]
        .as_array()
        .and_then(|clients| {
            clients
                .iter()
                .find(|c| c["tenantId"] == json!(w.tenant_a.0))
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(id(&client["invoice"]["id"]), ids.tenant_invoice);
    assert_eq!(id(&statement["wholesale"]["id"]), ids.bpo_invoice);
    let margin = &statement["margins"][0];
    assert_eq!(margin["currency"], "JPY");
    assert_eq!(
        number(&margin["margin"]),
        number(&margin["retailSubtotal"]) - number(&margin["wholesaleSubtotal"])
    );

    // The reconciliation: billing counted no storage, storage kept a day
    // of one byte.
    let reconciled = ask(
        &app,
        &platform_admin(),
        &operation("reconcileStorage"),
        &ids,
    )
    .await;
    assert_eq!(
        data(&reconciled)["reconcileStorage"],
        json!([{ "tenantId": w.tenant_a.0, "from": "2025-03-02T00:00:00+00:00", "to": "2025-03-03T00:00:00+00:00",
                 "billedByteSeconds": "0", "storedByteSeconds": "86400", "matches": false }])
    );
}

#[tokio::test]
async fn the_services_refusals_reach_the_client_with_their_codes() {
    let (app, ids) = billed_march().await;
    let w = &app.metadata.world;
    let admin_x = token(&bpo_admin(w.bpo_x));
    let vars =
        json!({ "b": w.bpo_x.0, "r": ids.retail_plan, "w": ids.wholesale_plan, "a": w.tenant_a.0 });
    let cases = [
        // A plan the service refuses: tiers that don't increase.
        (
            "INVALID_PLAN",
            "mutation($b: UUID!) { createPlan(input: { level: RETAIL, bpoId: $b, name: \"p\", currency: \"JPY\", baseFee: 0, taxRate: \"10\", charges: [{ meter: RECORDINGS, unit: RECORDING, model: { model: GRADUATED, tiers: [{ upTo: \"10\", unitPrice: \"1\" }, { upTo: \"5\", unitPrice: \"1\" }, { unitPrice: \"1\" }] } }] }) { id } }",
        ),
        // A unit its meter isn't counted in, and a negative base fee.
        (
            "INVALID_PLAN",
            "mutation($b: UUID!) { createPlan(input: { level: RETAIL, bpoId: $b, name: \"p\", currency: \"JPY\", baseFee: 0, taxRate: \"10\", charges: [{ meter: RECORDINGS, unit: MINUTE, model: { model: PER_UNIT, unitPrice: \"1\" } }] }) { id } }",
        ),
        (
            "INVALID_PLAN",
            "mutation($b: UUID!) { createPlan(input: { level: RETAIL, bpoId: $b, name: \"p\", currency: \"JPY\", baseFee: -1, taxRate: \"10\", charges: [] }) { id } }",
        ),
        // A plan's currency doesn't change.
        (
            "BAD_USER_INPUT",
            "mutation($r: UUID!) { updatePlan(id: $r, input: { name: \"p\", currency: \"USD\", baseFee: 0, taxRate: \"10\", charges: [] }) { id } }",
        ),
        // A registration number that isn't T and 13 digits.
        (
            "BAD_USER_INPUT",
            "mutation($b: UUID!) { setBillingProfile(party: { kind: BPO, id: $b }, profile: { legalName: \"n\", address: \"a\", registrationNumber: \"T123\" }) { legalName } }",
        ),
        // More than 400 days of usage at once.
        (
            "BAD_USER_INPUT",
            "query($a: UUID!) { usage(tenantId: $a, from: \"2024-01-01\", to: \"2025-03-01\", granularity: MONTH) { date } }",
        ),
        // A tenant on a wholesale plan, an unknown plan, a version that isn't.
        (
            "NOT_FOUND",
            "mutation($a: UUID!, $w: UUID!) { assignPlan(account: { kind: TENANT, id: $a }, planId: $w) { planId } }",
        ),
        ("NOT_FOUND", "query($b: UUID!) { plan(id: $b) { id } }"),
        (
            "NOT_FOUND",
            "query($r: UUID!) { plan(id: $r, version: 9) { id } }",
        ),
        // Tenant B has no profile.
        (
            "NOT_FOUND",
            "query($b: UUID!) { billingProfile(party: { kind: TENANT, id: $b }) { legalName } }",
        ),
    ];
    for (code, query) in cases {
        let mut vars = vars.clone();
        if query.contains("kind: TENANT, id: $b") {
            vars["b"] = json!(w.tenant_b.0);
        }
        let answer = app.gql(Some(&admin_x), query, used(query, &vars)).await;
        assert_eq!(error_codes(&answer), [code], "{query}: {answer}");
        assert!(answer["data"].is_null(), "{answer}");
    }
}
