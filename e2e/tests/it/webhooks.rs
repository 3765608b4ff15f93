//! Webhooks on the embedded binary: a tenant admin subscribes a local
//! receiver (127.0.0.1, allow-listed by `webhooks.allow_networks`) to
//! `recording.stored`, a recorder uploads, and the receiver — which
//! verifies with the reference Python `standardwebhooks` library
//! (services/webhooks/tests/receiver.py) — gets the delivery, signed with
//! the secret the create mutation answered. A private address is refused
//! with WEBHOOK_URL_REFUSED. The same scenario runs on every service in
//! its own process (PostgreSQL, RabbitMQ, S3 + KMS on moto), where the
//! event crosses RabbitMQ. Without `$STANDARDWEBHOOKS_PYTHON` (scripts/test
//! installs it) the tests fail; they never skip.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cluster::{Layout, with_deployment};
use crate::support::{call, create_bpo, onboard, upload};

/// Loopback only: the receiver's address.
const ALLOW: (&str, &str) = ("CALLVAULT_WEBHOOKS__ALLOW_NETWORKS", "127.0.0.1/32");

/// The receiver as a child process, killed (by its own handle) on drop.
struct Receiver {
    child: Child,
    url: String,
    secrets: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    fn start() -> Self {
        let python = std::env::var("STANDARDWEBHOOKS_PYTHON").unwrap_or_else(|_| {
            panic!(
                "STANDARDWEBHOOKS_PYTHON is not set: it names a python with the standardwebhooks \
                 package (scripts/test installs one into ~/.cache/callvault-standardwebhooks)"
            )
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = dir.path().join("secrets");
        let log = dir.path().join("log.jsonl");
        std::fs::write(&secrets, "").expect("secrets file");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../services/webhooks/tests/receiver.py"
        );
        let mut child = Command::new(&python)
            .args([
                std::ffi::OsStr::new(script),
                secrets.as_os_str(),
                log.as_os_str(),
            ])
            .arg("0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting the receiver with {python}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("receiver stdout"))
            .read_line(&mut line)
            .expect("the receiver's port");
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            panic!("the receiver did not start (standardwebhooks missing?): {line:?}")
        });
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/hooks"),
            secrets,
            log,
            _dir: dir,
        }
    }

    fn trust(&self, secret: &str) {
        std::fs::write(&self.secrets, secret).expect("write secrets");
    }

    fn requests(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(&self.log) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| serde_json::from_str(line).expect("a log line"))
            .collect()
    }

    /// Waits up to 30 s for a request of `event_type`.
    async fn wait_for(&self, event_type: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let requests = self.requests();
            if let Some(found) = requests.iter().find(|r| r["type"] == event_type) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {event_type} delivery within 30 s; received {requests:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CREATE: &str = "mutation($t: UUID!, $url: String!) { createWebhookEndpoint(tenantId: $t, input: { url: $url, eventTypes: [\"recording.stored\"], description: \"crm\" }) { secret endpoint { id enabled } } }";

#[tokio::test]
async fn an_upload_reaches_a_subscribed_receiver_as_a_verified_recording_stored() {
    let receiver = Receiver::start();
    let cv = Callvault::start_with(&[ALLOW]).await;
    scenario(&cv, &receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_reaches_a_subscribed_receiver_over_rabbitmq_distributed() {
    with_deployment(Layout::EveryService, &[ALLOW], |deployment| async move {
        let receiver = Receiver::start();
        // The gateway and ingestion are the public ones; the token is the
        // same in every process (one HS256 secret).
        scenario_split(
            deployment.running("gateway"),
            deployment.running("ingestion"),
            &receiver,
        )
        .await;
    })
    .await;
}

async fn scenario(cv: &Callvault, receiver: &Receiver) {
    scenario_split(cv, cv, receiver).await;
}

/// `cv` answers GraphQL and mints tokens; `ingest` takes the upload.
async fn scenario_split(cv: &Callvault, ingest: &Callvault, receiver: &Receiver) {
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(cv, &client, &admin, "Hooks Contact Centers").await;
    let tenant = onboard(cv, &client, &admin, &bpo, "Hooked Bank").await;
    let tenant_admin = cv.admin_token(&["--role", "tenant_admin", "--tenant", &tenant.id]);

    let catalogue = graphql(
        &client,
        &cv.base_url,
        &tenant_admin,
        "{ webhookEventTypes }",
        json!({}),
    )
    .await
    .expect("webhookEventTypes");
    assert!(
        catalogue["webhookEventTypes"]
            .as_array()
            .expect("types")
            .contains(&json!("recording.stored")),
        "{catalogue}"
    );

    // Only 127.0.0.1 is allow-listed: another private address is refused.
    let refused = graphql(
        &client,
        &cv.base_url,
        &tenant_admin,
        CREATE,
        json!({ "t": tenant.id, "url": "http://10.1.2.3/hooks" }),
    )
    .await;
    assert_eq!(refused, Err("WEBHOOK_URL_REFUSED".to_owned()));

    let created = graphql(
        &client,
        &cv.base_url,
        &tenant_admin,
        CREATE,
        json!({ "t": tenant.id, "url": receiver.url }),
    )
    .await
    .expect("createWebhookEndpoint");
    let created = &created["createWebhookEndpoint"];
    let secret = created["secret"].as_str().expect("secret");
    assert!(secret.starts_with("whsec_"));
    let endpoint = created["endpoint"]["id"].as_str().expect("id").to_owned();
    receiver.trust(secret);

    let response = upload(
        ingest,
        &client,
        &tenant.key,
        &call("hook-call-1", "+819012340000", "agent-1"),
        &mulaw_wav(5, 3),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let receipt: Value = response.json().await.expect("receipt");
    let recording = receipt["recording_id"].as_str().expect("recording id");

    let delivery = receiver.wait_for("recording.stored").await;
    assert_eq!(delivery["verified_by"], json!([0]), "{delivery}");
    assert_eq!(delivery["status"], json!(204));
    let body: Value =
        serde_json::from_str(delivery["body"].as_str().expect("body")).expect("json body");
    assert_eq!(body["data"]["tenant_id"], json!(tenant.id));
    assert_eq!(body["data"]["recording_id"], json!(recording));
    assert!(
        !delivery["body"]
            .as_str()
            .unwrap_or_default()
            .contains("+8190"),
        "no phone number in a payload"
    );

    // The delivery log shows it delivered, under the same webhook-id.
    let log = "query($t: UUID!, $e: UUID!) { webhookDeliveries(tenantId: $t, endpointId: $e) { id eventType status attempts lastStatusCode } }";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let data = graphql(
            &client,
            &cv.base_url,
            &tenant_admin,
            log,
            json!({ "t": tenant.id, "e": endpoint }),
        )
        .await
        .expect("webhookDeliveries");
        let entries = data["webhookDeliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let done = entries
            .iter()
            .any(|d| d["id"] == delivery["id"] && d["status"] == "SUCCEEDED");
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "not logged as delivered: {data}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Another tenant's admin reaches none of it.
    let other = onboard(cv, &client, &admin, &bpo, "Other Bank").await;
    let intruder = cv.admin_token(&["--role", "tenant_admin", "--tenant", &other.id]);
    let listed = graphql(
        &client,
        &cv.base_url,
        &intruder,
        "query($t: UUID!) { webhookEndpoints(tenantId: $t) { id } }",
        json!({ "t": tenant.id }),
    )
    .await;
    assert_eq!(listed, Err("FORBIDDEN".to_owned()));
}
