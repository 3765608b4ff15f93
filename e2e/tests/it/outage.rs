//! Outages of the peers themselves: RabbitMQ killed and started again,
//! PostgreSQL crashed and started again, while recorders upload to a
//! distributed cluster. The services must ride them out without being
//! restarted.
//!
//! The PostgreSQL cluster and the RabbitMQ node are the test's own
//! ([`OwnPostgres`], [`OwnRabbit`]): the machine's, which every other test
//! uses, are never touched, so this runs in the normal suite, in parallel
//! with the rest.

use std::time::{Duration, Instant};

use callvault_e2e::{OwnPostgres, OwnRabbit};

use crate::cluster::{BUCKET, Cluster, Peers};
use crate::faults::FAULT_CLOCKS;
use crate::load::{Load, check_nothing_lost};
use crate::support::{create_bpo, onboard};

/// RabbitMQ killed (kill -9 of the node) for a few seconds, then
/// PostgreSQL crashed (immediate shutdown: every connection cut, crash
/// recovery at the restart), during uploads: no process is restarted,
/// every accepted upload ends up catalogued once and byte-identical, and
/// every refusal was retryable.
#[tokio::test]
async fn broker_kill_and_database_crash_during_uploads_lose_nothing() {
    let started = Instant::now();
    let (mut postgres, mut rabbit) = tokio::join!(OwnPostgres::start(), OwnRabbit::start());
    let peers = Peers {
        database_urls: ["storage", "metadata", "ingestion"].map(|db| postgres.create_database(db)),
        disclosure_database_url: None,
        billing_database_url: None,
        webhooks_database_url: None,
        amqp_url: rabbit.amqp_url(),
    };
    let cluster = Cluster::start_on(&peers, &FAULT_CLOCKS).await;
    eprintln!("peers and cluster up after {:?}", started.elapsed());

    let client = reqwest::Client::new();
    let gateway = &cluster.gateway;
    let admin = gateway.admin_token(&[]);
    let bpo = create_bpo(gateway, &client, &admin, "Outage BPO").await;
    let tenant = onboard(gateway, &client, &admin, &bpo, "Outage Bank").await;
    let supervisor = gateway.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let pids = cluster.processes().map(|process| process.pid());

    let load = Load::start(&cluster.ingestion, &tenant.key, 6);
    load.wait_for_more(6, Duration::from_secs(60)).await;
    rabbit.kill().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    rabbit.start_again().await;
    load.wait_for_more(6, Duration::from_secs(120)).await;
    eprintln!("broker outage ridden out after {:?}", started.elapsed());

    postgres.crash().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    postgres.start_again().await;
    load.wait_for_more(6, Duration::from_secs(120)).await;
    eprintln!("database outage ridden out after {:?}", started.elapsed());
    let outcome = load.finish().await;

    assert!(
        outcome.retried.keys().any(|kind| kind.starts_with("503")),
        "the outages never reached a recorder: {:?}",
        outcome.retried
    );
    if !outcome.refused.is_empty() {
        // What the services logged about it, before the check fails.
        for process in cluster.processes() {
            let log = process.log_text();
            let errors: Vec<&str> = log.lines().filter(|line| line.contains("ERROR")).collect();
            eprintln!("{} errors:\n{}", process.target(), errors.join("\n"));
        }
    }
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
    for process in cluster.processes() {
        let ready = client
            .get(format!("{}/readyz", process.base_url))
            .send()
            .await
            .expect("readyz");
        assert!(ready.status().is_success(), "{}", process.log_text());
    }
    eprintln!("done after {:?}", started.elapsed());
}
