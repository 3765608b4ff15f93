//! Bad input is refused before any call (and any tenant lookup) with its
//! code, and good input reaches the billing service as the contract says.

use callvault_contracts::Role;
use serde_json::{Value, json};

use super::{Ids, PLAN_TERMS, clear, operation, used, variables};
use crate::support::{bpo_admin, error_codes, platform_admin, spawn_app, tenant_user, token};

/// A retail plan of BPO `$b` with `charges` and `currency`.
fn plan_with(currency: &str, charges: &str) -> String {
    format!(
        "mutation($b: UUID!) {{ createPlan(input: {{ level: RETAIL, bpoId: $b, name: \"p\", currency: \"{currency}\", baseFee: 100, taxRate: \"10\", charges: [{charges}] }}) {{ id }} }}"
    )
}

fn charge(model: &str) -> String {
    format!("{{ meter: RECORDINGS, unit: RECORDING, model: {{ {model} }} }}")
}

/// Bad input, with the code it gets.
fn bad_inputs() -> Vec<(&'static str, String)> {
    let per_unit = charge("model: PER_UNIT, unitPrice: \"1\"");
    vec![
        // The plan's currency and each model's fields: INVALID_PLAN.
        ("INVALID_PLAN", plan_with("XYZ", &per_unit)),
        ("INVALID_PLAN", plan_with("", &per_unit)),
        ("INVALID_PLAN", plan_with("JPY", &charge("model: PER_UNIT"))),
        ("INVALID_PLAN", plan_with("JPY", &charge("model: GRADUATED"))),
        ("INVALID_PLAN", plan_with("JPY", &charge("model: VOLUME, unitPrice: \"1\""))),
        ("INVALID_PLAN", plan_with("JPY", &charge("model: PACKAGE, packageSize: \"100\""))),
        ("INVALID_PLAN", plan_with("JPY", &charge("model: PACKAGE, packagePrice: \"100\""))),
        ("INVALID_PLAN", plan_with("JPY", &charge("model: PER_UNIT, unitPrice: \"1\", tiers: [{ unitPrice: \"1\" }]"))),
        ("INVALID_PLAN", "mutation($r: UUID!) { updatePlan(id: $r, input: { name: \"p\", currency: \"XYZ\", baseFee: 0, taxRate: \"10\", charges: [] }) { id } }".into()),
        // Malformed numbers: BAD_USER_INPUT.
        ("BAD_USER_INPUT", plan_with("JPY", &charge("model: PER_UNIT, unitPrice: \"1e3\""))),
        ("BAD_USER_INPUT", plan_with("JPY", &charge("model: PER_UNIT, unitPrice: \"1,000\""))),
        ("BAD_USER_INPUT", plan_with("JPY", &charge("model: PER_UNIT, unitPrice: \"abc\""))),
        ("BAD_USER_INPUT", plan_with("JPY", &charge("model: PER_UNIT, unitPrice: 1.5"))),
        ("BAD_USER_INPUT", "mutation($b: UUID!) { createPlan(input: { level: RETAIL, bpoId: $b, name: \"p\", currency: \"JPY\", baseFee: 1.5, taxRate: \"10\", charges: [] }) { id } }".into()),
        ("BAD_USER_INPUT", "mutation($b: UUID!) { createPlan(input: { level: RETAIL, bpoId: $b, name: \"p\", currency: \"JPY\", baseFee: 0, taxRate: \"ten\", charges: [] }) { id } }".into()),
        // Whose plan.
        ("BAD_USER_INPUT", "mutation($b: UUID!) { createPlan(input: { level: WHOLESALE, bpoId: $b, name: \"p\", currency: \"JPY\", baseFee: 0, taxRate: \"10\", charges: [] }) { id } }".into()),
        ("BAD_USER_INPUT", "mutation { createPlan(input: { level: RETAIL, name: \"p\", currency: \"JPY\", baseFee: 0, taxRate: \"10\", charges: [] }) { id } }".into()),
        // Exactly one account, and an ordered range.
        ("BAD_USER_INPUT", "query($a: UUID!, $b: UUID!) { usage(tenantId: $a, bpoId: $b, from: \"2025-03-01\", to: \"2025-03-31\", granularity: DAY) { date } }".into()),
        ("BAD_USER_INPUT", "{ usage(from: \"2025-03-01\", to: \"2025-03-31\", granularity: DAY) { date } }".into()),
        ("BAD_USER_INPUT", "query($a: UUID!) { usage(tenantId: $a, from: \"2025-03-31\", to: \"2025-03-01\", granularity: DAY) { date } }".into()),
        ("BAD_USER_INPUT", "query($b: UUID!) { usage(bpoId: $b, from: \"2025-03-31\", to: \"2025-03-01\", granularity: MONTH) { date } }".into()),
        ("BAD_USER_INPUT", "query($a: UUID!) { usage(tenantId: $a, from: \"2025-02-30\", to: \"2025-03-01\", granularity: DAY) { date } }".into()),
        ("BAD_USER_INPUT", "{ invoices(filter: { from: \"2025-04-01\", to: \"2025-03-01\" }) { id } }".into()),
        // Parties, accounts and ids.
        ("BAD_USER_INPUT", "query($b: UUID!) { billingProfile(party: { kind: PLATFORM, id: $b }) { legalName } }".into()),
        ("BAD_USER_INPUT", "{ billingProfile(party: { kind: TENANT }) { legalName } }".into()),
        ("BAD_USER_INPUT", "mutation { setBillingProfile(party: { kind: BPO }, profile: { legalName: \"n\", address: \"a\" }) { legalName } }".into()),
        ("BAD_USER_INPUT", "mutation($a: UUID!, $r: UUID!) { assignPlan(account: { kind: TENANT, id: $a }, planId: $r, timeZone: \"Asia/Tokyo\") { planId } }".into()),
        ("BAD_USER_INPUT", "mutation($b: UUID!, $w: UUID!) { assignPlan(account: { kind: BPO, id: $b }, planId: $w, timeZone: \" \") { planId } }".into()),
        ("BAD_USER_INPUT", "{ invoice(id: \"not-a-uuid\") { id } }".into()),
        ("BAD_USER_INPUT", "query($w: UUID!) { plan(id: $w, version: -1) { id } }".into()),
        ("BAD_USER_INPUT", "mutation { reconcileStorage(day: \"yesterday\") { matches } }".into()),
    ]
}

