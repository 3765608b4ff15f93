//! The positive paths through the gateway and the real metadata service:
//! onboarding, users and keys, a catalogued call found and authorised for
//! playback, retention and holds, the audit trail that records all of it —
//! and the same requests from another tenant finding nothing.

use callvault_contracts::call::{AudioInfo, CallMetadata, Direction};
use callvault_contracts::events::RecordingIngestedV1;
use callvault_contracts::{BpoId, RecordingId, Role, TenantId};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use crate::support::real::spawn;
use crate::support::{bpo_admin, error_codes, platform_admin, tenant_user, token};

fn data(answer: &Value) -> &Value {
    assert!(answer["errors"].is_null(), "{answer}");
    &answer["data"]
}

fn uuid(value: &Value) -> String {
    value.as_str().expect("an id").to_owned()
}

fn call(tenant: TenantId, caller: &str) -> RecordingIngestedV1 {
    let at = |seconds| {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, seconds)
            .single()
            .expect("time")
    };
    RecordingIngestedV1 {
        tenant_id: tenant,
        recording_id: RecordingId::new(),
        call: CallMetadata {
            external_call_id: "crm-4711".into(),
            segment: 0,
            direction: Direction::Inbound,
            caller_number: caller.into(),
            callee_number: "+81355550100".into(),
            agent: Some("agent-7".into()),
            queue: Some("support".into()),
            started_at: at(0),
            ended_at: at(30),
            tags: vec!["complaint".into()],
            agent_channel: None,
            customer_channel: None,
            attributes: [("product".to_owned(), "securities".to_owned())].into(),
            notice_played: Some(true),
            pauses: Vec::new(),
        },
        audio: AudioInfo {
            codec: "wav/pcm_mulaw".into(),
            sample_rate: 8000,
            channels: 1,
            duration_ms: 30_000,
        },
        size: 240_000,
        sha256: "cd".repeat(32),
        key_ref: format!("local:tenant/{tenant}"),
        ingested_at: at(40),
    }
}

