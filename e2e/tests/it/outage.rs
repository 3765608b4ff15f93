//! Outages of the machine's shared peers: RabbitMQ stopped and started,
//! PostgreSQL restarted, while recorders upload to a distributed cluster.
//! The services must ride them out without being restarted.
//!
//! These stop services every other test uses, so they are ignored by a
//! plain `cargo test` / `cargo nextest run`, and scripts/test runs them on
//! their own after the rest (`--run-ignored only`). Whatever happens, each
//! test leaves the peer it stopped running.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::cluster::{BUCKET, with_cluster};
use crate::faults::FAULT_CLOCKS;
use crate::load::{Load, check_nothing_lost};
use crate::support::{create_bpo, onboard};

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok()
}

async fn wait_for_port(port: u16, open: bool, within: Duration) {
    let deadline = Instant::now() + within;
    while port_open(port) != open {
        assert!(
            Instant::now() < deadline,
            "port {port} still {} after {within:?}",
            if open { "closed" } else { "open" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The RabbitMQ application stopped (`rabbitmqctl stop_app`: listeners
/// closed, every connection cut, as in a broker restart) until `start`,
/// or until dropped, so a failed test still leaves the broker running.
struct BrokerDown;

impl BrokerDown {
    async fn stop() -> Self {
        // The guard first: whatever fails from here on, it restarts the app.
        let guard = Self;
        run("rabbitmqctl", &["stop_app"]);
        wait_for_port(5672, false, Duration::from_secs(30)).await;
        guard
    }

    async fn start(self) {
        run("rabbitmqctl", &["start_app"]);
        wait_for_port(5672, true, Duration::from_secs(60)).await;
    }
}

impl Drop for BrokerDown {
    fn drop(&mut self) {
        // Idempotent: a no-op when `start` already ran.
        let _ = Command::new("rabbitmqctl").arg("start_app").status();
    }
}

/// The machine's PostgreSQL cluster (the only one `pg_lsclusters` lists).
fn postgres_cluster() -> (String, String) {
    let output = Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .expect("pg_lsclusters");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|line| line.split_whitespace().nth(2) == Some("5432"))
        .unwrap_or_else(|| panic!("no PostgreSQL cluster on port 5432: {text}"));
    let mut fields = line.split_whitespace();
    let version = fields.next().expect("version").to_owned();
    let name = fields.next().expect("name").to_owned();
    (version, name)
}

/// Restarts PostgreSQL (fast mode: every connection is terminated); if the
/// restart fails half-way, a start is attempted so it is left running.
async fn restart_postgres() {
    let (version, name) = postgres_cluster();
    let restarted = Command::new("pg_ctlcluster")
        .args([version.as_str(), name.as_str(), "restart"])
        .status();
    if !restarted.is_ok_and(|status| status.success()) {
        let _ = Command::new("pg_ctlcluster")
            .args([version.as_str(), name.as_str(), "start"])
            .status();
        panic!("pg_ctlcluster {version} {name} restart failed");
    }
    wait_for_port(5432, true, Duration::from_secs(60)).await;
}

/// RabbitMQ stopped for a few seconds, then PostgreSQL restarted, during
/// uploads: no process is restarted, every accepted upload ends up
/// catalogued once and byte-identical, and every refusal was retryable.
#[tokio::test]
#[ignore = "stops the machine's RabbitMQ and PostgreSQL: scripts/test runs it alone"]
async fn broker_stop_and_database_restart_during_uploads_lose_nothing() {
    with_cluster(&FAULT_CLOCKS, |cluster| async move {
        let client = reqwest::Client::new();
        let gateway = &cluster.gateway;
        let admin = gateway.admin_token(&[]);
        let bpo = create_bpo(gateway, &client, &admin, "Outage BPO").await;
        let tenant = onboard(gateway, &client, &admin, &bpo, "Outage Bank").await;
        let supervisor = gateway.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
        let pids = cluster.processes().map(|process| process.pid());

        let load = Load::start(&cluster.ingestion, &tenant.key, 6);
        load.wait_for_more(6, Duration::from_secs(60)).await;
        let broker = BrokerDown::stop().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        broker.start().await;
        load.wait_for_more(6, Duration::from_secs(120)).await;

        restart_postgres().await;
        load.wait_for_more(6, Duration::from_secs(120)).await;
        let outcome = load.finish().await;

        assert!(
            outcome.retried.keys().any(|kind| kind.starts_with("503")),
            "the outages never reached a recorder: {:?}",
            outcome.retried
        );
        // Nobody restarted anything: the same processes served throughout.
        assert_eq!(cluster.processes().map(|process| process.pid()), pids);
        check_nothing_lost(
            &cluster.gateway,
            &supervisor,
            &tenant.id,
            &outcome,
            &cluster.moto.endpoint(),
            BUCKET,
        )
        .await;
        let client = reqwest::Client::new();
        for process in cluster.processes() {
            let ready = client
                .get(format!("{}/readyz", process.base_url))
                .send()
                .await
                .expect("readyz");
            assert!(ready.status().is_success(), "{}", process.log_text());
        }
    })
    .await;
}
