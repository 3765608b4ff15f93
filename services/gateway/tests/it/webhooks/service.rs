//! The webhooks API with the real webhooks service behind the gateway:
//! what each caller gets back, the secret shown only by create and rotate,
//! and the service's error codes as GraphQL error codes.

use callvault_contracts::Role;
use serde_json::{Value, json};

use super::{DELIVERY_FIELDS, ENDPOINT_FIELDS};
use crate::support::webhooks::spawn;
use crate::support::{bpo_admin, error_codes, tenant_user, token};

const CREATE: &str = "mutation($t: UUID!, $url: String!) { createWebhookEndpoint(tenantId: $t, input: { url: $url, eventTypes: [\"recording.stored\", \"invoice.finalized\"], description: \"crm\" }) { secret endpoint { id tenantId url eventTypes enabled } } }";

fn data<'a>(answer: &'a Value, field: &str) -> &'a Value {
    assert!(answer["errors"].is_null(), "{answer}");
    &answer["data"][field]
}

#[tokio::test]
async fn a_tenant_admin_manages_its_endpoints_and_sees_each_secret_once() {
    let app = spawn().await;
    let w = &app.metadata.world;
    let admin = token(&tenant_user(Role::TenantAdmin, w.tenant_a));
    let t = w.tenant_a.0;

    let answer = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "t": t, "url": "http://127.0.0.1:9/hook" }),
        )
        .await;
    let created = data(&answer, "createWebhookEndpoint");
    let secret = created["secret"].as_str().expect("secret");
    assert!(secret.starts_with("whsec_"), "{created}");
    let endpoint = created["endpoint"]["id"].as_str().expect("id").to_owned();
    assert_eq!(created["endpoint"]["tenantId"], json!(t.to_string()));
    assert_eq!(
        created["endpoint"]["eventTypes"],
        json!(["invoice.finalized", "recording.stored"])
    );

    let list =
        format!("query($t: UUID!) {{ webhookEndpoints(tenantId: $t) {{ {ENDPOINT_FIELDS} }} }}");
    let answer = app.gql(Some(&admin), &list, json!({ "t": t })).await;
    let listed = data(&answer, "webhookEndpoints");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(
        !answer.to_string().contains(secret),
        "the list never shows it"
    );

    let update = format!(
        "mutation($t: UUID!, $e: UUID!) {{ updateWebhookEndpoint(tenantId: $t, id: $e, input: {{ enabled: false, description: \"paused\" }}) {{ {ENDPOINT_FIELDS} }} }}"
    );
    let answer = app
        .gql(Some(&admin), &update, json!({ "t": t, "e": endpoint }))
        .await;
    let updated = data(&answer, "updateWebhookEndpoint");
    assert_eq!(updated["enabled"], json!(false));
    assert_eq!(updated["description"], json!("paused"));

    let rotate = "mutation($t: UUID!, $e: UUID!) { rotateWebhookSecret(tenantId: $t, id: $e) { secret endpoint { previousSecretExpiresAt } } }";
    let answer = app
        .gql(Some(&admin), rotate, json!({ "t": t, "e": endpoint }))
        .await;
    let rotated = data(&answer, "rotateWebhookSecret");
    let new_secret = rotated["secret"].as_str().expect("secret");
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(rotated["endpoint"]["previousSecretExpiresAt"].is_string());

    let deliveries = format!(
        "query($t: UUID!, $e: UUID!) {{ webhookDeliveries(tenantId: $t, endpointId: $e) {{ {DELIVERY_FIELDS} }} }}"
    );
    let answer = app
        .gql(Some(&admin), &deliveries, json!({ "t": t, "e": endpoint }))
        .await;
    assert_eq!(data(&answer, "webhookDeliveries"), &json!([]));

    let replay =
        "mutation($t: UUID!) { replayWebhookDelivery(tenantId: $t, id: \"msg_nothing\") { id } }";
    let answer = app.gql(Some(&admin), replay, json!({ "t": t })).await;
    assert_eq!(error_codes(&answer), ["NOT_FOUND"], "{answer}");

    let delete = "mutation($t: UUID!, $e: UUID!) { deleteWebhookEndpoint(tenantId: $t, id: $e) }";
    let answer = app
        .gql(Some(&admin), delete, json!({ "t": t, "e": endpoint }))
        .await;
    assert_eq!(data(&answer, "deleteWebhookEndpoint"), &json!(true));
    let answer = app.gql(Some(&admin), &list, json!({ "t": t })).await;
    assert_eq!(data(&answer, "webhookEndpoints"), &json!([]));
}

