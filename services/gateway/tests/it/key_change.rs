//! `changeTenantKey` through the gateway: the mode, ARN and reason reach
//! the lifecycle API, bad input is refused before any call, and an answer
//! about another tenant is not passed on. Who may call it is in matrix.rs.

use callvault_contracts::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, bpo_admin, error_codes, spawn_app, tenant_user, token};

const CHANGE: &str = "mutation($t: UUID!, $input: TenantKeyChangeInput!) { changeTenantKey(tenantId: $t, input: $input) { id keyRef } }";
const ARN: &str = "arn:aws:kms:ap-northeast-1:111122223333:key/acme-own";

async fn change(app: &TestApp, who: &str, input: Value) -> Value {
    let vars = json!({ "t": app.metadata.world.tenant_a.0, "input": input });
    app.gql(Some(who), CHANGE, vars).await
}

#[tokio::test]
async fn a_key_change_carries_its_mode_arn_and_reason() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin = token(&tenant_user(Role::TenantAdmin, w.tenant_a));

    let rotated = change(
        &app,
        &admin,
        json!({ "mode": "MANAGED", "reason": "  annual rotation  " }),
    )
    .await;
    assert_eq!(error_codes(&rotated), Vec::<String>::new(), "{rotated}");
    let changed = &rotated["data"]["changeTenantKey"];
    assert_eq!(changed["id"], w.tenant_a.0.to_string());
    assert_eq!(
        changed["keyRef"],
        format!("local:tenant/{}", w.tenant_a.0),
        "the managed key"
    );
    let calls = app.lifecycle.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "change_tenant_key");
    assert_eq!(calls[0].tenant, w.tenant_a.0);
    assert_eq!(calls[0].reason.as_deref(), Some("annual rotation"));
    let actor = calls[0].actor.clone().expect("an actor");
    assert_eq!(
        (actor.role, actor.tenant_id),
        (Role::TenantAdmin, Some(w.tenant_a))
    );
    assert!(
        actor.origin.is_some(),
        "the client's address, for the audit"
    );

    app.lifecycle.clear();
    let by_bpo = token(&bpo_admin(w.bpo_x));
    let switched = change(
        &app,
        &by_bpo,
        json!({ "mode": "EXTERNAL", "keyArn": ARN, "reason": "BYOK" }),
    )
    .await;
    assert_eq!(error_codes(&switched), Vec::<String>::new(), "{switched}");
    assert_eq!(switched["data"]["changeTenantKey"]["keyRef"], ARN);
    assert_eq!(app.lifecycle.methods(), ["change_tenant_key"]);
}

#[tokio::test]
async fn bad_key_change_input_is_refused_before_any_call() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin = token(&tenant_user(Role::TenantAdmin, w.tenant_a));
    let long = "r".repeat(501);
    let cases = [
        json!({ "mode": "MANAGED", "keyArn": ARN, "reason": "rotate" }),
        json!({ "mode": "EXTERNAL", "reason": "byok" }),
        json!({ "mode": "EXTERNAL", "keyArn": "key/acme-own", "reason": "byok" }),
        json!({ "mode": "EXTERNAL", "keyArn": "arn:aws:kms: x", "reason": "byok" }),
        json!({ "mode": "MANAGED", "reason": "   " }),
        json!({ "mode": "MANAGED", "reason": long }),
    ];
    for input in cases {
        let answer = change(&app, &admin, input.clone()).await;
        assert_eq!(
            error_codes(&answer),
            ["BAD_USER_INPUT"],
            "{input}: {answer}"
        );
    }
    assert!(app.lifecycle.calls().is_empty(), "nothing reached the api");

    // 500 characters still make a reason.
    let longest = "r".repeat(500);
    let answer = change(
        &app,
        &admin,
        json!({ "mode": "MANAGED", "reason": longest }),
    )
    .await;
    assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
}

#[tokio::test]
async fn a_key_change_answered_for_another_tenant_is_not_passed_on() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    app.lifecycle.go_rogue();
    let admin = token(&tenant_user(Role::TenantAdmin, w.tenant_a));
    let answer = change(
        &app,
        &admin,
        json!({ "mode": "MANAGED", "reason": "rotate" }),
    )
    .await;
    assert_eq!(error_codes(&answer), ["INTERNAL"], "{answer}");
    assert!(
        !answer.to_string().contains(&w.tenant_c.0.to_string()),
        "{answer}"
    );
}
