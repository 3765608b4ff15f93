//! Hardening, through the HTTP API of the running binary: header values
//! that once crashed the probe, audio longer than its call, an upload over
//! the size limit, and a damaged recording caught before playback starts,
//! verified on demand and written to the audit trail.

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Tenant, call, create_bpo, onboard, upload};

async fn code_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("a json error body");
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

/// A µ-law WAV whose `fmt ` chunk declares a sample rate of 0.
fn zero_rate_wav() -> Vec<u8> {
    let mut wav = mulaw_wav(2, 1);
    // RIFF(12) + "fmt "(4) + size(4) + tag(2) + channels(2): the rate.
    wav[24..28].copy_from_slice(&0u32.to_le_bytes());
    wav
}

async fn tenant(cv: &Callvault, client: &reqwest::Client) -> Tenant {
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(cv, client, &admin, "Acme BPO").await;
    onboard(cv, client, &admin, &bpo, "Bank").await
}

#[tokio::test]
async fn bad_audio_is_refused_with_a_code_and_frees_the_call_segment() {
    let cv = Callvault::start_with(&[("CALLVAULT_INGESTION__MAX_UPLOAD_BYTES", "400000")]).await;
    let client = reqwest::Client::new();
    let tenant = tenant(&cv, &client).await;
    let segment = call("crash-1", "+819000000001", "a");

    let response = upload(&cv, &client, &tenant.key, &segment, &zero_rate_wav()).await;
    assert_eq!(
        code_of(response).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_audio".into())
    );
    // The call lasts 30 s: 40 s of audio can't be its recording.
    let response = upload(&cv, &client, &tenant.key, &segment, &mulaw_wav(40, 1)).await;
    assert_eq!(
        code_of(response).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "duration_mismatch".into())
    );
    // 60 s of 8 kHz µ-law is 480 kB: over this site's 400 kB limit.
    let response = upload(&cv, &client, &tenant.key, &segment, &mulaw_wav(60, 1)).await;
    assert_eq!(
        code_of(response).await,
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into())
    );
    // Nothing held the segment: good audio goes in at once, not 409.
    let response = upload(&cv, &client, &tenant.key, &segment, &mulaw_wav(3, 1)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let log = cv.log_text();
    assert!(!log.contains("panicked"), "no panic: {log}");
}

/// The object files under the process's blob directory.
fn objects(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(objects(&path));
        } else if path.extension().is_some_and(|e| e == "cvro") {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn a_damaged_recording_is_refused_before_playback_starts_verified_and_audited() {
    let cv = Callvault::start_embedded().await;
    let client = reqwest::Client::new();
    let tenant = tenant(&cv, &client).await;
    let audio = mulaw_wav(20, 4);
    let response = upload(
        &cv,
        &client,
        &tenant.key,
        &call("dmg-1", "+819000000002", "a"),
        &audio,
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: Value = response.json().await.expect("receipt");
    let recording = receipt["recording_id"].as_str().expect("id").to_owned();
    let officer = cv.admin_token(&["--role", "compliance_officer", "--tenant", &tenant.id]);
    let auditor = cv.admin_token(&["--role", "auditor", "--tenant", &tenant.id]);
    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let verify = "mutation($t: UUID!, $r: UUID!) { verifyRecording(tenantId: $t, id: $r) { intact bytesChecked failure } }";
    let vars = json!({ "t": tenant.id, "r": recording });

    // Intact, and played as what it is.
    let data = graphql(&client, &cv.base_url, &auditor, verify, vars.clone())
        .await
        .expect("verify");
    assert_eq!(data["verifyRecording"]["intact"], true);
    assert_eq!(data["verifyRecording"]["bytesChecked"], audio.len());
    let url_query = "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { playbackUrl(reason: \"dispute\") } }";
    let url = loop {
        match graphql(&client, &cv.base_url, &officer, url_query, vars.clone()).await {
            Ok(data) => {
                break data["recording"]["playbackUrl"]
                    .as_str()
                    .expect("url")
                    .to_owned();
            }
            // The catalogue lags the upload by an event.
            Err(code) if code == "NOT_FOUND" => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(code) => panic!("playbackUrl: {code}"),
        }
    };
    let good = client.get(&url).send().await.expect("get");
    assert_eq!(good.status(), StatusCode::OK);
    assert_eq!(good.headers()["content-type"], "audio/wav");

    // A supervisor may play it, not verify it; another tenant can't reach it.
    assert_eq!(
        graphql(&client, &cv.base_url, &supervisor, verify, vars.clone())
            .await
            .err()
            .as_deref(),
        Some("FORBIDDEN")
    );
    let other = onboard(
        &cv,
        &client,
        &cv.admin_token(&[]),
        &create_bpo(&cv, &client, &cv.admin_token(&[]), "Other BPO").await,
        "Other",
    )
    .await;
    let other_officer = cv.admin_token(&["--role", "compliance_officer", "--tenant", &other.id]);
    assert_eq!(
        graphql(&client, &cv.base_url, &other_officer, verify, vars.clone())
            .await
            .err()
            .as_deref(),
        Some("FORBIDDEN")
    );
    assert_eq!(
        graphql(
            &client,
            &cv.base_url,
            &other_officer,
            verify,
            json!({ "t": other.id, "r": recording })
        )
        .await
        .err()
        .as_deref(),
        Some("NOT_FOUND")
    );

    // Damage the object: a bit in its first frame.
    let path = objects(cv.data_dir.path())
        .into_iter()
        .find(|p| p.to_string_lossy().contains(&recording))
        .expect("object");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[100] ^= 0x01;
    let mut permissions = std::fs::metadata(&path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&path, permissions).expect("chmod");
    std::fs::write(&path, &bytes).expect("write");

    let get = client.get(&url).send().await.expect("get");
    assert_eq!(
        code_of(get).await,
        (StatusCode::INTERNAL_SERVER_ERROR, "integrity_error".into())
    );
    let head = client.head(&url).send().await.expect("head");
    assert_eq!(
        head.status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "HEAD checks what GET checks"
    );
    let data = graphql(&client, &cv.base_url, &officer, verify, vars.clone())
        .await
        .expect("verify");
    assert_eq!(data["verifyRecording"]["intact"], false);
    assert!(data["verifyRecording"]["failure"].is_string());

    // Three failures (GET, HEAD, verify), each in the tenant's audit chain.
    let trail = "query($t: UUID!) { tenant(id: $t) { auditTrail(first: 100) { nodes { action target details } } verifyAuditChain { intact } } }";
    let mut found = 0;
    for _ in 0..100 {
        let data = graphql(
            &client,
            &cv.base_url,
            &auditor,
            trail,
            json!({ "t": tenant.id }),
        )
        .await
        .expect("audit trail");
        assert_eq!(data["tenant"]["verifyAuditChain"]["intact"], true);
        found = data["tenant"]["auditTrail"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|e| e["action"] == "INTEGRITY_FAILURE" && e["target"] == recording.as_str())
            .count();
        if found == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(found, 3);
    let metrics = client
        .get(format!("{}/metrics", cv.base_url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("callvault_storage_integrity_failures_total{detected_by=\"read\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("callvault_storage_integrity_failures_total{detected_by=\"verify\"} 1")
    );
}
