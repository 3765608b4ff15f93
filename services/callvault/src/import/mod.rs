//! `callvault import`: brings recordings from a folder or an S3 prefix into
//! a running callvault, through its public upload API with a recorder key,
//! described by a manifest of one's own or read from another vendor's
//! export layout (docs/import.md).
//!
//! Idempotent by call id and segment (the upload route's own key: a second
//! run finds everything "already there"), resumable from a local state
//! file, `--concurrency` uploads at once, a progress bar on a terminal and
//! plain lines elsewhere, then a summary and an exit code that says whether
//! everything went in.

mod amazon_connect;
mod genesys;
mod manifest;
mod progress;
mod source;
mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use serde_json::Value;
use tokio::sync::Semaphore;

use progress::Progress;
use source::Source;
use state::State;

/// Attempts of one upload that fails for a passing reason (5xx, network).
const ATTEMPTS: u32 = 4;

#[derive(Args)]
pub struct ImportArgs {
    /// A folder, or `s3://bucket/prefix`.
    source: String,
    /// The callvault to import into, e.g. `https://recordings.example.com`.
    #[arg(long)]
    url: String,
    /// A file holding the tenant's recorder API key (`createApiKey`). Or
    /// set CALLVAULT_IMPORT_KEY. Never on the command line: it would show
    /// in the process list.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// How the source describes its recordings.
    #[arg(long, value_enum, default_value = "manifest")]
    layout: Layout,
    /// The manifest (CSV, or JSON Lines for `.jsonl`), a path inside the
    /// source. With `--layout manifest` only.
    #[arg(long, default_value = "manifest.csv")]
    manifest: String,
    /// Uploads at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Where progress is kept, so an interrupted import resumes.
    #[arg(long, default_value = "callvault-import.state")]
    state: PathBuf,
    /// An S3 endpoint other than AWS's (MinIO, a test's moto).
    #[arg(long)]
    s3_endpoint: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    s3_region: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Layout {
    /// A CSV or JSON Lines manifest of one's own.
    Manifest,
    /// Amazon Connect's call recordings and contact records.
    AmazonConnect,
    /// Genesys Cloud's recording export with its metadata files.
    GenesysCloud,
}

/// One call segment to upload.
pub struct Item {
    /// `<external call id>#<segment>`: the upload route's idempotency key.
    key: String,
    /// Its audio, relative to the source.
    file: String,
    /// The call metadata, as the `Callvault-Call` header takes it.
    call: Value,
    content_type: String,
}

enum Outcome {
    Imported,
    AlreadyThere,
    MetadataOnly,
    Failed(String),
}

pub fn run(args: ImportArgs) -> ExitCode {
    let runtime = match crate::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("callvault import: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(import(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("callvault import: {}", crate::describe(&error));
            ExitCode::from(2)
        }
    }
}

