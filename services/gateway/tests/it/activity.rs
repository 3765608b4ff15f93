//! `user.active`: one event per tenant, person and quarter hour, with a
//! pseudonym for the person, off the request path.

use std::sync::atomic::Ordering;
use std::time::Duration;

use callvault_contracts::Role;
use callvault_contracts::events::UserActiveV1;
use callvault_gateway::UserPseudonyms;
use serde_json::json;

use crate::support::{
    ACTIVITY_START, PSEUDONYM_SECRET, TestApp, bpo_admin, error_codes, platform_admin, spawn_app,
    tenant_user, token,
};

const ME: &str = "{ me { role } }";

fn events(app: &TestApp) -> Vec<UserActiveV1> {
    app.bus
        .published("user.active")
        .iter()
        .map(|message| message.decode().expect("a user.active v1"))
        .collect()
}

/// Long enough for a spawned publish to have run.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_person_is_active_once_per_quarter_hour_under_a_pseudonym() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let supervisor = tenant_user(Role::Supervisor, w.tenant_a);
    let answer = app.gql(Some(&token(&supervisor)), ME, json!({})).await;
    assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
    let published = app.bus.wait_for("user.active", 1).await;
    assert_eq!(published.len(), 1);

    let event: UserActiveV1 = published[0].decode().expect("a user.active v1");
    assert_eq!(event.tenant_id, w.tenant_a);
    assert_eq!(event.active_at.timestamp(), ACTIVITY_START);
    let expected = UserPseudonyms::derive(PSEUDONYM_SECRET).of(&supervisor.subject);
    assert_eq!(event.user, expected);
    assert_eq!(event.user.len(), 32);
    assert!(event.user.bytes().all(|b| b.is_ascii_hexdigit()));
    // The subject appears nowhere in the message, nor its local part.
    let raw = serde_json::to_string(&published[0]).expect("json");
    let local = supervisor.subject.split('@').next().expect("local part");
    assert!(
        !raw.contains(&supervisor.subject) && !raw.contains(local),
        "{raw}"
    );

    // Again in the same quarter hour, whatever the request: nothing more.
    app.clock.fetch_add(899, Ordering::SeqCst);
    app.gql(Some(&token(&supervisor)), ME, json!({})).await;
    let refused = app
        .gql(Some(&token(&supervisor)), "{ bpos { id } }", json!({}))
        .await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"]);
    settle().await;
    assert_eq!(events(&app).len(), 1);

    // The next quarter hour counts again.
    app.clock.fetch_add(1, Ordering::SeqCst);
    app.gql(Some(&token(&supervisor)), ME, json!({})).await;
    let published = app.bus.wait_for("user.active", 2).await;
    assert_eq!(published.len(), 2);
    let next: UserActiveV1 = published[1].decode().expect("a user.active v1");
    assert_eq!((next.user, next.tenant_id), (expected, w.tenant_a));
    assert_eq!(next.active_at.timestamp(), ACTIVITY_START + 900);
}

#[tokio::test]
async fn each_person_and_tenant_counts_apart() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let people = [
        tenant_user(Role::Supervisor, w.tenant_a),
        tenant_user(Role::Agent, w.tenant_a),
        tenant_user(Role::Supervisor, w.tenant_b),
    ];
    for person in &people {
        app.gql(Some(&token(person)), ME, json!({})).await;
    }
    let published = app.bus.wait_for("user.active", 3).await;
    assert_eq!(published.len(), 3);
    let mut seen: Vec<(uuid::Uuid, String)> = events(&app)
        .into_iter()
        .map(|event| (event.tenant_id.0, event.user))
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "{seen:?}");
    // The same subject has the same pseudonym in both tenants: billing
    // counts per tenant, and the pseudonym is of the person.
    let keys = UserPseudonyms::derive(PSEUDONYM_SECRET);
    assert!(seen.contains(&(w.tenant_b.0, keys.of(&people[2].subject))));
    assert!(seen.contains(&(w.tenant_a.0, keys.of(&people[0].subject))));
}

#[tokio::test]
async fn no_event_for_recorder_keys_bad_tokens_or_admins_outside_a_tenant() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    // A recorder's API key (it uploads to ingestion; the gateway refuses it).
    let key = app
        .gql(
            Some("cvk_abcd_0123456789abcdef0123456789abcdef"),
            ME,
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&key), ["UNAUTHENTICATED"]);
    app.gql(None, ME, json!({})).await;
    app.gql(Some("not.a.jwt"), ME, json!({})).await;
    // People without a tenant: billed nowhere as users.
    for admin in [platform_admin(), bpo_admin(w.bpo_x)] {
        let answer = app.gql(Some(&token(&admin)), ME, json!({})).await;
        assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
    }
    settle().await;
    assert!(app.bus.published("user.active").is_empty());
}

#[tokio::test]
async fn a_bus_that_refuses_the_event_fails_no_request() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin = tenant_user(Role::TenantAdmin, w.tenant_a);
    app.bus.fail_publishing(true);
    let answer = app
        .gql(
            Some(&token(&admin)),
            "query($a: UUID!) { users(tenantId: $a) { id } }",
            json!({ "a": w.tenant_a.0 }),
        )
        .await;
    assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
    assert!(answer["data"]["users"].is_array(), "{answer}");
    assert_eq!(app.bus.wait_for("user.active", 1).await.len(), 1, "tried");
    settle().await;

    // The refused event is tried again on the person's next request in the
    // same quarter hour, and then only once.
    app.bus.fail_publishing(false);
    app.gql(Some(&token(&admin)), ME, json!({})).await;
    assert_eq!(app.bus.wait_for("user.active", 2).await.len(), 2);
    app.gql(Some(&token(&admin)), ME, json!({})).await;
    settle().await;
    assert_eq!(app.bus.published("user.active").len(), 2);
}
