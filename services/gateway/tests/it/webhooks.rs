//! The webhooks API at the gateway: every webhook query and mutation
//! against every kind of caller, read off the bus as in billing.rs (no
//! service: a call let through fails UNAVAILABLE, but it was sent, as the
//! caller), and another tenant's admin refused before anything is sent.
//! What the real webhooks service answers is in `webhooks/service.rs`.

mod service;

use callvault_contracts::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::billing::{callers, clear, reached_beyond_lookups, used};
use crate::support::{bpo_admin, error_codes, spawn_app, tenant_user, token};

/// Per column of `billing::COLUMNS` (PA BX BY TA TB SU AG CO AU; tenant A,
/// the one asked about, is BPO X's): `Y` let through, `n` FORBIDDEN by the
/// gateway with nothing sent. Then the webhooks operation sent, none for
/// the catalogue. Written from docs/webhooks.md ("Who may").
pub const EXPECTED: [(&str, &str, &str); 8] = [
    ("webhookEventTypes", "Y Y Y Y Y Y Y Y Y", ""),
    ("webhookEndpoints", "n Y n Y n n n n n", "webhook_endpoints"),
    (
        "webhookDeliveries",
        "n Y n Y n n n n n",
        "webhook_deliveries",
    ),
    (
        "createWebhookEndpoint",
        "n Y n Y n n n n n",
        "create_webhook_endpoint",
    ),
    (
        "updateWebhookEndpoint",
        "n Y n Y n n n n n",
        "update_webhook_endpoint",
    ),
    (
        "deleteWebhookEndpoint",
        "n Y n Y n n n n n",
        "delete_webhook_endpoint",
    ),
    (
        "rotateWebhookSecret",
        "n Y n Y n n n n n",
        "rotate_webhook_secret",
    ),
    (
        "replayWebhookDelivery",
        "n Y n Y n n n n n",
        "replay_webhook_delivery",
    ),
];

pub const ENDPOINT_FIELDS: &str = "id tenantId url description eventTypes enabled disabledReason \
    previousSecretExpiresAt createdAt updatedAt";

pub const DELIVERY_FIELDS: &str = "id endpointId eventType status attempts createdAt lastAttemptAt \
    lastStatusCode lastError nextAttemptAt deliveredAt";

/// A valid operation for each row: `$t` is the tenant, `$e` an endpoint,
/// `$d` a delivery.
pub fn operation(row: &str) -> String {
    let endpoint = ENDPOINT_FIELDS;
    let delivery = DELIVERY_FIELDS;
    match row {
        "webhookEventTypes" => "{ webhookEventTypes }".into(),
        "webhookEndpoints" => {
            format!("query($t: UUID!) {{ webhookEndpoints(tenantId: $t) {{ {endpoint} }} }}")
        }
        "webhookDeliveries" => format!(
            "query($t: UUID!, $e: UUID!) {{ webhookDeliveries(tenantId: $t, endpointId: $e, status: FAILED, limit: 10) {{ {delivery} }} }}"
        ),
        "createWebhookEndpoint" => format!(
            "mutation($t: UUID!) {{ createWebhookEndpoint(tenantId: $t, input: {{ url: \"http://127.0.0.1:9/hook\", eventTypes: [\"recording.stored\"], description: \"crm\" }}) {{ secret endpoint {{ {endpoint} }} }} }}"
        ),
        "updateWebhookEndpoint" => format!(
            "mutation($t: UUID!, $e: UUID!) {{ updateWebhookEndpoint(tenantId: $t, id: $e, input: {{ enabled: true, eventTypes: [\"recording.deleted\"] }}) {{ {endpoint} }} }}"
        ),
        "deleteWebhookEndpoint" => {
            "mutation($t: UUID!, $e: UUID!) { deleteWebhookEndpoint(tenantId: $t, id: $e) }".into()
        }
        "rotateWebhookSecret" => format!(
            "mutation($t: UUID!, $e: UUID!) {{ rotateWebhookSecret(tenantId: $t, id: $e) {{ secret endpoint {{ {endpoint} }} }} }}"
        ),
        "replayWebhookDelivery" => format!(
            "mutation($t: UUID!, $d: String!) {{ replayWebhookDelivery(tenantId: $t, id: $d) {{ {delivery} }} }}"
        ),
        other => panic!("no operation {other}"),
    }
}

pub fn variables(tenant: Uuid, endpoint: Uuid, delivery: &str) -> Value {
    json!({ "t": tenant, "e": endpoint, "d": delivery })
}