/// True when every call segment is in.
async fn import(args: ImportArgs) -> anyhow::Result<bool> {
    let key = match (&args.key_file, std::env::var("CALLVAULT_IMPORT_KEY")) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the key file {}", path.display()))?
            .trim()
            .to_owned(),
        (None, Ok(key)) => key.trim().to_owned(),
        (None, Err(_)) => bail!("give the recorder key with --key-file or CALLVAULT_IMPORT_KEY"),
    };
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let source = Source::open(&args.source, args.s3_endpoint.as_deref(), &args.s3_region).await?;
    let files = source.list().await?;
    let sizes: HashMap<&str, u64> = files.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let (items, unusable) = match args.layout {
        Layout::Manifest => {
            let text = source.read(&args.manifest).await?;
            let text = std::str::from_utf8(&text).context("the manifest is not UTF-8")?;
            let items = manifest::parse(&args.manifest, text)?;
            if let Some(missing) = items.iter().find(|i| !sizes.contains_key(i.file.as_str())) {
                bail!(
                    "the manifest names {}, which the source doesn't have; nothing was imported",
                    missing.file
                );
            }
            (items, Vec::new())
        }
        Layout::AmazonConnect => {
            let documents = read_all(&source, &files, amazon_connect::is_document).await?;
            amazon_connect::items(&files, &documents)
        }
        Layout::GenesysCloud => {
            let documents = read_all(&source, &files, genesys::is_document).await?;
            genesys::items(&files, &documents)
        }
    };
    let state = Arc::new(State::open(&args.state)?);
    let (to_do, done_before): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|item| !state.is_done(&item.key));
    let bytes: u64 = to_do
        .iter()
        .map(|i| sizes.get(i.file.as_str()).copied().unwrap_or(0))
        .sum();
    eprintln!(
        "importing {} recordings ({:.1} MB) from {}; {} done by an earlier run (state: {})",
        to_do.len(),
        bytes as f64 / 1e6,
        args.source,
        done_before.len(),
        state.path().display()
    );
    let progress = Arc::new(Progress::new(to_do.len() as u64, bytes));
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("http client")?;
    let source = Arc::new(source);
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let base = args.url.trim_end_matches('/').to_owned();
    let key = Arc::new(key);
    let mut tasks = Vec::new();
    for item in to_do {
        let permit = permits.clone().acquire_owned().await.context("semaphore")?;
        let (client, source, state, progress, base, key) = (
            client.clone(),
            source.clone(),
            state.clone(),
            progress.clone(),
            base.clone(),
            key.clone(),
        );
        let size = sizes.get(item.file.as_str()).copied().unwrap_or(0);
        tasks.push(tokio::spawn(async move {
            let outcome = upload(&client, &base, &key, &source, &item).await;
            let recorded = match &outcome {
                Outcome::Imported => state.record(&item.key, "imported"),
                Outcome::AlreadyThere => state.record(&item.key, "already_there"),
                Outcome::MetadataOnly => state.record(&item.key, "metadata_only"),
                Outcome::Failed(_) => Ok(()),
            };
            if let Err(error) = recorded {
                eprintln!("callvault import: could not write the state file: {error}");
            }
            progress.file_done(size);
            drop(permit);
            (item.file, outcome)
        }));
    }
    let mut imported = 0;
    let mut already = done_before.len();
    let mut metadata_only = 0;
    let mut failed: Vec<(String, String)> = unusable;
    for task in tasks {
        let (file, outcome) = task.await.context("an upload task")?;
        match outcome {
            Outcome::Imported => imported += 1,
            Outcome::AlreadyThere => already += 1,
            Outcome::MetadataOnly => metadata_only += 1,
            Outcome::Failed(why) => failed.push((file, why)),
        }
    }
    progress.finish();
    println!(
        "imported {imported}, already there {already}, kept as metadata only {metadata_only}, failed {}",
        failed.len()
    );
    for (file, why) in &failed {
        println!("  failed: {file}: {why}");
    }
    Ok(failed.is_empty())
}

async fn read_all(
    source: &Source,
    files: &[(String, u64)],
    wanted: fn(&str) -> bool,
) -> anyhow::Result<HashMap<String, Bytes>> {
    let mut documents = HashMap::new();
    for (path, _) in files.iter().filter(|(path, _)| wanted(path)) {
        documents.insert(path.clone(), source.read(path).await?);
    }
    Ok(documents)
}

/// One call segment, retried on passing failures.
async fn upload(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    source: &Source,
    item: &Item,
) -> Outcome {
    let audio = match source.read(&item.file).await {
        Ok(audio) => audio,
        Err(error) => return Outcome::Failed(crate::describe(&error)),
    };
    let mut delay = Duration::from_millis(500);
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        let sent = client
            .post(format!("{base}/v1/recordings"))
            .bearer_auth(key)
            .header("content-type", &item.content_type)
            .header("callvault-call", item.call.to_string())
            .body(audio.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                let text = response.bytes().await.unwrap_or_default();
                let body: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
                if status == 201 {
                    return Outcome::Imported;
                }
                if status == 200 && body["stored"] == false {
                    return Outcome::MetadataOnly;
                }
                if status == 200 {
                    return Outcome::AlreadyThere;
                }
                let code = body["error"]["code"].as_str().unwrap_or("?");
                let message = body["error"]["message"].as_str().unwrap_or("");
                last = format!("{status} {code}: {message}");
                // A refusal is final; a conflict with itself or an outage
                // passes.
                let passing =
                    status.is_server_error() || (status == 409 && code == "upload_in_progress");
                if !passing {
                    return Outcome::Failed(last);
                }
            }
            Err(error) => last = error.to_string(),
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    Outcome::Failed(last)
}