#[tokio::test]
async fn refused_urls_and_unknown_types_store_nothing() {
    let app = spawn().await;
    let w = &app.metadata.world;
    let admin = token(&tenant_user(Role::TenantAdmin, w.tenant_a));
    let t = w.tenant_a.0;
    for url in [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/hook",
        "ftp://127.0.0.1/hook",
    ] {
        let answer = app
            .gql(Some(&admin), CREATE, json!({ "t": t, "url": url }))
            .await;
        assert_eq!(
            error_codes(&answer),
            ["WEBHOOK_URL_REFUSED"],
            "{url}: {answer}"
        );
    }
    let list = "query($t: UUID!) { webhookEndpoints(tenantId: $t) { id } }";
    let answer = app.gql(Some(&admin), list, json!({ "t": t })).await;
    assert_eq!(data(&answer, "webhookEndpoints"), &json!([]));

    // A refused update leaves the endpoint as it was.
    let answer = app
        .gql(
            Some(&admin),
            CREATE,
            json!({ "t": t, "url": "http://127.0.0.1:9/hook" }),
        )
        .await;
    let id = data(&answer, "createWebhookEndpoint")["endpoint"]["id"].clone();
    let update = "mutation($t: UUID!, $e: UUID!) { updateWebhookEndpoint(tenantId: $t, id: $e, input: { url: \"http://192.168.1.1/\" }) { url } }";
    let answer = app
        .gql(Some(&admin), update, json!({ "t": t, "e": id }))
        .await;
    assert_eq!(error_codes(&answer), ["WEBHOOK_URL_REFUSED"], "{answer}");
    let list = "query($t: UUID!) { webhookEndpoints(tenantId: $t) { url } }";
    let answer = app.gql(Some(&admin), list, json!({ "t": t })).await;
    assert_eq!(
        data(&answer, "webhookEndpoints"),
        &json!([{ "url": "http://127.0.0.1:9/hook" }])
    );
}

#[tokio::test]
async fn no_other_tenant_or_bpo_reaches_an_endpoint_even_by_its_id() {
    let app = spawn().await;
    let w = &app.metadata.world;
    let owner = token(&tenant_user(Role::TenantAdmin, w.tenant_a));
    let answer = app
        .gql(
            Some(&owner),
            CREATE,
            json!({ "t": w.tenant_a.0, "url": "http://127.0.0.1:9/hook" }),
        )
        .await;
    let id = data(&answer, "createWebhookEndpoint")["endpoint"]["id"].clone();

    // BPO X's admin manages it; it is its tenant.
    let admin_x = token(&bpo_admin(w.bpo_x));
    let list = "query($t: UUID!) { webhookEndpoints(tenantId: $t) { id } }";
    let answer = app
        .gql(Some(&admin_x), list, json!({ "t": w.tenant_a.0 }))
        .await;
    assert_eq!(data(&answer, "webhookEndpoints"), &json!([{ "id": id }]));

    // Tenant B's admin and BPO Y's, naming a tenant they do manage and A's
    // endpoint: the service says NOT_FOUND, as for one that doesn't exist.
    let by_id = [
        "mutation($t: UUID!, $e: UUID!) { updateWebhookEndpoint(tenantId: $t, id: $e, input: { enabled: false }) { id } }",
        "mutation($t: UUID!, $e: UUID!) { rotateWebhookSecret(tenantId: $t, id: $e) { secret } }",
        "mutation($t: UUID!, $e: UUID!) { deleteWebhookEndpoint(tenantId: $t, id: $e) }",
        "query($t: UUID!, $e: UUID!) { webhookDeliveries(tenantId: $t, endpointId: $e) { id } }",
    ];
    let intruders = [
        (
            token(&tenant_user(Role::TenantAdmin, w.tenant_b)),
            w.tenant_b.0,
        ),
        (token(&bpo_admin(w.bpo_y)), w.tenant_c.0),
    ];
    for (intruder, own_tenant) in &intruders {
        for query in by_id {
            let answer = app
                .gql(Some(intruder), query, json!({ "t": own_tenant, "e": id }))
                .await;
            assert_eq!(error_codes(&answer), ["NOT_FOUND"], "{query}: {answer}");
        }
    }
    let answer = app
        .gql(Some(&owner), list, json!({ "t": w.tenant_a.0 }))
        .await;
    assert_eq!(
        data(&answer, "webhookEndpoints"),
        &json!([{ "id": id }]),
        "untouched"
    );
}