#[tokio::test]
async fn the_gateway_lets_through_exactly_the_callers_the_table_allows() {
    let app = spawn_app().await;
    let vars = variables(app.metadata.world.tenant_a.0, Uuid::new_v4(), "msg_1");
    let mut mismatches = Vec::new();
    for (row, expected_row, op) in EXPECTED {
        let query = operation(row);
        for ((column, actor), expected) in callers(&app).iter().zip(expected_row.split(' ')) {
            clear(&app);
            let answer = app
                .gql(Some(&token(actor)), &query, used(&query, &vars))
                .await;
            let sent = app.bus.sent_to("webhooks");
            let as_caller = |call: &crate::support::bus::Sent| {
                call.actor()
                    .is_some_and(|seen| seen.subject == actor.subject && seen.role == actor.role)
            };
            let consistent = match (expected, op) {
                ("n", _) => {
                    error_codes(&answer) == ["FORBIDDEN"]
                        && answer["data"].is_null()
                        && sent.is_empty()
                        && reached_beyond_lookups(&app).is_empty()
                }
                (_, "") => error_codes(&answer).is_empty() && sent.is_empty(),
                _ => {
                    matches!(sent.as_slice(), [call] if call.op == op && as_caller(call))
                        && error_codes(&answer) != ["FORBIDDEN"]
                }
            };
            if !consistent {
                mismatches.push(format!(
                    "{row} as {column}: expected {expected}, got {answer}, webhooks was sent {:?}",
                    sent.iter().map(|s| s.op.as_str()).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn no_token_is_unauthenticated_and_reaches_nothing() {
    let app = spawn_app().await;
    let vars = variables(app.metadata.world.tenant_a.0, Uuid::new_v4(), "msg_1");
    for (row, _, _) in EXPECTED {
        clear(&app);
        let query = operation(row);
        let answer = app.gql(None, &query, used(&query, &vars)).await;
        assert_eq!(error_codes(&answer), ["UNAUTHENTICATED"], "{row}: {answer}");
        assert!(app.bus.sent_to("webhooks").is_empty(), "{row}");
        assert!(app.metadata.methods().is_empty(), "{row}");
    }
}

#[tokio::test]
async fn another_tenant_reaches_none_of_the_webhook_fields() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let vars = variables(w.tenant_a.0, Uuid::new_v4(), "msg_1");
    let gated = EXPECTED.iter().filter(|(_, _, op)| !op.is_empty());
    // Tenant B's admin on tenant A: refused from the token alone.
    let intruder = token(&tenant_user(Role::TenantAdmin, w.tenant_b));
    for (row, _, _) in gated.clone() {
        clear(&app);
        let query = operation(row);
        let answer = app.gql(Some(&intruder), &query, used(&query, &vars)).await;
        assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{row}: {answer}");
        assert!(answer["data"].is_null(), "{answer}");
        assert!(app.bus.sent_to("webhooks").is_empty(), "{row}");
        assert!(
            app.metadata.methods().is_empty(),
            "{row}: decided from the token"
        );
    }
    // BPO X's admin on tenant C (BPO Y's) and on no tenant: the same
    // FORBIDDEN, after the lookup that told.
    let admin_x = token(&bpo_admin(w.bpo_x));
    for tenant in [w.tenant_c.0, Uuid::new_v4()] {
        let vars = variables(tenant, Uuid::new_v4(), "msg_1");
        for (row, _, _) in gated.clone() {
            clear(&app);
            let query = operation(row);
            let answer = app.gql(Some(&admin_x), &query, used(&query, &vars)).await;
            assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{row}: {answer}");
            assert_eq!(app.metadata.methods(), ["get_tenant"], "{row}");
            assert!(app.bus.sent_to("webhooks").is_empty(), "{row}");
        }
    }
}

#[tokio::test]
async fn unknown_event_types_and_bad_limits_are_refused_before_any_call() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin = token(&tenant_user(Role::TenantAdmin, w.tenant_a));
    let vars = json!({ "t": w.tenant_a.0, "e": Uuid::new_v4() });
    for query in [
        "mutation($t: UUID!) { createWebhookEndpoint(tenantId: $t, input: { url: \"https://example.com/h\", eventTypes: [\"recording.played\"] }) { secret } }",
        "mutation($t: UUID!) { createWebhookEndpoint(tenantId: $t, input: { url: \"https://example.com/h\", eventTypes: [] }) { secret } }",
        "mutation($t: UUID!, $e: UUID!) { updateWebhookEndpoint(tenantId: $t, id: $e, input: { eventTypes: [\"nope\"] }) { id } }",
        "query($t: UUID!, $e: UUID!) { webhookDeliveries(tenantId: $t, endpointId: $e, limit: 0) { id } }",
        "query($t: UUID!, $e: UUID!) { webhookDeliveries(tenantId: $t, endpointId: $e, limit: 501) { id } }",
    ] {
        clear(&app);
        let answer = app.gql(Some(&admin), query, used(query, &vars)).await;
        assert_eq!(
            error_codes(&answer),
            ["BAD_USER_INPUT"],
            "{query}: {answer}"
        );
        assert!(app.bus.sent_to("webhooks").is_empty(), "{query}");
    }
}
