//! `callvault import` against the embedded binary: a CSV manifest, Amazon
//! Connect's layout (recordings and Firehose-delivered contact records,
//! from moto's S3) and Genesys Cloud's export layout, each built here from
//! the vendors' documented layouts (docs/import.md); a second run imports
//! nothing new; a run killed halfway and resumed imports each call once; a
//! manifest row without a call id imports nothing; the progress bar in a
//! pseudo-terminal, plain lines elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use callvault_e2e::{Callvault, graphql, mulaw_wav, pcm16_stereo_wav};
use callvault_testkit::MotoServer;
use serde_json::{Value, json};

use crate::support::{Tenant, create_bpo, create_bucket, onboard};

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, bytes).expect("write fixture");
}

struct Importer {
    binary: PathBuf,
    url: String,
    key_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Importer {
    fn new(cv: &Callvault, tenant: &Tenant) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let key_file = dir.path().join("recorder.key");
        std::fs::write(&key_file, &tenant.key).expect("key file");
        Importer {
            binary: callvault_e2e::binary(),
            url: cv.base_url.clone(),
            key_file,
            _dir: dir,
        }
    }

    fn command(&self, source: &str, state: &Path, extra: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(["import", source, "--url", &self.url, "--key-file"])
            .arg(&self.key_file)
            .arg("--state")
            .arg(state)
            .args(extra);
        command
    }

    fn run(&self, source: &str, state: &Path, extra: &[&str]) -> Output {
        self.command(source, state, extra)
            .output()
            .expect("callvault import")
    }
}

