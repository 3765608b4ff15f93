//! Upload load generator: N five-minute 8 kHz µ-law recordings (≈2.4 MB
//! each) from C concurrent clients against a running callvault, then
//! recordings/s, MB/s and upload latency percentiles.
//!
//! Recording `i` always has the same audio and metadata (caller
//! `+8190<10000000 + i:08>`, agent `agent-<i % 40>`, starting at minute `i` of the
//! day), so runs against different deployments see the same workload;
//! only the external call ids carry a per-run id, so a run never collides
//! with an earlier one on the same server.
//!
//! ingest_bench <base-url> <recorder-key> [count=1000] [concurrency=50] [seconds=300]
//! (e2e/bench-ingest.sh starts a server and runs this.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use callvault_e2e::mulaw_wav;
use serde_json::json;

const MINUTES_A_DAY: usize = 24 * 60;

/// Recording `i` starts at minute `i` of 2026-11-29 (UTC, wrapping after a
/// day), so a time-range search (search_bench) matches a known share of
/// the calls; past midnight is the next day.
fn minute_of_day(minute: usize) -> String {
    let day = 29 + minute / MINUTES_A_DAY;
    let minute = minute % MINUTES_A_DAY;
    format!("2026-11-{day}T{:02}:{:02}:00Z", minute / 60, minute % 60)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ingest_bench <base-url> <recorder-key> [count] [concurrency] [seconds]");
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_owned();
    let key = args[2].clone();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (count, concurrency, seconds) = (arg(3, 1000), arg(4, 50), arg(5, 300));

    let audio = Bytes::from(mulaw_wav(seconds as u32, 7));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, audio, next, base, key, run) = (
            client.clone(),
            audio.clone(),
            next.clone(),
            base.clone(),
            key.clone(),
            run.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let call = json!({
                    "external_call_id": format!("bench-{run}-{i}"),
                    "segment": 0,
                    "direction": "inbound",
                    // 090-1000-0000 on: a valid mobile number (090-0…
                    // isn't one, and searches refuse numbers that aren't).
                    "caller_number": format!("+8190{:08}", 10_000_000 + i),
                    "callee_number": "+81355550100",
                    "agent": format!("agent-{}", i % 40),
                    "queue": "support",
                    "started_at": minute_of_day(i % MINUTES_A_DAY),
                    "ended_at": minute_of_day(i % MINUTES_A_DAY + 5),
                    "tags": ["bench"],
                    "agent_channel": "mixed",
                    "customer_channel": "mixed"
                });
                let t = Instant::now();
                let result = client
                    .post(format!("{base}/v1/recordings"))
                    .bearer_auth(&key)
                    .header("content-type", "audio/wav")
                    .header("callvault-call", call.to_string())
                    .body(audio.clone())
                    .send()
                    .await;
                match result {
                    Ok(response) if response.status().is_success() => latencies.push(t.elapsed()),
                    Ok(response) => {
                        failures += 1;
                        let status = response.status();
                        let body = response.text().await.unwrap_or_default();
                        eprintln!("upload {i}: {status} {body}");
                    }
                    Err(error) => {
                        failures += 1;
                        eprintln!("upload {i}: {error}");
                    }
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (l, f) = worker.await.unwrap_or_else(|e| panic!("worker: {e}"));
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let ok = latencies.len();
    let mb = ok as f64 * audio.len() as f64 / 1e6;
    println!(
        "uploads: {ok} ok, {failures} failed, {concurrency} clients, {:.2} MB each",
        audio.len() as f64 / 1e6
    );
    println!("elapsed: {elapsed:.1} s");
    println!(
        "throughput: {:.1} recordings/s, {:.1} MB/s",
        ok as f64 / elapsed,
        mb / elapsed
    );
    println!(
        "latency: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
