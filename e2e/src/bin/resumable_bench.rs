//! Resumable (tus) uploads against plain `POST /v1/recordings`, side by side
//! in one run against a running callvault: the same N recordings (S seconds
//! of 8 kHz µ-law each) from C concurrent clients, first as one POST each,
//! then as a tus creation and PATCHes of K MiB, then POST again (so a
//! machine that warms up or slows down shows in the two POST figures). Then
//! MB/s of each and the ratio.
//!
//! resumable_bench <base-url> <recorder-key> [count=200] [concurrency=8] [seconds=300] [chunk-mib=1]
//! (e2e/bench-resumable.sh starts a server and runs this.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use callvault_e2e::mulaw_wav;
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Post,
    Tus,
}

fn call(run: &str, way: &str, i: usize, seconds: usize) -> Value {
    json!({
        "external_call_id": format!("bench-{run}-{way}-{i}"),
        "segment": 0,
        "direction": "inbound",
        "caller_number": format!("+8190{:08}", 10_000_000 + i),
        "callee_number": "+81355550100",
        "agent": format!("agent-{}", i % 40),
        "queue": "support",
        "started_at": "2026-11-29T09:00:00Z",
        "ended_at": format!("2026-11-29T{:02}:{:02}:00Z", 9 + (seconds / 60 + 1) / 60, (seconds / 60 + 1) % 60),
        "tags": ["bench"],
    })
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    call: &Value,
    audio: &Bytes,
) -> Result<(), String> {
    let response = client
        .post(format!("{base}/v1/recordings"))
        .bearer_auth(key)
        .header("content-type", "audio/wav")
        .header("callvault-call", call.to_string())
        .body(audio.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() != 201 {
        return Err(format!(
            "{} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        ));
    }
    Ok(())
}

async fn tus(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    call: &Value,
    audio: &Bytes,
    chunk: usize,
) -> Result<(), String> {
    let metadata = format!(
        "call {},filetype {}",
        STANDARD.encode(call.to_string()),
        STANDARD.encode("audio/wav")
    );
    let created = client
        .post(format!("{base}/v1/uploads"))
        .bearer_auth(key)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", audio.len().to_string())
        .header("upload-metadata", metadata)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if created.status() != 201 {
        return Err(format!("create: {}", created.status()));
    }
    let location = created.headers()["location"]
        .to_str()
        .map_err(|e| e.to_string())?
        .to_owned();
    let url = format!("{base}{location}");
    let mut offset = 0;
    while offset < audio.len() {
        let end = (offset + chunk).min(audio.len());
        let response = client
            .patch(&url)
            .bearer_auth(key)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(audio.slice(offset..end))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status() != 204 {
            return Err(format!(
                "patch at {offset}: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            ));
        }
        offset = end;
    }
    Ok(())
}

struct Bench {
    client: reqwest::Client,
    base: String,
    key: String,
    run: String,
    audio: Bytes,
    count: usize,
    concurrency: usize,
    seconds: usize,
    chunk: usize,
}

impl Bench {
    /// All the recordings one way; MB/s.
    async fn phase(self: &Arc<Self>, way: Way, label: &'static str) -> f64 {
        let next = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..self.concurrency {
            let (bench, next, failures) = (self.clone(), next.clone(), failures.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= bench.count {
                        break;
                    }
                    let call = call(&bench.run, label, i, bench.seconds);
                    let (client, base, key, audio) =
                        (&bench.client, &bench.base, &bench.key, &bench.audio);
                    let result = match way {
                        Way::Post => post(client, base, key, &call, audio).await,
                        Way::Tus => tus(client, base, key, &call, audio, bench.chunk).await,
                    };
                    if let Err(error) = result {
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("{label} {i}: {error}");
                    }
                }
            }));
        }
        for worker in workers {
            worker.await.unwrap_or_else(|e| panic!("worker: {e}"));
        }
        let elapsed = started.elapsed().as_secs_f64();
        let ok = self.count - failures.load(Ordering::Relaxed);
        let mb = ok as f64 * self.audio.len() as f64 / 1e6;
        println!(
            "{label:>6}: {ok} ok, {} failed in {elapsed:.1} s: {:.1} recordings/s, {:.1} MB/s",
            self.count - ok,
            ok as f64 / elapsed,
            mb / elapsed
        );
        mb / elapsed
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!(
            "usage: resumable_bench <base-url> <recorder-key> [count] [concurrency] [seconds] [chunk-mib]"
        );
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_owned();
    let key = args[2].clone();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (count, concurrency, seconds, chunk_mib) = (arg(3, 200), arg(4, 8), arg(5, 300), arg(6, 1));
    let audio = Bytes::from(mulaw_wav(seconds as u32, 7));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    println!(
        "{count} recordings of {:.2} MB, {concurrency} clients, tus PATCHes of {chunk_mib} MiB",
        audio.len() as f64 / 1e6
    );
    let bench = Arc::new(Bench {
        client,
        base,
        key,
        run,
        audio,
        count,
        concurrency,
        seconds,
        chunk: chunk_mib * 1024 * 1024,
    });
    let post1 = bench.phase(Way::Post, "post").await;
    let tus_rate = bench.phase(Way::Tus, "tus").await;
    let post2 = bench.phase(Way::Post, "post2").await;
    let post = (post1 + post2) / 2.0;
    println!(
        "tus takes {:.2}x the time of POST (goal: at most 1.3x)",
        post / tus_rate
    );
}
