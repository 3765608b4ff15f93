//! The lifecycle API through the gateway: playback is authorised (and
//! audited) with its reason before a URL is minted, the client's address
//! reaches the backend, lifecycle fields and mutations carry their values
//! both ways, bad input is refused before any call, and the public
//! manifest-key route.

use callvault_contracts::Role;
use serde_json::{Value, json};

use crate::support::lifecycle::{LifecycleCall, PUBLIC_KEY};
use crate::support::{PLAYBACK_BASE, error_codes, spawn_app, tenant_user, token};

const PLAY: &str = "query($t: UUID!, $r: UUID!, $why: String) { recording(tenantId: $t, id: $r) { playbackUrl(reason: $why) } }";

#[tokio::test]
async fn playback_url_is_authorised_with_its_reason_before_it_is_minted() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let supervisor = tenant_user(Role::Supervisor, w.tenant_a);
    let vars = json!({ "t": w.tenant_a.0, "r": w.rec_a1.0, "why": "  qa review  " });
    let answer = app.gql(Some(&token(&supervisor)), PLAY, vars).await;
    let url = answer["data"]["recording"]["playbackUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("a url: {answer}"));
    assert!(
        url.starts_with(&format!(
            "{PLAYBACK_BASE}/v1/playback/{}/{}?",
            w.tenant_a.0, w.rec_a1.0
        )),
        "{url}"
    );
    let calls = app.lifecycle.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, "authorize_playback");
    assert_eq!(calls[0].tenant, w.tenant_a.0);
    assert_eq!(calls[0].reason.as_deref(), Some("qa review"), "trimmed");
    let actor = calls[0].actor.clone().expect("an actor");
    assert_eq!(
        (actor.role, actor.tenant_id),
        (Role::Supervisor, Some(w.tenant_a))
    );

    // The tenant requires a reason: without one, the refusal comes back and
    // no URL is minted.
    app.lifecycle.require_reason(true);
    app.lifecycle.clear();
    let vars = json!({ "t": w.tenant_a.0, "r": w.rec_a1.0 });
    let refused = app.gql(Some(&token(&supervisor)), PLAY, vars).await;
    assert_eq!(error_codes(&refused), ["BAD_USER_INPUT"], "{refused}");
    assert!(
        refused["data"]["recording"].is_null(),
        "no url leaked: {refused}"
    );
    assert!(!refused.to_string().contains("/v1/playback/"), "{refused}");
    assert_eq!(app.lifecycle.methods(), ["authorize_playback"]);
    assert_eq!(app.lifecycle.calls()[0].reason, None);
}

#[tokio::test]
async fn each_playback_url_of_a_search_is_authorised_once() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let admin_x = token(&crate::support::bpo_admin(w.bpo_x));
    let search = "query($t: UUID!) { recordings(tenantId: $t) { nodes { id playbackUrl(reason: \"audit sample\") } } }";
    let answer = app
        .gql(Some(&admin_x), search, json!({ "t": w.tenant_a.0 }))
        .await;
    assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
    let nodes = answer["data"]["recordings"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(nodes.len(), 2, "{answer}");
    for node in &nodes {
        let id = node["id"].as_str().expect("id");
        let url = node["playbackUrl"].as_str().expect("url");
        assert!(url.contains(id), "each url is for its own recording: {url}");
    }
    let calls = app.lifecycle.calls();
    assert_eq!(
        calls.iter().map(|call| call.method).collect::<Vec<_>>(),
        ["authorize_playback", "authorize_playback"]
    );
    assert!(
        calls
            .iter()
            .all(|call| call.reason.as_deref() == Some("audit sample"))
    );
    // One tenant lookup for the whole request, however many URLs.
    assert_eq!(app.metadata.methods(), ["get_tenant", "search_recordings"]);

    // A search that doesn't ask for URLs plays nothing.
    app.lifecycle.clear();
    let ids_only = "query($t: UUID!) { recordings(tenantId: $t) { nodes { id } } }";
    let answer = app
        .gql(Some(&admin_x), ids_only, json!({ "t": w.tenant_a.0 }))
        .await;
    assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
    assert_eq!(app.lifecycle.calls(), Vec::<LifecycleCall>::new());
}