#[tokio::test]
async fn bad_input_answers_its_code_before_any_call() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let ids = Ids::random();
    // The platform admin and a BPO admin (who would need a tenant lookup,
    // which bad input must not cost either), and a tenant admin, who may
    // do none of it: bad input is answered first, whoever asks.
    let callers = [
        platform_admin(),
        bpo_admin(w.bpo_x),
        tenant_user(Role::TenantAdmin, w.tenant_a),
    ];
    for caller in &callers {
        for (code, query) in bad_inputs() {
            clear(&app);
            let answer = app
                .gql(
                    Some(&token(caller)),
                    &query,
                    used(&query, &variables(&app, &ids)),
                )
                .await;
            assert_eq!(
                error_codes(&answer),
                [code],
                "{query} as {:?}: {answer}",
                caller.role
            );
            assert!(answer["data"].is_null(), "{answer}");
            assert!(
                app.bus.sent_to("billing").is_empty() && app.metadata.methods().is_empty(),
                "{query} reached {:?} {:?}",
                app.bus.ops_to("billing"),
                app.metadata.methods()
            );
        }
    }
}

/// The body the billing service was sent for `row`, as `caller`.
async fn sent(app: &crate::support::TestApp, caller: &str, row: &str) -> Value {
    clear(app);
    let ids = Ids::random();
    let query = operation(row);
    let answer = app
        .gql(Some(caller), &query, used(&query, &variables(app, &ids)))
        .await;
    let sent = app.bus.sent_to("billing");
    assert_eq!(sent.len(), 1, "{row}: {answer}");
    sent[0].body.clone()
}

