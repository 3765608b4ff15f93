//! Cross-tenant and cross-BPO refusals, checked at the gateway: the
//! metadata double records every call, and a refused request must leave
//! no call behind (or, for a BPO admin, only the tenant lookup).

use callvault_contracts::Role;
use serde_json::json;

use crate::support::metadata::Call;
use crate::support::{bpo_admin, error_codes, platform_admin, spawn_app, tenant_user, token};

const RECORDINGS: &str =
    "query($t: UUID!) { recordings(tenantId: $t) { nodes { id agent playbackUrl } } }";
const RECORDING: &str =
    "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { id playbackUrl } }";
const USERS: &str = "query($t: UUID!) { users(tenantId: $t) { id } }";
const API_KEYS: &str = "query($t: UUID!) { apiKeys(tenantId: $t) { id } }";

#[tokio::test]
async fn another_tenant_cannot_reach_tenant_a() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let vars = json!({ "t": w.tenant_a.0, "r": w.rec_a1.0 });
    // Tenant B's most powerful role, and its plain users.
    for role in [
        Role::TenantAdmin,
        Role::Supervisor,
        Role::ComplianceOfficer,
        Role::Agent,
    ] {
        let intruder = token(&tenant_user(role, w.tenant_b));
        for query in [RECORDINGS, RECORDING, USERS, API_KEYS] {
            let answer = app.gql(Some(&intruder), query, vars.clone()).await;
            assert_eq!(
                error_codes(&answer),
                ["FORBIDDEN"],
                "{role:?} {query}: {answer}"
            );
            // No playback URL (or anything else) leaked in a partial answer.
            assert!(answer["data"].is_null(), "{answer}");
        }
    }
    assert_eq!(
        app.metadata.calls(),
        [],
        "the metadata service was never reached"
    );
}

#[tokio::test]
async fn bpo_admin_cannot_reach_another_bpo() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin_x = token(&bpo_admin(w.bpo_x));

    let list = app
        .gql(
            Some(&admin_x),
            "query($b: UUID!) { tenants(bpoId: $b) { id } }",
            json!({ "b": w.bpo_y.0 }),
        )
        .await;
    assert_eq!(error_codes(&list), ["FORBIDDEN"], "{list}");
    let onboard = app
        .gql(
            Some(&admin_x),
            "mutation($b: UUID!) { onboardTenant(input: { bpoId: $b, name: \"n\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: MANAGED }) { id } }",
            json!({ "b": w.bpo_y.0 }),
        )
        .await;
    assert_eq!(error_codes(&onboard), ["FORBIDDEN"], "{onboard}");
    assert_eq!(app.metadata.calls(), []);

    // Tenant C is BPO Y's: only the lookup that told us so reached metadata.
    let answer = app
        .gql(Some(&admin_x), RECORDINGS, json!({ "t": w.tenant_c.0 }))
        .await;
    assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{answer}");
    assert_eq!(
        app.metadata.calls(),
        [Call {
            method: "get_tenant",
            target: Some(w.tenant_c.0)
        }]
    );
    // A tenant that doesn't exist looks the same as another BPO's.
    app.metadata.clear();
    let missing = app
        .gql(Some(&admin_x), USERS, json!({ "t": uuid::Uuid::new_v4() }))
        .await;
    assert_eq!(error_codes(&missing), ["FORBIDDEN"], "{missing}");
    assert_eq!(app.metadata.methods(), ["get_tenant"]);
}

#[tokio::test]
async fn bpo_admin_reaches_its_own_tenants() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin_x = token(&bpo_admin(w.bpo_x));
    let answer = app
        .gql(Some(&admin_x), RECORDINGS, json!({ "t": w.tenant_a.0 }))
        .await;
    assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
    assert_eq!(
        answer["data"]["recordings"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(app.metadata.methods(), ["get_tenant", "search_recordings"]);

    let list = app
        .gql(
            Some(&admin_x),
            "query($b: UUID!) { tenants(bpoId: $b) { id } }",
            json!({ "b": w.bpo_x.0 }),
        )
        .await;
    assert_eq!(
        list["data"]["tenants"].as_array().map(Vec::len),
        Some(2),
        "{list}"
    );
}

#[tokio::test]
async fn auditor_cannot_search_recordings() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let auditor = token(&tenant_user(Role::Auditor, w.tenant_a));
    let vars = json!({ "t": w.tenant_a.0, "r": w.rec_a1.0 });
    for query in [RECORDINGS, RECORDING] {
        let answer = app.gql(Some(&auditor), query, vars.clone()).await;
        assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{answer}");
    }
    assert_eq!(app.metadata.calls(), []);
}