#[tokio::test]
async fn the_client_address_reaches_the_backend_and_forwarded_headers_do_not() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let officer = token(&tenant_user(Role::ComplianceOfficer, w.tenant_a));
    let query = "query($t: UUID!) { tenant(id: $t) { auditTrail(first: 1) { nodes { seq } } } }";
    let vars = json!({ "t": w.tenant_a.0 });
    let plain = app.gql(Some(&officer), query, vars.clone()).await;
    assert_eq!(error_codes(&plain), Vec::<String>::new(), "{plain}");
    let spoofed = app
        .gql_with_header(
            Some(&officer),
            Some(("x-forwarded-for", "198.51.100.77")),
            query,
            vars,
        )
        .await;
    assert_eq!(error_codes(&spoofed), Vec::<String>::new(), "{spoofed}");
    let origins: Vec<Option<String>> = app
        .lifecycle
        .calls()
        .into_iter()
        .map(|call| call.actor.and_then(|actor| actor.origin))
        .collect();
    assert_eq!(
        origins,
        [Some("127.0.0.1".to_owned()), Some("127.0.0.1".to_owned())]
    );
}

#[tokio::test]
async fn recording_fields_and_lifecycle_come_through() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let agent = token(&tenant_user(Role::Agent, w.tenant_a));
    let query = "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { attributes { key value } noticePlayed pauses { startMs endMs } restricted lifecycle { rule { source id name retentionDays } retainUntil holds } } }";
    let answer = app
        .gql(
            Some(&agent),
            query,
            json!({ "t": w.tenant_a.0, "r": w.rec_a1.0 }),
        )
        .await;
    assert_eq!(
        answer["data"]["recording"],
        json!({
            "attributes": [{ "key": "product", "value": "loans" }],
            "noticePlayed": true,
            "pauses": [{ "startMs": 10000, "endMs": 15000 }],
            "restricted": true,
            "lifecycle": {
                "rule": { "source": "RULE", "id": uuid::Uuid::nil(), "name": "securities", "retentionDays": 1825 },
                "retainUntil": "2025-01-02T03:04:05+00:00",
                "holds": [uuid::Uuid::nil()],
            },
        }),
        "{answer}"
    );
    assert_eq!(app.lifecycle.methods(), ["recording_lifecycle"]);

    // The search filter passes noticePlayed on.
    let supervisor = token(&tenant_user(Role::Supervisor, w.tenant_a));
    let search = "query($t: UUID!) { recordings(tenantId: $t, filter: { noticePlayed: false }) { nodes { id } } }";
    let answer = app
        .gql(Some(&supervisor), search, json!({ "t": w.tenant_a.0 }))
        .await;
    assert_eq!(error_codes(&answer), Vec::<String>::new(), "{answer}");
    let filter = app.metadata.last_filter().expect("search reached metadata");
    assert_eq!(filter.notice_played, Some(false));
}

