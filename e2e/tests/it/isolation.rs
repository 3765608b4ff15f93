//! Tenant and BPO isolation through the real binary: another tenant's token
//! can't see, search, play or upload into a tenant; another BPO's admin
//! can't reach its tenants; a recorder key only ingests into its own tenant.

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard, search_until, upload};

#[tokio::test]
async fn tenants_and_bpos_cannot_reach_each_other() {
    let cv = Callvault::start_embedded().await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo_x = create_bpo(&cv, &client, &admin, "BPO X").await;
    let bpo_y = create_bpo(&cv, &client, &admin, "BPO Y").await;
    let tenant_a = onboard(&cv, &client, &admin, &bpo_x, "Tenant A").await;
    let tenant_b = onboard(&cv, &client, &admin, &bpo_y, "Tenant B").await;

    let audio = mulaw_wav(5, 3);
    let response = upload(
        &cv,
        &client,
        &tenant_a.key,
        &call("a-1", "+815011112222", "agent-1"),
        &audio,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: Value = response.json().await.expect("receipt");
    let recording_a = receipt["recording_id"].as_str().expect("id").to_owned();
    assert_eq!(receipt["tenant_id"], tenant_a.id.as_str());
    let supervisor_a = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant_a.id]);
    let found = search_until(&cv, &client, &supervisor_a, &tenant_a.id, json!({}), 1).await;
    let playback_a = found[0]["playbackUrl"].as_str().expect("url").to_owned();

    // Tenant B's users: every role, against tenant A's data.
    for role in ["tenant_admin", "supervisor", "compliance_officer"] {
        let token = cv.admin_token(&["--role", role, "--tenant", &tenant_b.id]);
        let search = graphql(
            &client,
            &cv.base_url,
            &token,
            "query($t: UUID!) { recordings(tenantId: $t) { edges { node { id } } } }",
            json!({ "t": tenant_a.id }),
        )
        .await;
        assert_eq!(
            search,
            Err("FORBIDDEN".to_owned()),
            "{role} searched tenant A"
        );
        let get = graphql(
            &client,
            &cv.base_url,
            &token,
            "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { playbackUrl } }",
            json!({ "t": tenant_a.id, "r": recording_a }),
        )
        .await;
        assert_eq!(
            get,
            Err("FORBIDDEN".to_owned()),
            "{role} got tenant A's playback url"
        );
        // Naming its own tenant with A's recording id finds nothing.
        let own = graphql(
            &client,
            &cv.base_url,
            &token,
            "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { id } }",
            json!({ "t": tenant_b.id, "r": recording_a }),
        )
        .await;
        assert_eq!(
            own,
            Err("NOT_FOUND".to_owned()),
            "{role} reached A's recording through tenant B"
        );
        let users = graphql(
            &client,
            &cv.base_url,
            &token,
            "query($t: UUID!) { apiKeys(tenantId: $t) { id } }",
            json!({ "t": tenant_a.id }),
        )
        .await;
        assert_eq!(
            users,
            Err("FORBIDDEN".to_owned()),
            "{role} listed tenant A's keys"
        );
    }
    // Playback URLs are bound to their tenant: A's URL rewritten to B fails.
    let rewritten = playback_a.replace(&tenant_a.id, &tenant_b.id);
    assert_eq!(
        client.get(&rewritten).send().await.expect("get").status(),
        StatusCode::FORBIDDEN
    );

    // Tenant B's recorder key uploads the same call id: it lands in B only.
    let response = upload(
        &cv,
        &client,
        &tenant_b.key,
        &call("a-1", "+815011112222", "agent-1"),
        &audio,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: Value = response.json().await.expect("receipt");
    assert_eq!(receipt["tenant_id"], tenant_b.id.as_str());
    assert_ne!(receipt["recording_id"], recording_a.as_str());
    let supervisor_b = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant_b.id]);
    search_until(&cv, &client, &supervisor_b, &tenant_b.id, json!({}), 1).await;
    search_until(&cv, &client, &supervisor_a, &tenant_a.id, json!({}), 1).await;
    // The same number in two tenants has different blind indexes, and each
    // tenant finds only its own call.
    let by_number = search_until(
        &cv,
        &client,
        &supervisor_a,
        &tenant_a.id,
        json!({ "phoneNumber": "+815011112222" }),
        1,
    )
    .await;
    assert_eq!(by_number[0]["id"], recording_a.as_str());

    // BPO X's admin: its own tenant yes, BPO Y's no.
    let bpo_x_admin = cv.admin_token(&["--role", "bpo_admin", "--bpo", &bpo_x]);
    let own = graphql(
        &client,
        &cv.base_url,
        &bpo_x_admin,
        "query($b: UUID!) { tenants(bpoId: $b) { id } }",
        json!({ "b": bpo_x }),
    )
    .await;
    assert!(own.is_ok(), "{own:?}");
    let other = graphql(
        &client,
        &cv.base_url,
        &bpo_x_admin,
        "query($b: UUID!) { tenants(bpoId: $b) { id } }",
        json!({ "b": bpo_y }),
    )
    .await;
    assert_eq!(other, Err("FORBIDDEN".to_owned()));
    let onboard_y = graphql(
        &client,
        &cv.base_url,
        &bpo_x_admin,
        "mutation($b: UUID!) { onboardTenant(input: {bpoId: $b, name: \"Sneaky\", timeZone: \"UTC\", defaultRetentionDays: 30, keyMode: MANAGED}) { id } }",
        json!({ "b": bpo_y }),
    )
    .await;
    assert_eq!(onboard_y, Err("FORBIDDEN".to_owned()));
    let search_b = graphql(
        &client,
        &cv.base_url,
        &bpo_x_admin,
        "query($t: UUID!) { recordings(tenantId: $t) { edges { node { id } } } }",
        json!({ "t": tenant_b.id }),
    )
    .await;
    assert_eq!(search_b, Err("FORBIDDEN".to_owned()));
    let search_a = graphql(
        &client,
        &cv.base_url,
        &bpo_x_admin,
        "query($t: UUID!) { recordings(tenantId: $t) { edges { node { id } } } }",
        json!({ "t": tenant_a.id }),
    )
    .await;
    assert!(
        search_a.is_ok(),
        "bpo admin of X can't see its own tenant: {search_a:?}"
    );
}
