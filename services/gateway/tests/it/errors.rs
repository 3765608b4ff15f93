//! Errors carry `extensions.code`; bad input is refused before any call;
//! GraphiQL is served.

use callvault_contracts::Role;
use serde_json::json;

use crate::support::{
    bpo_admin, error_codes, platform_admin, spawn_app, spawn_app_without_introspection,
    tenant_user, token,
};

#[tokio::test]
async fn metadata_errors_keep_their_code_and_internal_details_stay_inside() {
    let app = spawn_app().await;
    let admin = token(&platform_admin());
    let taken = app
        .gql(
            Some(&admin),
            "mutation { createBpo(name: \"taken\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&taken), ["CONFLICT"], "{taken}");
    assert_eq!(taken["errors"][0]["message"], "bpo name already exists");

    let boom = app
        .gql(
            Some(&admin),
            "mutation { createBpo(name: \"explode\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&boom), ["INTERNAL"], "{boom}");
    assert_eq!(
        boom["errors"][0]["message"], "internal error",
        "no internals leak"
    );

    let w = &app.metadata.world;
    let missing = app
        .gql(
            Some(&token(&tenant_user(Role::Supervisor, w.tenant_a))),
            "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { id } }",
            json!({ "t": w.tenant_a.0, "r": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(error_codes(&missing), ["NOT_FOUND"], "{missing}");
}

#[tokio::test]
async fn bad_input_is_refused_with_a_code_and_changes_nothing() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin_x = token(&bpo_admin(w.bpo_x));
    let supervisor = token(&tenant_user(Role::Supervisor, w.tenant_a));
    let admin_a = token(&tenant_user(Role::TenantAdmin, w.tenant_a));
    let onboard = |fields: &str| {
        format!(
            "mutation {{ onboardTenant(input: {{ bpoId: \"{}\", {fields} }}) {{ id }} }}",
            w.bpo_x.0
        )
    };
    let a = w.tenant_a.0;
    let cases: Vec<(&str, String)> = vec![
        (
            &admin_x,
            onboard("name: \"\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: MANAGED"),
        ),
        (
            &admin_x,
            onboard("name: \"n\", timeZone: \"UTC\", defaultRetentionDays: 0, keyMode: MANAGED"),
        ),
        (
            &admin_x,
            onboard(
                "name: \"n\", timeZone: \"not a zone\", defaultRetentionDays: 30, keyMode: MANAGED",
            ),
        ),
        (
            &admin_x,
            onboard("name: \"n\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: EXTERNAL"),
        ),
        (
            &admin_x,
            onboard(
                "name: \"n\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: MANAGED, keyArn: \"arn:x\"",
            ),
        ),
        (
            &admin_x,
            onboard(
                "name: \"n\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: EXTERNAL, keyArn: \"key-1\"",
            ),
        ),
        (
            &admin_x,
            onboard("name: \"n\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: SOMETIMES"),
        ),
        (
            &admin_x,
            onboard(
                "name: \"n\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: MANAGED, defaultRegion: \"Japan\"",
            ),
        ),
        (
            &supervisor,
            format!("{{ recordings(tenantId: \"{a}\", first: 0) {{ nodes {{ id }} }} }}"),
        ),
        (
            &supervisor,
            format!("{{ recordings(tenantId: \"{a}\", first: 101) {{ nodes {{ id }} }} }}"),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ minDurationMs: 10, maxDurationMs: 5 }}) {{ nodes {{ id }} }} }}"
            ),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ minDurationMs: -1 }}) {{ nodes {{ id }} }} }}"
            ),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ maxDurationMs: 1.5 }}) {{ nodes {{ id }} }} }}"
            ),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ maxDurationMs: \"9223372036854775808\" }}) {{ nodes {{ id }} }} }}"
            ),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ startedAfter: \"2025-02-01T00:00:00Z\", startedBefore: \"2025-01-01T00:00:00Z\" }}) {{ nodes {{ id }} }} }}"
            ),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ phoneNumber: \"\" }}) {{ nodes {{ id }} }} }}"
            ),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ attributes: [{{ key: \"\", value: \"v\" }}] }}) {{ nodes {{ id }} }} }}"
            ),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ attributes: [{{ key: \"k\", value: \"1\" }}, {{ key: \"k\", value: \"2\" }}] }}) {{ nodes {{ id }} }} }}"
            ),
        ),
        (
            &supervisor,
            format!(
                "{{ recordings(tenantId: \"{a}\", filter: {{ attributes: [{{ key: \"k\", value: \"{}\" }}] }}) {{ nodes {{ id }} }} }}",
                "v".repeat(257)
            ),
        ),
        (
            &supervisor,
            "{ recordings(tenantId: \"not-a-uuid\") { nodes { id } } }".to_owned(),
        ),
        (
            &admin_a,
            format!(
                "mutation {{ createUser(input: {{ subject: \"u\", role: AGENT, tenantId: \"{a}\" }}) {{ id }} }}"
            ),
        ),
        (
            &admin_a,
            format!(
                "mutation {{ createUser(input: {{ subject: \"\", role: SUPERVISOR, tenantId: \"{a}\" }}) {{ id }} }}"
            ),
        ),
        (
            &admin_a,
            format!(
                "mutation {{ createUser(input: {{ subject: \"u\", role: SUPERVISOR, tenantId: \"{a}\", agentId: \"x\" }}) {{ id }} }}"
            ),
        ),
        (
            &admin_a,
            "mutation { createUser(input: { subject: \"u\", role: SUPERVISOR }) { id } }"
                .to_owned(),
        ),
        (
            &admin_a,
            format!("mutation {{ createApiKey(tenantId: \"{a}\", name: \"  \") {{ secret }} }}"),
        ),
        (&admin_a, "{ noSuchField }".to_owned()),
        (&admin_a, "{ me { role ".to_owned()),
    ];
    for (token, query) in cases {
        let answer = app.gql(Some(token), &query, json!({})).await;
        assert_eq!(
            error_codes(&answer),
            ["BAD_USER_INPUT"],
            "{query}: {answer}"
        );
    }
    assert_eq!(app.metadata.calls(), [], "bad input reached metadata");
}

#[tokio::test]
async fn a_body_that_is_not_graphql_gets_a_json_4xx() {
    let app = spawn_app().await;
    let (status, answer) = app.post_raw(None, b"not json".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{answer}"
    );
}

#[tokio::test]
async fn graphiql_is_served_on_get() {
    let app = spawn_app().await;
    let response = app.get("/graphql").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.expect("body");
    assert!(page.to_lowercase().contains("graphiql"), "{page}");
    assert!(page.contains("/graphql"));
}

#[tokio::test]
async fn graphql_posts_must_be_json() {
    let app = spawn_app().await;
    let admin = token(&platform_admin());
    let body = json!({ "query": "{ bpos { id } }" }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", app.gateway.address))
            .header("authorization", format!("Bearer {admin}"))
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 415, "{content_type:?}");
        let answer: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.expect("body")).expect("a json body");
        assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"]);
    }
    assert!(
        app.metadata.methods().is_empty(),
        "nothing reached a service"
    );
    // With parameters, in any case, it is JSON.
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.gateway.address))
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "Application/JSON; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let query = "{ __schema { queryType { name } } }";
    let on = spawn_app().await;
    let answer = on.gql(None, query, json!({})).await;
    assert_eq!(answer["data"]["__schema"]["queryType"]["name"], "Query");
    let off = spawn_app_without_introspection().await;
    let answer = off.gql(None, query, json!({})).await;
    assert!(answer["data"]["__schema"].is_null(), "{answer}");
}