#[tokio::test]
async fn lifecycle_mutations_and_fields_carry_their_values() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let officer = token(&tenant_user(Role::ComplianceOfficer, w.tenant_a));
    let a = w.tenant_a.0;
    let run = |query: String| {
        let app = &app;
        let officer = &officer;
        async move {
            let answer = app.gql(Some(officer), &query, json!({})).await;
            assert_eq!(
                error_codes(&answer),
                Vec::<String>::new(),
                "{query}: {answer}"
            );
            answer["data"].clone()
        }
    };
    let rule = run(format!(
        "mutation {{ createRetentionRule(tenantId: \"{a}\", input: {{ name: \" securities \", matches: {{ queue: \"trading\", direction: OUTBOUND, tags: [\"mifid\"], attributes: [{{ key: \"product\", value: \"securities\" }}] }}, retentionDays: 2555, overriding: true, legalBasis: \" MiFID II art. 16(7)\\nrecords of telephone conversations \" }}) {{ tenantId name matches {{ queue direction tags attributes {{ key value }} }} retentionDays overriding legalBasis statutory }} }}"
    ))
    .await;
    assert_eq!(
        rule["createRetentionRule"],
        json!({ "tenantId": a, "name": "securities", "matches": { "queue": "trading", "direction": "OUTBOUND", "tags": ["mifid"], "attributes": [{ "key": "product", "value": "securities" }] }, "retentionDays": 2555, "overriding": true, "legalBasis": "MiFID II art. 16(7)\nrecords of telephone conversations", "statutory": true })
    );
    let hold = run(format!(
        "mutation {{ placeLegalHold(tenantId: \"{a}\", input: {{ caseName: \"Case 8\", reason: \"regulator\", filter: {{ phoneNumber: \"+81312345678\", noticePlayed: false }} }}) {{ caseName recordingIds filter {{ phoneNumber noticePlayed }} active }} }}"
    ))
    .await;
    assert_eq!(
        hold["placeLegalHold"],
        json!({ "caseName": "Case 8", "recordingIds": null, "filter": { "phoneNumber": "+81312345678", "noticePlayed": false }, "active": true })
    );
    let released = run(format!(
        "mutation {{ releaseLegalHold(tenantId: \"{a}\", id: \"{}\", reason: \"settled\") {{ active releaseReason }} }}",
        uuid::Uuid::new_v4()
    ))
    .await;
    assert_eq!(
        released["releaseLegalHold"],
        json!({ "active": false, "releaseReason": "settled" })
    );
    let deleted = run(format!(
        "mutation {{ deleteRecording(tenantId: \"{a}\", id: \"{}\", reason: USER_REQUEST, note: \"duplicate upload\") {{ deleted {{ recordingId reason policy }} }} }}",
        w.rec_a2.0
    ))
    .await;
    assert_eq!(
        deleted["deleteRecording"]["deleted"],
        json!([{ "recordingId": w.rec_a2.0, "reason": "USER_REQUEST", "policy": "duplicate upload" }])
    );
    let tenant = run(format!(
        "{{ tenant(id: \"{a}\") {{ policy {{ defaultRetentionDays requirePlaybackReason }} auditTrail(after: 4, first: 2) {{ nodes {{ seq action origin details }} endSeq hasNextPage }} verifyAuditChain {{ entriesChecked firstBadSeq intact }} dailyManifest(date: \"2025-01-01\") {{ date publicKey }} manifestPublicKey }} }}"
    ))
    .await;
    assert_eq!(
        tenant["tenant"],
        json!({
            "policy": { "defaultRetentionDays": 365, "requirePlaybackReason": false },
            "auditTrail": {
                "nodes": [
                    { "seq": 5, "action": "PLAYBACK", "origin": "203.0.113.9", "details": { "ttl_secs": 300 } },
                    { "seq": 6, "action": "PLAYBACK", "origin": "203.0.113.9", "details": { "ttl_secs": 300 } },
                ],
                "endSeq": 6,
                "hasNextPage": true,
            },
            "verifyAuditChain": { "entriesChecked": 12, "firstBadSeq": null, "intact": true },
            "dailyManifest": { "date": "2025-01-01", "publicKey": PUBLIC_KEY },
            "manifestPublicKey": PUBLIC_KEY,
        })
    );
    let calls = app.lifecycle.calls();
    let reasons: Vec<(&str, Option<&str>)> = calls
        .iter()
        .map(|call| (call.method, call.reason.as_deref()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("create_retention_rule", None),
            ("place_hold", Some("regulator")),
            ("release_hold", Some("settled")),
            ("delete_recording", Some("duplicate upload")),
            ("get_policy", None),
            ("audit_trail", None),
            ("verify_audit_chain", None),
            ("daily_manifest", None),
            ("manifest_public_key", None),
        ]
    );
    assert!(calls.iter().all(|call| call.tenant == a));
}

