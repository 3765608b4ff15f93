//! The retention drill a regulator would ask for: a 30-day policy, the
//! clock moved forward, due recordings shredded except the one on legal
//! hold, a deletion certificate that lists exactly them, an audit chain that
//! verifies, and that stops verifying at the row someone edited by hand.
//!
//! Embedded mode (SQLite, local keyring) with its recordings on moto's S3 in
//! a versioned bucket, so "no version left" is checked on a real S3 API.

use std::collections::BTreeSet;

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use callvault_testkit::MotoServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    call, create_bpo, create_bucket, object_versions, onboard, search_fields_until, upload,
};

const BUCKET: &str = "lifecycle";
const CALLER: &str = "+819011112222";
const THIRTY_ONE_DAYS: &str = "2678400";

#[tokio::test]
async fn due_recordings_are_shredded_except_the_one_on_hold() {
    let moto = MotoServer::start();
    let endpoint = moto.endpoint();
    let client = reqwest::Client::new();
    create_bucket(&client, &endpoint, BUCKET).await;
    let mut cv = Callvault::start_with(&[
        ("CALLVAULT_BLOB__BACKEND", "s3"),
        ("CALLVAULT_BLOB__S3_BUCKET", BUCKET),
        ("CALLVAULT_BLOB__S3_ENDPOINT", &endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        // The drill runs the deletion itself, not on the timer.
        ("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "0"),
        // The log capture below checks the most verbose level for leaks.
        ("CALLVAULT_LOG", "debug"),
    ])
    .await;
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Securities").await;
    let token = |role: &str, subject: &str| {
        cv.admin_token(&["--role", role, "--tenant", &tenant.id, "--subject", subject])
    };
    let compliance = token("compliance_officer", "compliance@example.com");
    let auditor = token("auditor", "auditor@example.com");
    let supervisor = token("supervisor", "qa@example.com");
    let base_url = cv.base_url.clone();
    let gql = |token: &str, query: &str, variables: Value| {
        let (client, base, token) = (client.clone(), base_url.clone(), token.to_owned());
        let query = query.to_owned();
        async move { graphql(&client, &base, &token, &query, variables).await }
    };

    gql(
        &compliance,
        "mutation($t: UUID!) { setTenantPolicy(tenantId: $t, input: {defaultRetentionDays: 30, requirePlaybackReason: true}) { defaultRetentionDays } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("30-day policy");

    let mut ids = Vec::new();
    for (n, external) in ["drill-a", "drill-b", "drill-c"].iter().enumerate() {
        let response = upload(
            &cv,
            &client,
            &tenant.key,
            &call(external, CALLER, "agent-7"),
            &mulaw_wav(5, n as u32),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let receipt: Value = response.json().await.expect("receipt");
        ids.push(receipt["recording_id"].as_str().expect("id").to_owned());
    }
    search_fields_until(&cv, &client, &supervisor, &tenant.id, json!({}), 3, "id").await;
    let (due_a, held, due_c) = (ids[0].clone(), ids[1].clone(), ids[2].clone());

    let hold = gql(
        &compliance,
        "mutation($t: UUID!, $r: UUID!) { placeLegalHold(tenantId: $t, input: {caseName: \"dispute 17\", reason: \"customer complaint under review\", recordingIds: [$r]}) { id } }",
        json!({ "t": tenant.id, "r": held }),
    )
    .await
    .expect("hold");
    let hold_id = hold["placeLegalHold"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // The tenant requires a reason to play: without one, refused; with one,
    // a URL (and an audit entry).
    let playback = "query($t: UUID!, $r: UUID!, $why: String) { recording(tenantId: $t, id: $r) { playbackUrl(reason: $why) } }";
    let refused = gql(&supervisor, playback, json!({ "t": tenant.id, "r": due_a })).await;
    assert_eq!(refused, Err("BAD_USER_INPUT".to_owned()));
    let url = gql(
        &supervisor,
        playback,
        json!({ "t": tenant.id, "r": due_a, "why": "QA review" }),
    )
    .await
    .expect("playback url")["recording"]["playbackUrl"]
        .as_str()
        .expect("url")
        .to_owned();
    let played = client.get(&url).send().await.expect("play");
    assert_eq!(played.status(), StatusCode::OK);
    let signature = url.split("sig=").nth(1).expect("signed").to_owned();
    // A copy taken for the dispute file is audited as a download.
    let download = gql(
        &compliance,
        "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { downloadUrl(reason: \"evidence for case 17\") } }",
        json!({ "t": tenant.id, "r": held }),
    )
    .await
    .expect("download url");
    let copy = client
        .get(download["recording"]["downloadUrl"].as_str().expect("url"))
        .send()
        .await
        .expect("download");
    assert_eq!(copy.status(), StatusCode::OK);

    // 31 days later.
    cv.restart_with(&[("CALLVAULT_LIFECYCLE__CLOCK_OFFSET_SECS", THIRTY_ONE_DAYS)])
        .await;
    let run = gql(
        &compliance,
        "mutation($t: UUID!) { runDeletion(tenantId: $t) { id deleted { recordingId reason } heldBack failed } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("deletion run");
    let certificate = &run["runDeletion"];
    let deleted: BTreeSet<&str> = certificate["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|tombstone| tombstone["recordingId"].as_str().expect("id"))
        .collect();
    assert_eq!(deleted, BTreeSet::from([due_a.as_str(), due_c.as_str()]));
    assert_eq!(certificate["heldBack"], json!([held]));
    assert_eq!(certificate["failed"], json!([]));
    let certificates = gql(
        &compliance,
        "query($t: UUID!) { tenant(id: $t) { deletionCertificates { id deleted { recordingId } } } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("certificates");
    assert_eq!(
        certificates["tenant"]["deletionCertificates"][0]["id"],
        certificate["id"]
    );

    // S3 keeps no version of the shredded objects; the held one is intact.
    let keys = object_versions(&client, &endpoint, BUCKET).await;
    assert!(
        keys.iter()
            .all(|key| !key.contains(&due_a) && !key.contains(&due_c)),
        "versions left: {keys:?}"
    );
    assert!(keys.iter().any(|key| key.contains(&held)), "{keys:?}");

    // A shredded recording: its old playback URL answers "shredded", the
    // catalogue no longer lists it, the held one still plays.
    let gone = client.get(&url).send().await.expect("play shredded");
    assert_eq!(gone.status(), StatusCode::GONE);
    let body: Value = gone.json().await.expect("json error");
    assert_eq!(body["error"]["code"], "shredded");
    let lookup = gql(
        &supervisor,
        "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { id } }",
        json!({ "t": tenant.id, "r": due_c }),
    )
    .await;
    assert_eq!(lookup, Err("NOT_FOUND".to_owned()));
    search_fields_until(&cv, &client, &supervisor, &tenant.id, json!({}), 1, "id").await;

    // The audit chain verifies, through GraphQL and the CLI…
    let verify =
        "query($t: UUID!) { tenant(id: $t) { verifyAuditChain { entriesChecked firstBadSeq } } }";
    let verified = gql(&auditor, verify, json!({ "t": tenant.id }))
        .await
        .expect("verify");
    assert_eq!(
        verified["tenant"]["verifyAuditChain"]["firstBadSeq"],
        Value::Null
    );
    let entries = verified["tenant"]["verifyAuditChain"]["entriesChecked"]
        .as_u64()
        .expect("count");
    assert!(
        entries >= 6,
        "policy, hold, playback, searches, deletions: {entries}"
    );
    let (ok, output) = cv.run_command(&["audit", "verify", "--tenant", &tenant.id]);
    assert!(ok, "{output}");
    // Who did what, from where and why, as the auditor reads it.
    let trail = gql(
        &auditor,
        "query($t: UUID!) { tenant(id: $t) { auditTrail(first: 100) { nodes { seq actor action target origin reason } } } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("audit trail");
    let entries = trail["tenant"]["auditTrail"]["nodes"]
        .as_array()
        .expect("entries")
        .clone();
    let find = |action: &str, target: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["target"] == target)
            .unwrap_or_else(|| panic!("no {action} of {target} in {entries:?}"))
            .clone()
    };
    let played = find("PLAYBACK", &due_a);
    assert_eq!(played["actor"], "qa@example.com");
    assert_eq!(played["reason"], "QA review");
    assert_eq!(played["origin"], "127.0.0.1");
    let downloaded = find("DOWNLOAD", &held);
    assert_eq!(downloaded["reason"], "evidence for case 17");
    find("HOLD_PLACED", &hold_id);
    find("DELETION", &due_c);

    // …until someone edits a row by hand.
    let tampered_seq = 3;
    let database = cv.data_dir.path().join("data").join("metadata.db");
    let edited = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             n=c.execute(\"UPDATE audit_entries SET reason = 'nothing to see' WHERE seq = ?\", (int(sys.argv[2]),)).rowcount; \
             c.commit(); print(n)",
            &database.display().to_string(),
            &tampered_seq.to_string(),
        ])
        .output()
        .expect("python3 sqlite3");
    assert_eq!(
        String::from_utf8_lossy(&edited.stdout).trim(),
        "1",
        "{edited:?}"
    );
    let (ok, output) = cv.run_command(&["audit", "verify", "--tenant", &tenant.id]);
    assert!(!ok, "a tampered chain must fail verification: {output}");
    assert!(
        output.contains(&format!("entry {tampered_seq} does not verify")),
        "{output}"
    );
    let verified = gql(&auditor, verify, json!({ "t": tenant.id }))
        .await
        .expect("verify");
    assert_eq!(
        verified["tenant"]["verifyAuditChain"]["firstBadSeq"],
        json!(tampered_seq)
    );

    // Nothing personal or secret reached the logs of the whole run, at the
    // most verbose level.
    let logs = cv.log_text();
    assert!(
        logs.contains("recording ingested"),
        "empty log capture:\n{logs}"
    );
    for secret in [
        CALLER,
        "819011112222",
        "+81355550100",
        tenant.key.as_str(),
        admin.as_str(),
        compliance.as_str(),
        supervisor.as_str(),
        signature.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "the logs contain a phone number or a secret"
        );
    }
}