#[tokio::test]
async fn onboarding_search_playback_holds_and_audit_through_the_real_service() {
    let app = spawn().await;
    let platform = token(&platform_admin());

    let created = app
        .gql(
            Some(&platform),
            "mutation { createBpo(name: \"Acme Contact Centers\") { id name } }",
            json!({}),
        )
        .await;
    let bpo = uuid(&data(&created)["createBpo"]["id"]);
    let bpo_token = token(&bpo_admin(BpoId(bpo.parse().expect("uuid"))));
    let onboard = "mutation($b: UUID!, $n: String!) { onboardTenant(input: {bpoId: $b, name: $n, timeZone: \"Asia/Tokyo\", defaultRetentionDays: 365, keyMode: MANAGED}) { id timeZone defaultRegion } }";
    let onboarded = app
        .gql(
            Some(&bpo_token),
            onboard,
            json!({ "b": bpo, "n": "Example Bank" }),
        )
        .await;
    let tenant = data(&onboarded)["onboardTenant"].clone();
    assert_eq!(tenant["defaultRegion"], "JP");
    let tenant_id: TenantId = uuid(&tenant["id"]).parse().expect("tenant id");
    let other = app
        .gql(
            Some(&bpo_token),
            onboard,
            json!({ "b": bpo, "n": "Other Bank" }),
        )
        .await;
    let other_id: TenantId = uuid(&data(&other)["onboardTenant"]["id"])
        .parse()
        .expect("id");

    let admin = token(&tenant_user(Role::TenantAdmin, tenant_id));
    let vars = json!({ "t": tenant_id.to_string() });
    let user = app
        .gql(
            Some(&admin),
            "mutation($t: UUID!) { createUser(input: {subject: \"bob@example.com\", role: SUPERVISOR, tenantId: $t}) { role tenantId } }",
            vars.clone(),
        )
        .await;
    assert_eq!(data(&user)["createUser"]["role"], "SUPERVISOR");
    let key = app
        .gql(Some(&admin), "mutation($t: UUID!) { createApiKey(tenantId: $t, name: \"recorder-1\") { secret key { name } } }", vars.clone())
        .await;
    assert!(uuid(&data(&key)["createApiKey"]["secret"]).starts_with("cvk_"));
    let users = app
        .gql(
            Some(&admin),
            "query($t: UUID!) { users(tenantId: $t) { subject } }",
            vars.clone(),
        )
        .await;
    assert_eq!(data(&users)["users"][0]["subject"], "bob@example.com");

    // A call catalogued from the bus, found by its number in national form.
    app.ingest(call(tenant_id, "+81312345678")).await;
    app.ingest(call(other_id, "+81312345678")).await;
    let supervisor = token(&tenant_user(Role::Supervisor, tenant_id));
    let search = "query($t: UUID!) { recordings(tenantId: $t, filter: {phoneNumber: \"03-1234-5678\"}) { nodes { id agent externalCallId playbackUrl } } }";
    let found = app.gql(Some(&supervisor), search, vars.clone()).await;
    let nodes = data(&found)["recordings"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), 1, "only this tenant's call");
    assert_eq!(nodes[0]["agent"], "agent-7");
    let url = nodes[0]["playbackUrl"].as_str().expect("a playback url");
    assert!(url.starts_with(PLAYBACK_PREFIX), "{url}");

    // The CRM's link: the same call by the id the CTI gave it.
    let by_call = app
        .gql(
            Some(&supervisor),
            "query($t: UUID!) { callRecordings(tenantId: $t, externalCallId: \"crm-4711\") { id segment } }",
            vars.clone(),
        )
        .await;
    assert_eq!(data(&by_call)["callRecordings"][0]["id"], nodes[0]["id"]);
    let call = app
        .gql(
            Some(&supervisor),
            "query($t: UUID!) { call(tenantId: $t, externalCallId: \"crm-4711\") { externalCallId recordedMs segments { id segment } } }",
            vars.clone(),
        )
        .await;
    let call = &data(&call)["call"];
    assert_eq!(call["externalCallId"], "crm-4711");
    assert_eq!(call["segments"][0]["id"], nodes[0]["id"]);
    assert_eq!(call["segments"].as_array().map(Vec::len), Some(1));
    let none = app
        .gql(
            Some(&supervisor),
            "query($t: UUID!) { call(tenantId: $t, externalCallId: \"crm-0000\") { externalCallId } }",
            vars.clone(),
        )
        .await;
    assert!(data(&none)["call"].is_null(), "no such call: null");

    // By the CRM's attribute: this tenant's call only.
    let by_attribute = app
        .gql(
            Some(&supervisor),
            "query($t: UUID!) { recordings(tenantId: $t, filter: {attributes: [{key: \"product\", value: \"securities\"}]}) { nodes { id attributes { key value } } } }",
            vars.clone(),
        )
        .await;
    let found = data(&by_attribute)["recordings"]["nodes"].clone();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["id"], nodes[0]["id"]);
    let other_value = app
        .gql(
            Some(&supervisor),
            "query($t: UUID!) { recordings(tenantId: $t, filter: {attributes: [{key: \"product\", value: \"fx\"}]}) { nodes { id } } }",
            vars.clone(),
        )
        .await;
    assert_eq!(data(&other_value)["recordings"]["nodes"], json!([]));

    // The compliance officer holds it, and the trail has every step.
    let officer = token(&tenant_user(Role::ComplianceOfficer, tenant_id));
    let hold = format!(
        "mutation {{ placeLegalHold(tenantId: \"{tenant_id}\", input: {{ caseName: \"Case 1\", reason: \"dispute\", recordingIds: [\"{}\"] }}) {{ active recordingIds }} }}",
        uuid(&nodes[0]["id"])
    );
    let held = app.gql(Some(&officer), &hold, json!({})).await;
    assert_eq!(data(&held)["placeLegalHold"]["active"], true);
    let trail = app
        .gql(
            Some(&officer),
            "query($t: UUID!) { tenant(id: $t) { legalHolds { caseName } auditTrail(first: 50) { nodes { action } } verifyAuditChain { firstBadSeq } } }",
            vars.clone(),
        )
        .await;
    let tenant_view = &data(&trail)["tenant"];
    assert_eq!(tenant_view["legalHolds"][0]["caseName"], "Case 1");
    let actions: Vec<&str> = tenant_view["auditTrail"]["nodes"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    for action in ["SEARCH", "PLAYBACK", "HOLD_PLACED"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(tenant_view["verifyAuditChain"]["firstBadSeq"].is_null());

    // Another tenant's supervisor, asking for this tenant: refused.
    let intruder = token(&tenant_user(Role::Supervisor, other_id));
    let refused = app.gql(Some(&intruder), search, vars).await;
    assert_eq!(error_codes(&refused), vec!["FORBIDDEN"]);
}

const PLAYBACK_PREFIX: &str = crate::support::PLAYBACK_BASE;