#[tokio::test]
async fn agent_searches_only_its_own_calls() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let agent = token(&tenant_user(Role::Agent, w.tenant_a)); // agent id ag-1
    // Even asking for another agent's calls, the search is pinned to ag-1.
    let query = "query($t: UUID!) { recordings(tenantId: $t, filter: { agent: \"ag-2\" }) { nodes { id agent } } }";
    let answer = app
        .gql(Some(&agent), query, json!({ "t": w.tenant_a.0 }))
        .await;
    assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
    let nodes = answer["data"]["recordings"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(nodes.len(), 1, "{answer}");
    assert_eq!(nodes[0]["agent"], "ag-1");
    let filter = app.metadata.last_filter().expect("search reached metadata");
    assert_eq!(filter.agent.as_deref(), Some("ag-1"));

    // Another agent's recording by id: as if it didn't exist.
    let other = app
        .gql(
            Some(&agent),
            RECORDING,
            json!({ "t": w.tenant_a.0, "r": w.rec_a2.0 }),
        )
        .await;
    assert_eq!(error_codes(&other), ["NOT_FOUND"], "{other}");
    let own = app
        .gql(
            Some(&agent),
            RECORDING,
            json!({ "t": w.tenant_a.0, "r": w.rec_a1.0 }),
        )
        .await;
    assert!(own["data"]["recording"]["playbackUrl"].is_string(), "{own}");
}

#[tokio::test]
async fn platform_admin_cannot_read_recordings() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin = token(&platform_admin());
    let vars = json!({ "t": w.tenant_a.0, "r": w.rec_a1.0 });
    for query in [RECORDINGS, RECORDING, API_KEYS] {
        let answer = app.gql(Some(&admin), query, vars.clone()).await;
        assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{answer}");
    }
    assert_eq!(app.metadata.calls(), []);
    // It does run the platform.
    let bpo = app
        .gql(
            Some(&admin),
            "mutation { createBpo(name: \"Acme BPO\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(bpo["data"]["createBpo"]["name"], "Acme BPO", "{bpo}");
}

#[tokio::test]
async fn every_mutation_is_denied_to_the_wrong_role() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let (a, b, x, y) = (w.tenant_a.0, w.tenant_b.0, w.bpo_x.0, w.bpo_y.0);
    let key = uuid::Uuid::new_v4();
    let onboard = |bpo: uuid::Uuid| {
        format!(
            "mutation {{ onboardTenant(input: {{ bpoId: \"{bpo}\", name: \"n\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: MANAGED }}) {{ id }} }}"
        )
    };
    let create_user = |role: &str, scope: String| {
        format!(
            "mutation {{ createUser(input: {{ subject: \"new@example.test\", role: {role}, {scope} }}) {{ id }} }}"
        )
    };
    let cases = [
        (
            tenant_user(Role::TenantAdmin, w.tenant_a),
            "mutation { createBpo(name: \"b\") { id } }".to_owned(),
        ),
        (
            bpo_admin(w.bpo_x),
            "mutation { createBpo(name: \"b\") { id } }".to_owned(),
        ),
        (tenant_user(Role::TenantAdmin, w.tenant_a), onboard(x)),
        (bpo_admin(w.bpo_x), onboard(y)),
        (
            tenant_user(Role::Supervisor, w.tenant_a),
            create_user("SUPERVISOR", format!("tenantId: \"{a}\"")),
        ),
        (
            tenant_user(Role::TenantAdmin, w.tenant_a),
            create_user("SUPERVISOR", format!("tenantId: \"{b}\"")),
        ),
        (
            tenant_user(Role::TenantAdmin, w.tenant_a),
            create_user("BPO_ADMIN", format!("bpoId: \"{x}\"")),
        ),
        (
            bpo_admin(w.bpo_x),
            create_user("PLATFORM_ADMIN", String::new()),
        ),
        (
            bpo_admin(w.bpo_x),
            create_user("BPO_ADMIN", format!("bpoId: \"{y}\"")),
        ),
        (
            tenant_user(Role::Supervisor, w.tenant_a),
            format!("mutation {{ createApiKey(tenantId: \"{a}\", name: \"pbx\") {{ secret }} }}"),
        ),
        (
            platform_admin(),
            format!("mutation {{ createApiKey(tenantId: \"{a}\", name: \"pbx\") {{ secret }} }}"),
        ),
        (
            tenant_user(Role::TenantAdmin, w.tenant_b),
            format!("mutation {{ createApiKey(tenantId: \"{a}\", name: \"pbx\") {{ secret }} }}"),
        ),
        (
            tenant_user(Role::Auditor, w.tenant_a),
            format!("mutation {{ revokeApiKey(tenantId: \"{a}\", id: \"{key}\") {{ id }} }}"),
        ),
        (
            tenant_user(Role::TenantAdmin, w.tenant_b),
            format!("mutation {{ revokeApiKey(tenantId: \"{a}\", id: \"{key}\") {{ id }} }}"),
        ),
    ];
    for (actor, mutation) in cases {
        let answer = app.gql(Some(&token(&actor)), &mutation, json!({})).await;
        assert_eq!(
            error_codes(&answer),
            ["FORBIDDEN"],
            "{:?} {mutation}: {answer}",
            actor.role
        );
    }
    assert_eq!(
        app.metadata.calls(),
        [],
        "no refused mutation reached metadata"
    );
}

