//! Evidence that can't be rewritten quietly, through the running binary:
//! a deletion certificate signed with the tenant's manifest key verifies
//! with the public key from `GET /v1/tenants/{id}/manifest-key` (and fails
//! once tampered with), and an audit chain rewritten consistently to the
//! end, stored manifests hidden, still fails against the manifest the
//! tenant kept.

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_e2e::{Callvault, graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard, search_fields_until, upload};

const TWO_DAYS: &str = "172800";

fn verifies(public_key: &str, body: &str, signature: &str) -> bool {
    let public = BASE64.decode(public_key).expect("public key base64");
    let signature = BASE64.decode(signature).expect("signature base64");
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(body.as_bytes(), &signature)
        .is_ok()
}

async fn public_key(client: &reqwest::Client, cv: &Callvault, tenant: &str) -> String {
    let response = client
        .get(format!("{}/v1/tenants/{tenant}/manifest-key", cv.base_url))
        .send()
        .await
        .expect("manifest key");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    body["public_key"].as_str().expect("public_key").to_owned()
}

/// Rewrites the whole trail consistently with AUDIT.md's own Python: entry
/// 1 gets another reason, every hash from there on is recomputed, the head
/// follows; the stored manifests are deleted so only the kept one is left.
fn rewrite_chain(cv: &Callvault, entries: &[Value]) {
    const SCRIPT: &str = r#"
import hashlib, json, sqlite3, sys
from datetime import datetime

def field(value):
    if value is None:
        return b"\x00"
    data = value.encode("utf-8")
    return b"\x01" + len(data).to_bytes(8, "big") + data

def entry_hash(e):
    at = datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
    details = json.dumps(e["details"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    parts = ["callvault audit entry v1", e["tenant_id"], str(e["seq"]),
             at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), e["actor"], e["role"], e["action"],
             e.get("target"), e.get("origin"), e.get("reason"), details, e["prev_hash"]]
    return hashlib.sha256(b"".join(field(p) for p in parts)).hexdigest()

entries = json.load(sys.stdin)
db = sqlite3.connect(sys.argv[1])
prev = "0" * 64
old_head = entries[-1]["hash"]
for e in entries:
    assert entry_hash(e) == e["hash"], "the documented hash must match the stored one"
    old = e["hash"]
    if e["seq"] == 1:
        e["reason"] = "nothing to see"
    e["prev_hash"] = prev
    e["hash"] = entry_hash(e)
    prev = e["hash"]
    n = db.execute("UPDATE audit_entries SET reason = ?, prev_hash = ?, hash = ? WHERE hash = ?",
                   (e["reason"], e["prev_hash"], e["hash"], old)).rowcount
    assert n == 1
assert db.execute("UPDATE audit_heads SET hash = ? WHERE hash = ?", (prev, old_head)).rowcount == 1
db.execute("DELETE FROM daily_manifests")
db.commit()
print(len(entries))
"#;
    let database = cv.data_dir.path().join("data").join("metadata.db");
    let mut child = std::process::Command::new("python3")
        .args(["-c", SCRIPT, &database.display().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let input = serde_json::to_vec(entries).expect("json");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &input).expect("write");
    let output = child.wait_with_output().expect("python3 ran");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        entries.len().to_string()
    );
}

/// The trail as AUDIT.md's Python reads it: snake_case names, actions as
/// stored.
fn as_documented(entry: &Value) -> Value {
    json!({
        "tenant_id": entry["tenantId"],
        "seq": entry["seq"],
        "at": entry["at"],
        "actor": entry["actor"],
        "role": entry["role"],
        "action": entry["action"].as_str().expect("action").to_lowercase(),
        "target": entry["target"],
        "origin": entry["origin"],
        "reason": entry["reason"],
        "details": entry["details"],
        "prev_hash": entry["prevHash"],
        "hash": entry["hash"],
    })
}

#[tokio::test]
async fn signed_certificates_and_kept_manifests_catch_rewrites() {
    let mut cv =
        Callvault::start_with(&[("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "0")]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme BPO").await;
    let a = onboard(&cv, &client, &admin, &bpo, "Bank A").await;
    let b = onboard(&cv, &client, &admin, &bpo, "Bank B").await;
    let token = |role: &str, tenant: &str| cv.admin_token(&["--role", role, "--tenant", tenant]);
    let (compliance_a, auditor_a) = (token("compliance_officer", &a.id), token("auditor", &a.id));
    let (compliance_b, auditor_b) = (token("compliance_officer", &b.id), token("auditor", &b.id));
    let supervisor_a = token("supervisor", &a.id);
    let base = cv.base_url.clone();
    let gql = |token: &str, query: &str, variables: Value| {
        let (client, base, token) = (client.clone(), base.clone(), token.to_owned());
        let query = query.to_owned();
        async move { graphql(&client, &base, &token, &query, variables).await }
    };

    let response = upload(
        &cv,
        &client,
        &a.key,
        &call("evidence-1", "+819011113333", "agent-1"),
        &mulaw_wav(5, 1),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: Value = response.json().await.expect("receipt");
    let recording = receipt["recording_id"].as_str().expect("id").to_owned();
    search_fields_until(&cv, &client, &supervisor_a, &a.id, json!({}), 1, "id").await;

    // A single deletion: its certificate comes back signed.
    let deleted = gql(
        &compliance_a,
        "mutation($t: UUID!, $r: UUID!) { deleteRecording(tenantId: $t, id: $r, reason: ERASURE, note: \"art. 17\") { id startedAt body signature } }",
        json!({ "t": a.id, "r": recording }),
    )
    .await
    .expect("delete");
    let certificate = &deleted["deleteRecording"];
    let body = certificate["body"].as_str().expect("body").to_owned();
    let signature = certificate["signature"]
        .as_str()
        .expect("signature")
        .to_owned();
    let key_a = public_key(&client, &cv, &a.id).await;
    let key_b = public_key(&client, &cv, &b.id).await;
    assert!(verifies(&key_a, &body, &signature));
    assert!(!verifies(&key_b, &body, &signature), "keys are per tenant");
    let tampered = body.replace("erasure", "user_request");
    assert_ne!(tampered, body);
    assert!(!verifies(&key_a, &tampered, &signature));
    let content: Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(content["kind"], "deletion_certificate");
    assert_eq!(content["tenant_id"], a.id);
    assert_eq!(content["certificate_id"], certificate["id"]);
    assert_eq!(content["deleted"][0]["recording_id"], recording);
    assert_eq!(
        content["deleted"][0]["sha256"].as_str().map(str::len),
        Some(64)
    );
    // Listed verbatim, to A's officers only.
    let list = "query($t: UUID!) { tenant(id: $t) { deletionCertificates { id body signature } } }";
    let listed = gql(&compliance_a, list, json!({ "t": a.id }))
        .await
        .expect("list");
    assert_eq!(
        listed["tenant"]["deletionCertificates"],
        json!([{ "id": certificate["id"], "body": body, "signature": signature }])
    );
    assert_eq!(
        gql(&compliance_b, list, json!({ "t": a.id })).await,
        Err("FORBIDDEN".to_owned())
    );

    // Two days on, the day of the deletion is signable: the tenant keeps
    // its manifest, with the audit head of the moment it was signed.
    let day = certificate["startedAt"].as_str().expect("startedAt")[..10].to_owned();
    cv.restart_with(&[("CALLVAULT_LIFECYCLE__CLOCK_OFFSET_SECS", TWO_DAYS)])
        .await;
    let manifest = gql(
        &auditor_a,
        "query($t: UUID!, $d: NaiveDate!) { tenant(id: $t) { dailyManifest(date: $d) { body signature } } }",
        json!({ "t": a.id, "d": day }),
    )
    .await
    .expect("manifest")["tenant"]["dailyManifest"]
        .clone();
    let manifest_body = manifest["body"].as_str().expect("body").to_owned();
    assert!(verifies(
        &key_a,
        &manifest_body,
        manifest["signature"].as_str().expect("signature")
    ));
    let manifest_content: Value = serde_json::from_str(&manifest_body).expect("json");
    let head_seq = manifest_content["audit_head"]["seq"].as_u64().expect("seq");
    assert!(
        head_seq >= 2,
        "search and deletion audited: {manifest_content}"
    );

    let trail = gql(
        &auditor_a,
        "query($t: UUID!) { tenant(id: $t) { auditTrail(first: 100) { nodes { tenantId seq at actor role action target origin reason details prevHash hash } } } }",
        json!({ "t": a.id }),
    )
    .await
    .expect("trail");
    let entries: Vec<Value> = trail["tenant"]["auditTrail"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(as_documented)
        .collect();
    assert_eq!(
        entries[usize::try_from(head_seq).expect("index") - 1]["hash"],
        manifest_content["audit_head"]["hash"]
    );

    let verify = "query($t: UUID!, $m: [KeptManifestInput!]) { tenant(id: $t) { verifyAuditChain(manifests: $m) { intact firstBadSeq manifestsChecked mismatchedManifest } } }";
    let kept = json!([{ "body": manifest_body, "signature": manifest["signature"] }]);
    let before = gql(&auditor_a, verify, json!({ "t": a.id, "m": kept }))
        .await
        .expect("verify");
    assert_eq!(
        before["tenant"]["verifyAuditChain"],
        json!({ "intact": true, "firstBadSeq": null, "manifestsChecked": 2, "mismatchedManifest": null })
    );

    rewrite_chain(&cv, &entries);
    // The chain alone (its stored manifests gone) verifies…
    let alone = gql(&auditor_a, verify, json!({ "t": a.id, "m": null }))
        .await
        .expect("verify");
    assert_eq!(
        alone["tenant"]["verifyAuditChain"],
        json!({ "intact": true, "firstBadSeq": null, "manifestsChecked": 0, "mismatchedManifest": null })
    );
    // …but not against the manifest the tenant kept.
    let against = gql(&auditor_a, verify, json!({ "t": a.id, "m": kept }))
        .await
        .expect("verify");
    assert_eq!(
        against["tenant"]["verifyAuditChain"],
        json!({ "intact": false, "firstBadSeq": 1, "manifestsChecked": 1, "mismatchedManifest": day })
    );

    // Another tenant: can't verify A's chain, and A's manifest is no
    // evidence about B's.
    assert_eq!(
        gql(&auditor_b, verify, json!({ "t": a.id, "m": kept })).await,
        Err("FORBIDDEN".to_owned())
    );
    assert_eq!(
        gql(&auditor_b, verify, json!({ "t": b.id, "m": kept })).await,
        Err("BAD_USER_INPUT".to_owned())
    );
    let forged = json!([{ "body": manifest_body.replace("\"seq\":", "\"seq\":1"), "signature": manifest["signature"] }]);
    assert_eq!(
        gql(&auditor_a, verify, json!({ "t": a.id, "m": forged })).await,
        Err("BAD_USER_INPUT".to_owned())
    );
}
