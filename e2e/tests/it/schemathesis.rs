//! A peer's tool against the real binary: schemathesis runs every REST
//! route of schema/openapi.yaml with all its checks, then its GraphQL mode
//! against `/graphql` as a tenant admin. Any failure fails the test.
//!
//! `scripts/test` installs schemathesis (pinned) and names its CLI in
//! `SCHEMATHESIS_BIN` (not `CALLVAULT_…`: the binary reads those as its
//! configuration); without it this test fails rather than skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use callvault_e2e::{Callvault, mulaw_wav};
use serde_json::json;

use crate::support::{call, create_bpo, onboard, search_until, upload};

/// Test cases per operation: enough to reach every documented status of
/// the REST routes in a minute or two on a shared two-core machine.
const REST_EXAMPLES: &str = "40";
/// Per GraphQL field: the schema has many, each run as a tenant admin.
const GRAPHQL_EXAMPLES: &str = "25";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn schemathesis() -> String {
    std::env::var("SCHEMATHESIS_BIN").unwrap_or_else(|_| {
        panic!(
            "SCHEMATHESIS_BIN is not set: it names the schemathesis CLI \
             (scripts/test installs it and sets it)"
        )
    })
}

/// Runs schemathesis with `args`, failing the test with its output when it
/// reports a failure (or can't run).
fn run(label: &str, args: &[&str], playback_url: &str, tenant: &str) {
    let dir = repo().join("e2e/schemathesis");
    let reports = tempfile::tempdir().expect("report dir");
    let output = Command::new(schemathesis())
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("run")
        .args(args)
        .args(["--report", "junit", "--report-dir"])
        .arg(reports.path())
        .env("PYTHONPATH", &dir)
        .env("CALLVAULT_PLAYBACK_URL", playback_url)
        .env("CALLVAULT_TENANT_ID", tenant)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("schemathesis {label}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis {label} failed:\n{stdout}\n{stderr}"
    );
    // A run that tested nothing would also exit 0.
    assert!(
        stdout.contains("passed") && !stdout.contains("No operations"),
        "schemathesis {label} tested nothing:\n{stdout}"
    );
}

#[tokio::test]
async fn schemathesis_finds_no_failure_in_the_rest_routes_or_graphql() {
    let cv = Callvault::start_embedded().await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Schemathesis BPO").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Schemathesis Bank").await;

    // One stored recording and a real signed URL for it, so playback's
    // ranges are tried on an object (the hooks substitute it).
    let stored = upload(
        &cv,
        &client,
        &tenant.key,
        &call("st-1", "+819012345678", "agent-1"),
        &mulaw_wav(3, 1),
    )
    .await;
    assert_eq!(stored.status(), reqwest::StatusCode::CREATED);
    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let found = search_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "agent": "agent-1" }),
        1,
    )
    .await;
    let playback_url = found[0]["playbackUrl"]
        .as_str()
        .expect("a playback url")
        .to_owned();

    let document = repo().join("schema/openapi.yaml");
    let recorder = format!("Authorization: Bearer {}", tenant.key);
    run(
        "REST",
        &[
            document.to_str().expect("utf-8 path"),
            "--url",
            &cv.base_url,
            "--checks",
            "all",
            "--max-examples",
            REST_EXAMPLES,
            "--header",
            &recorder,
        ],
        &playback_url,
        &tenant.id,
    );
    // The hooks reached a stored object: ranges were served, not only
    // refused (the request metric counts answers by route and status).
    // A new client: the first one's pooled connections were closed by the
    // server while the blocking run held this runtime, unnoticed.
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", cv.base_url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    for status in ["200", "206"] {
        let served = format!("route=\"/v1/playback/{{tenant}}/{{recording}}\",status=\"{status}\"");
        assert!(
            metrics.contains(&served),
            "schemathesis never got a {status} from playback"
        );
    }

    let tenant_admin = cv.admin_token(&["--role", "tenant_admin", "--tenant", &tenant.id]);
    let bearer = format!("Authorization: Bearer {tenant_admin}");
    let endpoint = format!("{}/graphql", cv.base_url);
    // All checks but positive_data_acceptance: GraphQL types can't say
    // "not empty" or "1 to 3650 days", so a query valid by the schema can
    // get the documented BAD_USER_INPUT. Server errors, malformed answers
    // and answers that break the schema all fail the run.
    run(
        "GraphQL",
        &[
            &endpoint,
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            GRAPHQL_EXAMPLES,
            "--header",
            &bearer,
        ],
        &playback_url,
        &tenant.id,
    );
}
