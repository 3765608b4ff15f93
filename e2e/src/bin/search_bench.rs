//! GraphQL search load generator: N `recordings(tenantId, filter)` searches
//! from C concurrent clients against a running gateway, then searches/s and
//! latency percentiles, overall and by kind of search.
//!
//! search_bench <gateway-url> <token> <tenant-id> [searches=500] [concurrency=4] [catalogue=1000]
//!
//! `catalogue` is how many recordings ingest_bench uploaded to the tenant:
//! before timing anything it waits until a search finds them all (the
//! catalogue fills asynchronously from `recording.ingested` events), and it
//! knows ingest_bench's workload, so every search's result count is checked
//! (a fast wrong answer is not a result). 0 skips both.
//! (e2e/bench-modes.sh runs this after the ingest run.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callvault_e2e::graphql;
use serde_json::{Value, json};

const PAGE: usize = 50;
/// ingest_bench: recording `i` has agent `agent-<i % 40>` and starts at
/// minute `i % 1440` of 2026-11-29.
const AGENTS: usize = 40;
const MINUTES_A_DAY: usize = 24 * 60;
const WINDOW_MINUTES: usize = 60;
const CATALOGUE_WAIT: Duration = Duration::from_secs(1200);

const KINDS: [&str; 4] = ["agent", "phone number", "time range", "first page"];

const SEARCH: &str = "query($t: UUID!, $f: RecordingFilter, $n: Int) { recordings(tenantId: $t, filter: $f, first: $n) { edges { node { id externalCallId agent callerNumber startedAt durationMs } } } }";
const COUNT: &str = "query($t: UUID!, $a: String) { recordings(tenantId: $t, first: 100, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }";

/// Search `k` of the run: its kind, filter and expected result count.
fn search(k: usize, catalogue: usize) -> (usize, Value, Option<usize>) {
    let n = catalogue.max(1);
    let known = |count: usize| (catalogue > 0).then_some(count.min(PAGE));
    match k % KINDS.len() {
        0 => {
            let agent = (k / KINDS.len()) % AGENTS;
            let calls = (0..catalogue).filter(|i| i % AGENTS == agent).count();
            (
                0,
                json!({ "agent": format!("agent-{agent}") }),
                known(calls),
            )
        }
        1 => {
            // A spread of numbers, not the same few cached rows.
            let i = (k * 7919) % n;
            (
                1,
                json!({ "phoneNumber": format!("+8190{:08}", 10_000_000 + i) }),
                known(1),
            )
        }
        2 => {
            // Bounds on the half minute: no call starts exactly on one, so
            // whether they are inclusive doesn't matter.
            let span = n.min(MINUTES_A_DAY).saturating_sub(WINDOW_MINUTES).max(1);
            let first = 1 + (k * 37) % span;
            let last = first + WINDOW_MINUTES - 1;
            let calls = (0..catalogue)
                .filter(|i| (first..=last).contains(&(i % MINUTES_A_DAY)))
                .count();
            let filter = json!({
                "startedAfter": half_minute(first - 1),
                "startedBefore": half_minute(last),
            });
            (2, filter, known(calls))
        }
        _ => (3, json!({}), known(catalogue)),
    }
}

/// 2026-11-29 at `minute`:30 (UTC), `minute` < 1440.
fn half_minute(minute: usize) -> String {
    format!("2026-11-29T{:02}:{:02}:30Z", minute / 60, minute % 60)
}

/// Pages through the whole catalogue until it holds `expected` recordings.
async fn wait_for_catalogue(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tenant: &str,
    expected: usize,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut seen = 0;
    while started.elapsed() < CATALOGUE_WAIT {
        seen = 0;
        let mut after = Value::Null;
        loop {
            let variables = json!({ "t": tenant, "a": after });
            let data = graphql(client, base, token, COUNT, variables).await?;
            let page = &data["recordings"];
            seen += page["edges"].as_array().map_or(0, Vec::len);
            if page["pageInfo"]["hasNextPage"] != Value::Bool(true) {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        if seen >= expected {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "the catalogue holds {seen} of {expected} recordings after {} s",
        CATALOGUE_WAIT.as_secs()
    ))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: search_bench <gateway-url> <token> <tenant-id> [searches] [concurrency] [catalogue]"
        );
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_owned();
    let (token, tenant) = (args[2].clone(), args[3].clone());
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (count, concurrency, catalogue) = (arg(4, 500), arg(5, 4).max(1), arg(6, 1000));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));

    if catalogue > 0 {
        match wait_for_catalogue(&client, &base, &token, &tenant, catalogue).await {
            Ok(waited) => println!(
                "catalogue: {catalogue} recordings found after {:.1} s",
                waited.as_secs_f64()
            ),
            Err(error) => {
                eprintln!("{error}");
                std::process::exit(1);
            }
        }
    }

    // One untimed round: connections opened and the database's caches warm
    // before the clock starts.
    for k in 0..concurrency.min(count) {
        let (_, filter, _) = search(k, catalogue);
        let variables = json!({ "t": tenant, "f": filter, "n": PAGE });
        if let Err(code) = graphql(&client, &base, &token, SEARCH, variables).await {
            eprintln!("warm-up search failed: {code}");
            std::process::exit(1);
        }
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, next, base, token, tenant) = (
            client.clone(),
            next.clone(),
            base.clone(),
            token.clone(),
            tenant.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut timings = Vec::new();
            let mut failures = 0usize;
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= count {
                    break;
                }
                let (kind, filter, expected) = search(k, catalogue);
                let variables = json!({ "t": tenant, "f": filter, "n": PAGE });
                let t = Instant::now();
                let result = graphql(&client, &base, &token, SEARCH, variables).await;
                let elapsed = t.elapsed();
                match result {
                    Ok(data) => {
                        let found = data["recordings"]["edges"].as_array().map_or(0, Vec::len);
                        if expected.is_some_and(|expected| expected != found) {
                            failures += 1;
                            eprintln!(
                                "search {k} ({}): {found} results, expected {expected:?}",
                                KINDS[kind]
                            );
                        } else {
                            timings.push((kind, elapsed));
                        }
                    }
                    Err(code) => {
                        failures += 1;
                        eprintln!("search {k} ({}): {code}", KINDS[kind]);
                    }
                }
            }
            (timings, failures)
        }));
    }
    let mut timings: Vec<(usize, Duration)> = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (t, f) = worker.await.unwrap_or_else(|e| panic!("worker: {e}"));
        timings.extend(t);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();

    let mut all: Vec<Duration> = timings.iter().map(|(_, d)| *d).collect();
    all.sort();
    let ok = all.len();
    let mean = all.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / ok.max(1) as f64;
    println!(
        "searches: {ok} ok, {failures} failed, {concurrency} clients, first {PAGE} results each"
    );
    println!("elapsed: {elapsed:.1} s");
    println!("throughput: {:.1} searches/s", ok as f64 / elapsed);
    println!(
        "latency: p50 {:.1} ms, p99 {:.1} ms, mean {mean:.1} ms, max {:.1} ms",
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
    for (kind, name) in KINDS.iter().enumerate() {
        let mut these: Vec<Duration> = timings
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
            .collect();
        these.sort();
        println!(
            "  {name:<12} {:>4} searches: p50 {:.1} ms, p99 {:.1} ms",
            these.len(),
            percentile(&these, 0.50),
            percentile(&these, 0.99)
        );
    }
    if failures > 0 {
        std::process::exit(1);
    }
}
