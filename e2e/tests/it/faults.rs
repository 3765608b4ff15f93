//! Faults the services must survive without losing or leaking anything.

use std::path::Path;

use callvault_e2e::{Callvault, mulaw_wav};
use callvault_testkit::MotoServer;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{call, create_bpo, onboard, upload};

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// KMS goes away (our moto, stopped by its PID): uploads are refused with
/// 503, a retryable error, and nothing is written: no object, no temp file,
/// and the audio is nowhere on disk in the clear.
#[tokio::test]
async fn kms_unreachable_refuses_uploads_with_503_and_writes_nothing() {
    let moto = MotoServer::start();
    let endpoint = moto.endpoint();
    let client = reqwest::Client::new();
    let env = [
        ("CALLVAULT_KEYS__PROVIDER", "kms"),
        ("CALLVAULT_KEYS__KMS_ENDPOINT", endpoint.as_str()),
        ("CALLVAULT_KEYS__KMS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let cv = Callvault::start_with(&env).await;
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Bank").await;
    let audio = mulaw_wav(10, 3);
    let first = upload(
        &cv,
        &client,
        &tenant.key,
        &call("kms-1", "+819000000001", "a"),
        &audio,
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let blobs = cv.data_dir.path().join("data").join("blobs");
    let before = files(&blobs);
    drop(moto);
    let refused = upload(
        &cv,
        &client,
        &tenant.key,
        &call("kms-2", "+819000000002", "a"),
        &audio,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = refused.json().await.expect("json error");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert_eq!(
        files(&blobs),
        before,
        "nothing written, not even a temp file"
    );
    // The audio appears nowhere on disk in the clear.
    let sample = &audio[5_000..5_064];
    for file in files(cv.data_dir.path()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(sample.len()).any(|window| window == sample),
            "{} holds plaintext audio",
            file.display()
        );
    }
}