#[tokio::test]
async fn bad_lifecycle_input_is_refused_before_any_call() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let officer = token(&tenant_user(Role::ComplianceOfficer, w.tenant_a));
    let (a, r) = (w.tenant_a.0, w.rec_a1.0);
    let long = "x".repeat(1001);
    let hold = |fields: &str| {
        format!("mutation {{ placeLegalHold(tenantId: \"{a}\", input: {{ {fields} }}) {{ id }} }}")
    };
    let rule = |fields: &str| {
        format!(
            "mutation {{ createRetentionRule(tenantId: \"{a}\", input: {{ {fields} }}) {{ id }} }}"
        )
    };
    let many_ids: Vec<String> = (0..1001)
        .map(|_| format!("\"{}\"", uuid::Uuid::new_v4()))
        .collect();
    let many_tags: Vec<String> = (0..33).map(|i| format!("\"t{i}\"")).collect();
    let cases: Vec<String> = vec![
        format!(
            "mutation {{ setTenantPolicy(tenantId: \"{a}\", input: {{ defaultRetentionDays: 0, requirePlaybackReason: true }}) {{ defaultRetentionDays }} }}"
        ),
        format!(
            "mutation {{ setTenantPolicy(tenantId: \"{a}\", input: {{ defaultRetentionDays: 36501, requirePlaybackReason: true }}) {{ defaultRetentionDays }} }}"
        ),
        rule("name: \"\", retentionDays: 30"),
        rule("name: \"r\", retentionDays: -1"),
        rule("name: \"r\", retentionDays: 30, matches: { queue: \"\" }"),
        rule("name: \"r\", retentionDays: 30, legalBasis: \"  \""),
        rule(&format!(
            "name: \"r\", retentionDays: 30, legalBasis: \"{}\"",
            "é".repeat(501)
        )),
        rule(&format!(
            "name: \"r\", retentionDays: 30, matches: {{ tags: [{}] }}",
            many_tags.join(",")
        )),
        rule(
            "name: \"r\", retentionDays: 30, matches: { attributes: [{ key: \"a\", value: \"1\" }, { key: \"a\", value: \"2\" }] }",
        ),
        rule(
            "name: \"r\", retentionDays: 30, matches: { attributes: [{ key: \"\", value: \"1\" }] }",
        ),
        format!(
            "mutation {{ deleteRetentionRule(tenantId: \"{a}\", id: \"not-a-uuid\") {{ id }} }}"
        ),
        hold("caseName: \"c\", reason: \"r\""),
        hold(&format!(
            "caseName: \"c\", reason: \"r\", recordingIds: [\"{r}\"], filter: {{ agent: \"ag-1\" }}"
        )),
        hold("caseName: \"c\", reason: \"r\", recordingIds: []"),
        hold(&format!(
            "caseName: \"c\", reason: \"r\", recordingIds: [{}]",
            many_ids.join(",")
        )),
        hold(&format!(
            "caseName: \"c\", reason: \"r\", recordingIds: [\"{r}\", \"{r}\"]"
        )),
        hold(&format!(
            "caseName: \"\", reason: \"r\", recordingIds: [\"{r}\"]"
        )),
        hold(&format!(
            "caseName: \"c\", reason: \"{long}\", recordingIds: [\"{r}\"]"
        )),
        hold("caseName: \"c\", reason: \"r\", filter: { minDurationMs: 10, maxDurationMs: 5 }"),
        format!(
            "mutation {{ releaseLegalHold(tenantId: \"{a}\", id: \"{r}\", reason: \"   \") {{ id }} }}"
        ),
        format!(
            "mutation {{ deleteRecording(tenantId: \"{a}\", id: \"{r}\", reason: RETENTION, note: \"n\") {{ id }} }}"
        ),
        format!(
            "mutation {{ deleteRecording(tenantId: \"{a}\", id: \"{r}\", reason: ERASURE, note: \"\") {{ id }} }}"
        ),
        format!(
            "mutation {{ deleteRecording(tenantId: \"{a}\", id: \"{r}\", reason: ERASURE, note: \"a\\u0000b\") {{ id }} }}"
        ),
        format!("{{ tenant(id: \"{a}\") {{ auditTrail(first: 0) {{ endSeq }} }} }}"),
        format!("{{ tenant(id: \"{a}\") {{ auditTrail(first: 101) {{ endSeq }} }} }}"),
        format!("{{ tenant(id: \"{a}\") {{ auditTrail(after: -1, first: 10) {{ endSeq }} }} }}"),
        format!("{{ tenant(id: \"{a}\") {{ dailyManifest(date: \"2025-02-30\") {{ body }} }} }}"),
        format!("{{ recording(tenantId: \"{a}\", id: \"{r}\") {{ playbackUrl(reason: \"\") }} }}"),
        format!(
            "{{ recording(tenantId: \"{a}\", id: \"{r}\") {{ playbackUrl(reason: \"{}\") }} }}",
            "y".repeat(501)
        ),
    ];
    for query in cases {
        app.metadata.clear();
        let answer = app.gql(Some(&officer), &query, json!({})).await;
        assert_eq!(
            error_codes(&answer),
            ["BAD_USER_INPUT"],
            "{query}: {answer}"
        );
        // The enclosing tenant/recording may have been read; nothing else.
        let reached = app.metadata.methods();
        assert!(
            reached
                .iter()
                .all(|m| ["get_tenant", "get_recording"].contains(m)),
            "{query}: {reached:?}"
        );
    }
    assert_eq!(
        app.lifecycle.calls(),
        [],
        "bad input reached the lifecycle api"
    );
}

