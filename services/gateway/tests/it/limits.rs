//! Depth and complexity limits, and the request body limit.

use callvault_contracts::Role;
use callvault_gateway::MAX_BODY_BYTES;
use serde_json::json;

use crate::support::{error_codes, platform_admin, spawn_app, tenant_user, token};

/// graphql-js's `getIntrospectionQuery()` (v16), what GraphiQL sends: the
/// deepest legitimate query, which the depth limit must let through.
const GRAPHIQL_INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;

#[tokio::test]
async fn graphiql_introspection_passes_the_limits() {
    let app = spawn_app().await;
    // No token needed: the schema is public (it is checked in).
    let answer = app.gql(None, GRAPHIQL_INTROSPECTION, json!({})).await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(answer["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn an_overly_deep_query_is_refused() {
    let app = spawn_app().await;
    let of_types = "ofType { ".repeat(14);
    let closing = "} ".repeat(14);
    let query = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {of_types} name {closing} }} }} }} }} }}"
    );
    let answer = app
        .gql(Some(&token(&platform_admin())), &query, json!({}))
        .await;
    assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains("nested too deep"),
        "{message}"
    );
}

#[tokio::test]
async fn an_overly_complex_query_is_refused_before_anything_runs() {
    let app = spawn_app().await;
    // 600 aliases of a cheap-looking field: 1200 fields in all.
    let fields: String = (0..600).map(|i| format!("b{i}: bpos {{ id }} ")).collect();
    let answer = app
        .gql(
            Some(&token(&platform_admin())),
            &format!("{{ {fields} }}"),
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.to_lowercase().contains("complex"), "{message}");
    assert_eq!(
        app.metadata.calls(),
        [],
        "refused at validation, before execution"
    );

    // A handful of aliases is fine.
    let few: String = (0..5).map(|i| format!("b{i}: bpos {{ id }} ")).collect();
    let answer = app
        .gql(
            Some(&token(&platform_admin())),
            &format!("{{ {few} }}"),
            json!({}),
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
}

#[tokio::test]
async fn typename_counts_toward_complexity() {
    let app = spawn_app().await;
    let admin = token(&platform_admin());
    let ask = |query: String| {
        let app = &app;
        let admin = &admin;
        async move { app.gql(Some(admin), &query, json!({})).await }
    };
    let typenames = |n: usize| -> String { (0..n).map(|i| format!("t{i}: __typename ")).collect() };

    // async-graphql's own count skips `__typename`: 1001 of them alone
    // used to cost nothing.
    let answer = ask(format!("{{ {} }}", typenames(1001))).await;
    assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{answer}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.to_lowercase().contains("complex"), "{message}");

    // Counted with the other fields: 600 `bpos { id }` (1200) would pass
    // alone at 500, so mix: 400 fields + 601 `__typename` = 1001.
    let fields: String = (0..200).map(|i| format!("b{i}: bpos {{ id }} ")).collect();
    let answer = ask(format!("{{ {fields} {} }}", typenames(601))).await;
    assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{answer}");

    // Fragments count as often as they are spread: 20 × 60 = 1200.
    let spreads: String = (0..20).map(|i| format!("f{i}: bpos {{ ...T }} ")).collect();
    let answer = ask(format!(
        "{{ {spreads} }} fragment T on Bpo {{ {} }}",
        typenames(60)
    ))
    .await;
    assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{answer}");

    // Only the operation that runs counts.
    let body = json!({
        "query": format!("query Small {{ __typename }} query Big {{ {} }}", typenames(1001)),
        "operationName": "Small",
    });
    let (status, answer) = app
        .post_raw(Some(&admin), body.to_string().into_bytes())
        .await;
    assert_eq!(status, 200);
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(app.metadata.calls(), [], "refusals happen before execution");

    // Up to the limit is fine.
    let answer = ask(format!("{{ {} }}", typenames(1000))).await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(answer["data"]["t999"], "Query");
}

#[tokio::test]
async fn oversized_and_batched_bodies_are_refused() {
    let app = spawn_app().await;
    let padding = " ".repeat(MAX_BODY_BYTES);
    let huge = format!("{{\"query\": \"{{ me {{ role }} }}{padding}\"}}");
    let (status, answer) = app.post_raw(None, huge.into_bytes()).await;
    assert_eq!(status, 413);
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let batch = json!([{ "query": "{ me { role } }" }, { "query": "{ me { role } }" }]);
    let (status, answer) = app.post_raw(None, batch.to_string().into_bytes()).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

#[tokio::test]
async fn int64_arguments_pass_two_to_the_31_as_numbers_or_strings() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let supervisor = token(&tenant_user(Role::Supervisor, w.tenant_a));
    for bound in ["4294967296", "\"4294967296\""] {
        let answer = app
            .gql(
                Some(&supervisor),
                &format!(
                    "{{ recordings(tenantId: \"{}\", filter: {{ minDurationMs: {bound} }}) {{ nodes {{ id }} }} }}",
                    w.tenant_a.0
                ),
                json!({}),
            )
            .await;
        assert!(answer["errors"].is_null(), "{bound}: {answer}");
    }
}
