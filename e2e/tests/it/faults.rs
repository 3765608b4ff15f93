//! Faults the services must survive without losing or leaking anything.

use std::path::Path;
use std::time::Duration;

use callvault_e2e::{Callvault, mulaw_wav};
use callvault_testkit::MotoServer;
use reqwest::StatusCode;
use serde_json::Value;

use crate::cluster::{BUCKET, with_cluster};
use crate::load::{Load, check_nothing_lost};
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

/// The distributed processes on the short clocks these tests need: an
/// upload silent for 5 s is abandoned (so a retry after ingestion's death
/// can take its segment over); every 2 s the reconciler looks at stored
/// recordings older than 10 s, and storage's sweep at writes begun more
/// than 10 s ago that never recorded their object (storage killed between
/// the two).
pub const FAULT_CLOCKS: [(&str, &str); 5] = [
    ("CALLVAULT_INGESTION__STALE_AFTER_SECS", "5"),
    ("CALLVAULT_INGESTION__RECONCILE_INTERVAL_SECS", "2"),
    ("CALLVAULT_INGESTION__RECONCILE_GRACE_SECS", "10"),
    ("CALLVAULT_STORAGE__SWEEP_INTERVAL_SECS", "2"),
    ("CALLVAULT_STORAGE__SWEEP_GRACE_SECS", "10"),
];

/// kill -9 of storage, then metadata, then ingestion, each while recorders
/// upload, each restarted after a second: every accepted upload is
/// catalogued once and plays back byte-identical, every refusal was one a
/// client retries, and the reconciler leaves no object without its entry.
#[tokio::test]
async fn kill_nine_of_each_service_during_uploads_loses_nothing() {
    with_cluster(&FAULT_CLOCKS, |mut cluster| async move {
        let client = reqwest::Client::new();
        let gateway = &cluster.gateway;
        let admin = gateway.admin_token(&[]);
        let bpo = create_bpo(gateway, &client, &admin, "Faulty BPO").await;
        let tenant = onboard(gateway, &client, &admin, &bpo, "Faulty Bank").await;
        let supervisor = gateway.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);

        let load = Load::start(&cluster.ingestion, &tenant.key, 6);
        load.wait_for_more(6, Duration::from_secs(60)).await;
        for victim in [
            &mut cluster.storage,
            &mut cluster.metadata,
            &mut cluster.ingestion,
        ] {
            victim.kill();
            tokio::time::sleep(Duration::from_secs(1)).await;
            victim.start_again().await;
            load.wait_for_more(6, Duration::from_secs(120)).await;
        }
        let outcome = load.finish().await;
        assert!(
            outcome.retried.contains_key("connection"),
            "no kill ever cut a recorder off: {:?}",
            outcome.retried
        );
        check_nothing_lost(
            &cluster.gateway,
            &supervisor,
            &tenant.id,
            &outcome,
            &cluster.moto.endpoint(),
            BUCKET,
        )
        .await;
    })
    .await;
}