#[tokio::test]
async fn permitted_mutations_reach_metadata_bound_to_their_scope() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin_a = token(&tenant_user(Role::TenantAdmin, w.tenant_a));
    let created = app
        .gql(
            Some(&admin_a),
            "mutation($t: UUID!) { createApiKey(tenantId: $t, name: \"pbx\") { key { tenantId prefix } secret } }",
            json!({ "t": w.tenant_a.0 }),
        )
        .await;
    assert_eq!(
        created["data"]["createApiKey"]["secret"], "cvk_abcd_test_secret",
        "{created}"
    );
    let user = app
        .gql(
            Some(&admin_a),
            "mutation($t: UUID!) { createUser(input: { subject: \"qa@example.test\", role: AGENT, tenantId: $t, agentId: \"ag-9\" }) { role tenantId agentId } }",
            json!({ "t": w.tenant_a.0 }),
        )
        .await;
    assert_eq!(user["data"]["createUser"]["role"], "AGENT", "{user}");
    let admin_x = token(&bpo_admin(w.bpo_x));
    let tenant = app
        .gql(
            Some(&admin_x),
            "mutation($b: UUID!) { onboardTenant(input: { bpoId: $b, name: \"Acme\", timeZone: \"Asia/Tokyo\", defaultRetentionDays: 90, keyMode: EXTERNAL, keyArn: \"arn:aws:kms:ap-northeast-1:111122223333:key/abc\" }) { bpoId } }",
            json!({ "b": w.bpo_x.0 }),
        )
        .await;
    assert_eq!(
        tenant["data"]["onboardTenant"]["bpoId"],
        w.bpo_x.0.to_string(),
        "{tenant}"
    );
    assert_eq!(
        app.metadata.calls(),
        [
            Call {
                method: "create_api_key",
                target: Some(w.tenant_a.0)
            },
            Call {
                method: "create_user",
                target: Some(w.tenant_a.0)
            },
            Call {
                method: "onboard_tenant",
                target: Some(w.bpo_x.0)
            },
        ]
    );
}

#[tokio::test]
async fn onboarding_carries_the_default_region_both_ways() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin_x = token(&bpo_admin(w.bpo_x));
    let onboarded = app
        .gql(
            Some(&admin_x),
            "mutation($b: UUID!) { onboardTenant(input: { bpoId: $b, name: \"Acme\", timeZone: \"UTC\", defaultRetentionDays: 90, keyMode: MANAGED, defaultRegion: \" FR \" }) { defaultRegion } }",
            json!({ "b": w.bpo_x.0 }),
        )
        .await;
    assert_eq!(
        onboarded["data"]["onboardTenant"]["defaultRegion"], "FR",
        "{onboarded}"
    );
    let read = app
        .gql(
            Some(&admin_x),
            "query($t: UUID!) { tenant(id: $t) { timeZone defaultRegion } }",
            json!({ "t": w.tenant_a.0 }),
        )
        .await;
    assert_eq!(read["data"]["tenant"]["defaultRegion"], "JP", "{read}");
}