async fn get_json(app: &crate::support::TestApp, path: &str) -> (u16, Value) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("a json body"))
}

#[tokio::test]
async fn the_manifest_key_is_public() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let (status, body) =
        get_json(&app, &format!("/v1/tenants/{}/manifest-key", w.tenant_a.0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "tenant_id": w.tenant_a.0, "algorithm": "Ed25519", "public_key": PUBLIC_KEY })
    );
    let calls = app.lifecycle.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].method, calls[0].actor.clone()),
        ("manifest_public_key", None)
    );

    let (status, body) = get_json(&app, "/v1/tenants/not-a-uuid/manifest-key").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    assert_eq!(app.lifecycle.calls().len(), 1, "a bad id reaches nothing");

    let (status, body) = get_json(
        &app,
        &format!("/v1/tenants/{}/manifest-key", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

#[tokio::test]
async fn a_backend_answer_about_another_tenant_or_recording_is_not_passed_on() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    app.lifecycle.go_rogue();
    let officer = token(&tenant_user(Role::ComplianceOfficer, w.tenant_a));
    let vars = json!({ "t": w.tenant_a.0, "r": w.rec_a1.0, "why": "qa" });
    for query in [
        "query($t: UUID!) { tenant(id: $t) { legalHolds { id tenantId } } }",
        "query($t: UUID!) { tenant(id: $t) { auditTrail(first: 2) { nodes { seq tenantId } } } }",
        PLAY,
    ] {
        let answer = app.gql(Some(&officer), query, vars.clone()).await;
        assert_eq!(error_codes(&answer), ["INTERNAL"], "{query}: {answer}");
        assert_eq!(answer["errors"][0]["message"], "internal error");
        let text = answer.to_string();
        assert!(!text.contains(&w.tenant_c.0.to_string()), "{text}");
        assert!(!text.contains("/v1/playback/"), "{text}");
    }
}
