//! A tenant key change, end to end in embedded mode (local keyring): the
//! tenant admin rotates the tenant's managed key, the storage service
//! re-wraps the recording's data key on `tenant.key_changed`, the recording
//! plays byte for byte before, during and after, a new upload works, and
//! the auditor finds the change in the audit trail.

use std::time::{Duration, Instant};

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard, search_until, upload};

const CALLER: &str = "+819033334444";
const REASON: &str = "annual key rotation";
/// What the storage consumer logs once it re-wrapped a tenant's data keys.
const REWRAPPED: &str = "tenant data keys re-wrapped";

async fn play(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let response = client.get(url).send().await.expect("play");
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    response.bytes().await.expect("body").to_vec()
}

/// Each stored recording's data-key state, oldest first: the local
/// keyring's wrapped keys start with the big-endian master-key version that
/// wrapped them, and `rewrapped_at` is set once re-wrapped.
fn data_keys(cv: &Callvault) -> Vec<(String, bool)> {
    let database = cv.data_dir.path().join("data").join("storage.db");
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             [print(v, r) for v, r in c.execute(\"SELECT lower(hex(substr(wrapped_key, 1, 4))), \
             rewrapped_at IS NOT NULL FROM storage_objects WHERE state = 'stored' ORDER BY created_at\")]",
            &database.display().to_string(),
        ])
        .output()
        .expect("python3 sqlite3");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let (version, rewrapped) = line.split_once(' ').expect("two columns");
            (version.to_owned(), rewrapped == "1")
        })
        .collect()
}

#[tokio::test]
async fn a_managed_key_rotation_rewraps_and_every_recording_still_plays() {
    let cv = Callvault::start_embedded().await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;
    let token = |role: &str, subject: &str| {
        cv.admin_token(&["--role", role, "--tenant", &tenant.id, "--subject", subject])
    };
    let tenant_admin = token("tenant_admin", "it-admin@example.com");
    let supervisor = token("supervisor", "qa@example.com");
    let auditor = token("auditor", "auditor@example.com");
    let gql = |token: &str, query: &str, variables: Value| {
        let (client, base, token) = (client.clone(), cv.base_url.clone(), token.to_owned());
        let query = query.to_owned();
        async move { graphql(&client, &base, &token, &query, variables).await }
    };

    let audio = mulaw_wav(5, 11);
    let response = upload(
        &cv,
        &client,
        &tenant.key,
        &call("rotate-1", CALLER, "agent-7"),
        &audio,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let found = search_until(&cv, &client, &supervisor, &tenant.id, json!({}), 1).await;
    let url = found[0]["playbackUrl"].as_str().expect("url").to_owned();
    assert_eq!(play(&client, &url).await, audio, "plays before the change");
    assert_eq!(data_keys(&cv), [("00000001".to_owned(), false)]);

    let key_ref = gql(
        &tenant_admin,
        "query($t: UUID!) { tenant(id: $t) { keyRef } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("tenant")["tenant"]["keyRef"]
        .as_str()
        .expect("key ref")
        .to_owned();

    // Neither a supervisor nor an auditor may change the key.
    let change = "mutation($t: UUID!, $why: String!) { changeTenantKey(tenantId: $t, input: {mode: MANAGED, reason: $why}) { id keyRef } }";
    let vars = json!({ "t": tenant.id, "why": REASON });
    for refused in [&supervisor, &auditor] {
        let outcome = gql(refused, change, vars.clone()).await;
        assert_eq!(outcome, Err("FORBIDDEN".to_owned()));
    }
    let changed = gql(&tenant_admin, change, vars).await.expect("change key");
    assert_eq!(changed["changeTenantKey"]["id"], tenant.id.as_str());
    assert_eq!(
        changed["changeTenantKey"]["keyRef"],
        key_ref.as_str(),
        "a rotation keeps the key reference"
    );

    // The event reaches storage through the metadata outbox; the recording
    // keeps playing while it is on its way.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert_eq!(play(&client, &url).await, audio, "plays during the change");
        let logs = cv.log_text();
        let rewrapped = logs
            .lines()
            .any(|line| line.contains(REWRAPPED) && line.contains(&tenant.id));
        if rewrapped {
            break;
        }
        assert!(Instant::now() < deadline, "no re-wrap within 30 s:\n{logs}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        data_keys(&cv),
        [("00000002".to_owned(), true)],
        "the data key is under the new key version"
    );

    // Byte-identical after, through the old URL and a new one.
    assert_eq!(play(&client, &url).await, audio, "plays after the change");
    let found = search_until(&cv, &client, &supervisor, &tenant.id, json!({}), 1).await;
    let fresh = found[0]["playbackUrl"].as_str().expect("url");
    assert_eq!(play(&client, fresh).await, audio);

    // A new upload goes under the new version and plays.
    let second = mulaw_wav(3, 12);
    let response = upload(
        &cv,
        &client,
        &tenant.key,
        &call("rotate-2", CALLER, "agent-8"),
        &second,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let found = search_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "agent": "agent-8" }),
        1,
    )
    .await;
    let url = found[0]["playbackUrl"].as_str().expect("url");
    assert_eq!(play(&client, url).await, second);
    assert_eq!(
        data_keys(&cv),
        [
            ("00000002".to_owned(), true),
            ("00000002".to_owned(), false)
        ]
    );

    // The auditor sees who changed the key, why, and between which keys;
    // the chain still verifies.
    let trail = gql(
        &auditor,
        "query($t: UUID!) { tenant(id: $t) { auditTrail(first: 100) { nodes { seq action actor role target reason details } hasNextPage } verifyAuditChain { firstBadSeq } } }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("audit trail");
    let page = &trail["tenant"]["auditTrail"];
    assert_eq!(page["hasNextPage"], false, "{page}");
    let changes: Vec<&Value> = page["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|entry| entry["action"] == "KEY_CHANGE")
        .collect();
    assert_eq!(changes.len(), 1, "{page}");
    let entry = changes[0];
    assert_eq!(entry["actor"], "it-admin@example.com");
    assert_eq!(entry["role"], "tenant_admin");
    assert_eq!(entry["target"], tenant.id.as_str());
    assert_eq!(entry["reason"], REASON);
    assert_eq!(
        entry["details"],
        json!({ "mode": "managed", "from_key_ref": key_ref, "to_key_ref": key_ref })
    );
    assert_eq!(
        trail["tenant"]["verifyAuditChain"]["firstBadSeq"],
        Value::Null
    );

    // Tokens and phone numbers stay out of the logs.
    let logs = cv.log_text();
    for secret in [
        CALLER,
        "819033334444",
        tenant.key.as_str(),
        tenant_admin.as_str(),
        auditor.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "the logs contain a phone number or a secret"
        );
    }
}