fn summary(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|line| line.starts_with("imported "))
        .unwrap_or_else(|| {
            panic!(
                "no summary:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .to_owned()
}

/// Segments of `call` in the catalogue, waited for.
async fn segments(
    cv: &Callvault,
    token: &str,
    tenant: &str,
    call: &str,
    expected: usize,
) -> Vec<Value> {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let found = graphql(
            &client,
            &cv.base_url,
            token,
            "query($t: UUID!, $c: String!) { call(tenantId: $t, externalCallId: $c) { segments { segment direction agent queue callerNumber calleeNumber agentChannel customerChannel tags attributes { key value } } } }",
            json!({ "t": tenant, "c": call }),
        )
        .await
        .expect("call");
        let segments = found["call"]["segments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if segments.len() >= expected {
            assert_eq!(segments.len(), expected, "{call}");
            return segments;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{call} never had {expected} segments");
}

const MANIFEST: &str = "\
file,external_call_id,segment,direction,caller_number,callee_number,agent,queue,started_at,ended_at,tags,attributes
calls/a.wav,crm-1,0,inbound,+819012345678,+81355550100,agent-1,support,2026-11-29T09:00:00Z,2026-11-29T09:00:10Z,complaint;vip,product=securities
calls/b.wav,crm-1,1,inbound,+819012345678,+81355550100,agent-1,support,2026-11-29T09:00:00Z,2026-11-29T09:00:10Z,,
calls/c.wav,crm-2,0,outbound,+81355550100,+819087654321,agent-2,sales,2026-11-29T10:00:00Z,2026-11-29T10:00:10Z,,
";

#[tokio::test]
async fn a_csv_manifest_imports_once_and_a_bad_row_imports_nothing() {
    let cv = Callvault::start_with(&[]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;
    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let importer = Importer::new(&cv, &tenant);
    let work = tempfile::tempdir().expect("tempdir");
    let source = work.path().join("export");
    for (n, file) in ["calls/a.wav", "calls/b.wav", "calls/c.wav"]
        .iter()
        .enumerate()
    {
        write(&source, file, &mulaw_wav(5, n as u32));
    }
    let source_arg = source.to_str().expect("utf-8");
    let state = work.path().join("import.state");

    // A row without its call id: nothing at all goes in.
    let bad = MANIFEST.replace("calls/c.wav,crm-2,", "calls/c.wav,,");
    write(&source, "bad.csv", bad.as_bytes());
    let refused = importer.run(source_arg, &state, &["--manifest", "bad.csv"]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("line 4") && said.contains("external_call_id"),
        "{said}"
    );
    assert_eq!(call_count(&cv, &supervisor, &tenant.id, "crm-1").await, 0);

    write(&source, "manifest.csv", MANIFEST.as_bytes());
    let first = importer.run(source_arg, &state, &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        summary(&first),
        "imported 3, already there 0, kept as metadata only 0, failed 0"
    );
    // Not a terminal: plain progress lines.
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("progress: 3/3 files"), "{stderr}");
    let crm1 = segments(&cv, &supervisor, &tenant.id, "crm-1", 2).await;
    assert_eq!(crm1[0]["tags"], json!(["complaint", "vip"]));
    assert_eq!(
        crm1[0]["attributes"],
        json!([{ "key": "product", "value": "securities" }])
    );
    segments(&cv, &supervisor, &tenant.id, "crm-2", 1).await;

    // Again, with the state: nothing to do. Without it: all already there.
    let again = importer.run(source_arg, &state, &[]);
    assert!(again.status.success());
    assert_eq!(
        summary(&again),
        "imported 0, already there 3, kept as metadata only 0, failed 0"
    );
    let fresh = importer.run(
        source_arg,
        &work.path().join("other.state"),
        &["--concurrency", "2"],
    );
    assert!(fresh.status.success());
    assert_eq!(
        summary(&fresh),
        "imported 0, already there 3, kept as metadata only 0, failed 0"
    );
    segments(&cv, &supervisor, &tenant.id, "crm-1", 2).await;

    // In a pseudo-terminal: the progress bar instead of plain lines.
    let command = format!(
        "{} import {} --url {} --key-file {} --state {}",
        importer.binary.display(),
        source_arg,
        importer.url,
        importer.key_file.display(),
        work.path().join("tty.state").display()
    );
    let tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux)");
    let shown = String::from_utf8_lossy(&tty.stdout);
    assert!(
        shown.contains("3/3 files") && shown.contains("left"),
        "{shown}"
    );
    assert!(!shown.contains("progress:"), "{shown}");
}

async fn call_count(cv: &Callvault, token: &str, tenant: &str, call: &str) -> usize {
    let found = graphql(
        &reqwest::Client::new(),
        &cv.base_url,
        token,
        "query($t: UUID!, $c: String!) { call(tenantId: $t, externalCallId: $c) { segments { id } } }",
        json!({ "t": tenant, "c": call }),
    )
    .await
    .expect("call");
    found["call"]["segments"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_import_killed_halfway_resumes_and_imports_each_call_once() {
    let cv = Callvault::start_with(&[]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;
    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let importer = Importer::new(&cv, &tenant);
    let work = tempfile::tempdir().expect("tempdir");
    let source = work.path().join("export");
    const CALLS: usize = 40;
    let mut manifest = String::new();
    for n in 0..CALLS {
        let file = format!("calls/{n}.wav");
        write(&source, &file, &mulaw_wav(20, n as u32));
        let call = json!({
            "external_call_id": format!("bulk-{n}"), "segment": 0, "direction": "inbound",
            "caller_number": "+819012345678", "callee_number": "+81355550100",
            "started_at": "2026-11-29T09:00:00Z", "ended_at": "2026-11-29T09:00:30Z",
            "tags": ["bulk"],
        });
        manifest.push_str(&json!({ "file": file, "call": call }).to_string());
        manifest.push('\n');
    }
    write(&source, "manifest.jsonl", manifest.as_bytes());
    let source_arg = source.to_str().expect("utf-8");
    let state = work.path().join("import.state");
    let args = ["--manifest", "manifest.jsonl", "--concurrency", "1"];
    let mut running = importer
        .command(source_arg, &state, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("import");
    // Killed once a few calls are in.
    for _ in 0..600 {
        let done = std::fs::read_to_string(&state).map_or(0, |s| s.lines().count());
        if done >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.kill().expect("kill -9");
    let _ = running.wait();
    let before = std::fs::read_to_string(&state)
        .expect("state")
        .lines()
        .count();
    assert!(
        (5..CALLS).contains(&before),
        "{before} done before the kill"
    );

    let resumed = importer.run(source_arg, &state, &args);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let line = summary(&resumed);
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(numbers[0] + numbers[1], CALLS, "{line}");
    assert!(numbers[1] >= before, "{line}");
    for n in 0..CALLS {
        assert_eq!(
            call_count(&cv, &supervisor, &tenant.id, &format!("bulk-{n}")).await,
            1,
            "bulk-{n}"
        );
    }
}

/// Stereo 16-bit PCM at 8 kHz, as Amazon Connect records (agent right).
fn connect_wav(seconds: u32) -> Vec<u8> {
    pcm16_stereo_wav(seconds, 8_000)
}

fn contact_record(contact: &str, file: &str, updated: &str, agent: &str) -> Value {
    json!({
        "AWSAccountId": "123456789012",
        "ContactId": contact,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2026-11-29T09:00:00Z",
        "DisconnectTimestamp": "2026-11-29T09:01:00Z",
        "LastUpdateTimestamp": updated,
        "CustomerEndpoint": { "Address": "+819012345678", "Type": "TELEPHONE_NUMBER" },
        "SystemEndpoint": { "Address": "+81355550100", "Type": "TELEPHONE_NUMBER" },
        "Agent": { "Username": agent, "ARN": "arn:aws:connect:ap-northeast-1:123456789012:instance/i/agent/a" },
        "Queue": { "Name": "BasicQueue", "ARN": "arn:aws:connect:ap-northeast-1:123456789012:instance/i/queue/q" },
        "Recording": { "Location": format!("acme-connect/{file}"), "Status": "AVAILABLE", "Type": "AUDIO" },
        "Recordings": [{ "Location": format!("acme-connect/{file}"), "Status": "AVAILABLE", "MediaStreamType": "AUDIO", "StorageType": "S3", "ParticipantType": null }],
        "Attributes": { "CustomerTier": "Gold", "Case Number": "C-1042" },
    })
}

#[tokio::test]
async fn amazon_connect_from_s3_and_genesys_cloud_from_a_folder() {
    let moto = MotoServer::start();
    let endpoint = moto.endpoint();
    let client = reqwest::Client::new();
    create_bucket(&client, &endpoint, "acme-connect").await;
    let cv = Callvault::start_with(&[]).await;
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;
    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let importer = Importer::new(&cv, &tenant);
    let work = tempfile::tempdir().expect("tempdir");

    // Amazon Connect: two recordings with their contact records, which
    // Firehose wrote back to back without a newline (one of them twice:
    // at least once, the later update wins); one recording no record names.
    let first = "6fe40d2a-1a89-4d73-bfcf-5d9c33894f47";
    let second = "0b8a1c62-5d1e-4c53-9a51-2f6f3c1d7e90";
    let file = |contact: &str| {
        format!("connect/acme/CallRecordings/2026/11/29/{contact}_20261129T09:00_UTC.wav")
    };
    let mut records = String::new();
    records.push_str(
        &contact_record(first, &file(first), "2026-11-29T09:02:00Z", "old-agent").to_string(),
    );
    records.push_str(
        &contact_record(second, &file(second), "2026-11-29T09:02:00Z", "agent-2").to_string(),
    );
    records.push_str(
        &contact_record(first, &file(first), "2026-11-29T09:05:00Z", "agent-1").to_string(),
    );
    let put = |key: String, body: Vec<u8>| {
        let (client, endpoint) = (client.clone(), endpoint.clone());
        async move {
            let stored = client
                .put(format!("{endpoint}/acme-connect/{key}"))
                .body(body)
                .send()
                .await
                .expect("put");
            assert!(stored.status().is_success(), "{key}: {}", stored.status());
        }
    };
    put(file(first), connect_wav(30)).await;
    put(file(second), connect_wav(20)).await;
    put("connect/acme/CallRecordings/2026/11/29/ffffffff-0000-0000-0000-000000000000_20261129T09:30_UTC.wav".to_owned(), connect_wav(5)).await;
    put(
        "ctr/2026/11/29/09/ctr-stream-1-2026-11-29-09-07-33-9b1e".to_owned(),
        records.into_bytes(),
    )
    .await;
    let s3 = importer
        .command(
            "s3://acme-connect/",
            &work.path().join("connect.state"),
            &["--layout", "amazon-connect", "--s3-endpoint", &endpoint],
        )
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("import");
    // The recording without a record is the one failure: exit code 1.
    assert_eq!(
        s3.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&s3.stderr)
    );
    assert_eq!(
        summary(&s3),
        "imported 2, already there 0, kept as metadata only 0, failed 1"
    );
    assert!(String::from_utf8_lossy(&s3.stdout).contains("no contact record names this recording"));
    let segment = &segments(&cv, &supervisor, &tenant.id, first, 1).await[0];
    assert_eq!(segment["agent"], "agent-1", "the later update wins");
    assert_eq!(segment["queue"], "BasicQueue");
    assert_eq!(segment["direction"], "INBOUND");
    assert_eq!(segment["callerNumber"], "+819012345678");
    assert_eq!(segment["agentChannel"], "RIGHT");
    assert_eq!(segment["customerChannel"], "LEFT");
    assert_eq!(
        segment["attributes"],
        json!([{ "key": "case_number", "value": "C-1042" }, { "key": "customertier", "value": "Gold" }])
    );
    segments(&cv, &supervisor, &tenant.id, second, 1).await;

    // Genesys Cloud: a conversation with two recordings, each beside its
    // `_metadata.json`, under the export's partitioned folders.
    let genesys = work.path().join("genesys");
    let conversation = "ea4303d8-7d9b-4e5b-8f3e-1b2c3d4e5f60";
    let folder =
        format!("7c5a-org/year=2026/month=11/day=29/hour=9/conversation_id={conversation}");
    for (recording, start, end) in [
        (
            "0261adc0-aaaa-4bbb-8ccc-000000000002",
            "2026-11-29T09:00:40.000+0000",
            "2026-11-29T09:01:00.000+0000",
        ),
        (
            "0261adc0-aaaa-4bbb-8ccc-000000000001",
            "2026-11-29T09:00:00.000+0000",
            "2026-11-29T09:00:30.000+0000",
        ),
    ] {
        write(
            &genesys,
            &format!("{folder}/{recording}.wav"),
            &mulaw_wav(10, 3),
        );
        let metadata = json!({
            "conversationId": conversation, "recordingId": recording,
            "mediaType": "Call", "mediaSubtype": "Trunk", "provider": "edge",
            "userIds": ["5f6e7d8c-agent"], "startTime": start, "endTime": end,
            "durationMs": 10_000, "initialDirection": "outbound",
            "ani": "tel:+81355550100", "dnis": "tel:+819012345678",
        });
        write(
            &genesys,
            &format!("{folder}/{recording}.wav_metadata.json"),
            metadata.to_string().as_bytes(),
        );
    }
    // Genesys documents no numbers in the metadata: one without ani/dnis
    // fails, with why.
    let bare = "b7e1c2d3-0000-4000-8000-000000000009";
    let bare_folder = format!("7c5a-org/year=2026/month=11/day=29/hour=9/conversation_id={bare}");
    write(
        &genesys,
        &format!("{bare_folder}/1111.wav"),
        &mulaw_wav(5, 4),
    );
    let metadata = json!({
        "conversationId": bare, "recordingId": "1111", "mediaType": "Call",
        "startTime": "2026-11-29T09:00:00.000+0000", "endTime": "2026-11-29T09:00:30.000+0000",
    });
    write(
        &genesys,
        &format!("{bare_folder}/1111.wav_metadata.json"),
        metadata.to_string().as_bytes(),
    );
    let imported = importer.run(
        genesys.to_str().expect("utf-8"),
        &work.path().join("genesys.state"),
        &["--layout", "genesys-cloud"],
    );
    assert_eq!(
        imported.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&imported.stdout)
    );
    assert_eq!(
        summary(&imported),
        "imported 2, already there 0, kept as metadata only 0, failed 1"
    );
    assert!(String::from_utf8_lossy(&imported.stdout).contains("no ani/dnis"));
    let segments = segments(&cv, &supervisor, &tenant.id, conversation, 2).await;
    assert_eq!(segments[0]["direction"], "OUTBOUND");
    assert_eq!(
        segments[0]["attributes"],
        json!([{ "key": "genesys.recording_id", "value": "0261adc0-aaaa-4bbb-8ccc-000000000001" }]),
        "segments in start order"
    );
}