#[tokio::test]
async fn arguments_reach_the_service_as_the_contract_says() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin_x = token(&bpo_admin(w.bpo_x));
    let platform = token(&platform_admin());

    let created = sent(&app, &admin_x, "createPlan").await;
    assert_eq!(created["level"], "RETAIL");
    assert_eq!(created["bpo"], json!(w.bpo_x.0));
    let plan = &created["plan"];
    assert_eq!(
        (
            plan["name"].clone(),
            plan["currency"].clone(),
            plan["base_fee"].clone(),
            plan["tax_rate"].clone()
        ),
        (json!("Standard"), json!("JPY"), json!(10000), json!("10"))
    );
    assert_eq!(
        plan["charges"],
        json!([
            { "meter": "INGESTED_SECONDS", "unit": "MINUTE", "included": "600", "tax_rate": null,
              "model": { "model": "GRADUATED", "tiers": [{ "up_to": "1000", "unit_price": "2" }, { "up_to": null, "unit_price": "1.5" }] } },
            { "meter": "STORAGE_GB_MONTHS", "unit": "GB_MONTH", "included": "0", "tax_rate": null,
              "model": { "model": "PER_UNIT", "unit_price": "30" } },
            { "meter": "RECORDINGS", "unit": "RECORDING", "included": "0", "tax_rate": "8",
              "model": { "model": "PACKAGE", "package_size": "1000", "package_price": "500" } },
            { "meter": "ACTIVE_USERS", "unit": "USER", "included": "0", "tax_rate": null,
              "model": { "model": "VOLUME", "tiers": [{ "up_to": "10", "unit_price": "1000" }, { "up_to": null, "unit_price": "800" }] } },
        ])
    );

    let wholesale = sent(&app, &platform, "createPlan:wholesale").await;
    assert_eq!(
        (wholesale["level"].clone(), wholesale["bpo"].clone()),
        (json!("WHOLESALE"), json!(null))
    );

    let usage = sent(&app, &admin_x, "usage").await;
    assert_eq!(
        usage["account"],
        json!({ "kind": "TENANT", "id": w.tenant_a.0 })
    );
    assert_eq!(
        (
            usage["from"].clone(),
            usage["to"].clone(),
            usage["granularity"].clone()
        ),
        (json!("2025-03-01"), json!("2025-03-31"), json!("DAY"))
    );
    let bpo_usage = sent(&app, &platform, "usage:bpo").await;
    assert_eq!(
        bpo_usage["account"],
        json!({ "kind": "BPO", "id": w.bpo_x.0 })
    );
    assert_eq!(bpo_usage["granularity"], "MONTH");

    let filter = sent(&app, &admin_x, "invoices").await["filter"].clone();
    assert_eq!(
        filter,
        json!({ "account": { "kind": "TENANT", "id": w.tenant_a.0 }, "status": null, "from": "2025-01-01", "to": "2025-12-31" })
    );
    let mine = sent(&app, &admin_x, "invoices:mine").await["filter"].clone();
    assert_eq!(
        mine,
        json!({ "account": null, "status": null, "from": null, "to": null })
    );

    let profile = sent(&app, &admin_x, "setBillingProfile:bpo").await;
    assert_eq!(profile["party"], json!({ "kind": "BPO", "id": w.bpo_x.0 }));
    assert_eq!(
        profile["profile"],
        json!({ "legal_name": "Acme K.K.", "address": "1-1 Chiyoda, Tokyo", "registration_number": "T1234567890123",
                "invoice_prefix": "INV", "rounding": "DOWN" })
    );
    let platform_profile = sent(&app, &platform, "setBillingProfile:platform").await;
    assert_eq!(platform_profile["party"], json!({ "kind": "PLATFORM" }));
    assert_eq!(
        (
            platform_profile["profile"]["invoice_prefix"].clone(),
            platform_profile["profile"]["rounding"].clone()
        ),
        (json!("CV"), json!("HALF_UP"))
    );

    let assign = sent(&app, &platform, "assignPlan:bpo").await;
    assert_eq!(assign["account"], json!({ "kind": "BPO", "id": w.bpo_x.0 }));
    assert_eq!(assign["time_zone"], "Asia/Tokyo");
    let retail = sent(&app, &admin_x, "assignPlan").await;
    assert_eq!(
        retail["account"],
        json!({ "kind": "TENANT", "id": w.tenant_a.0 })
    );
    assert_eq!(retail["time_zone"], Value::Null);

    let plan = sent(&app, &platform, "plan:wholesale").await;
    assert_eq!(plan["version"], 1);
    let csv = sent(&app, &admin_x, "invoiceCsv").await;
    assert_eq!(csv["format"], "CSV");
    let pdf = sent(&app, &admin_x, "invoicePdf").await;
    assert_eq!(pdf["format"], "PDF");
    let statement = sent(&app, &admin_x, "bpoStatement").await;
    assert_eq!(
        (statement["bpo"].clone(), statement["month"].clone()),
        (json!(w.bpo_x.0), json!("2025-03-15"))
    );
    let reconcile = sent(&app, &platform, "reconcileStorage").await;
    assert_eq!(reconcile["day"], "2025-03-02");
    // The plan's currency is checked case-blind and trimmed.
    let lower = PLAN_TERMS.replace("\"JPY\"", "\" jpy \"");
    clear(&app);
    let query =
        format!("mutation {{ createPlan(input: {{ level: WHOLESALE, {lower} }}) {{ id }} }}");
    app.gql(Some(&platform), &query, json!({})).await;
    assert_eq!(
        app.bus.sent_to("billing")[0].body["plan"]["currency"],
        "JPY"
    );
}
