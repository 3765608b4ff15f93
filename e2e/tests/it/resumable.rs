//! Resumable uploads (tus 1.0) on the embedded binary. The reference
//! Python client, `tuspy`, uploads a 50 MB recording in 1 MB chunks; the
//! binary is killed (kill -9) halfway and started again, and `tuspy`
//! resumes from the offset the server acknowledged; the recording plays
//! back byte for byte, and at no point does the data directory hold a
//! window of the audio in clear. Then the bad requests, another tenant,
//! termination and expiry.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use callvault_e2e::{Callvault, graphql, mulaw_wav};
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard};

/// The venv scripts/test makes with tuspy in it.
fn tuspy_python() -> PathBuf {
    let path = std::env::var("TUSPY_PYTHON").unwrap_or_else(|_| {
        panic!("TUSPY_PYTHON must name a python with tuspy installed (scripts/test makes one)")
    });
    PathBuf::from(path)
}

const CLIENT: &str = r#"
import sys
from tusclient import client

base, key, path, call, phase, state = sys.argv[1:7]
tus = client.TusClient(base + "/v1/uploads", headers={"Authorization": "Bearer " + key})
if phase == "start":
    up = tus.uploader(file_path=path, chunk_size=1024 * 1024,
                      metadata={"call": call, "filetype": "audio/wav"}, retries=0)
    up.set_url(up.create_url())
    up.offset = 0
    open(state, "w").write(up.url)
    print("url", up.url, flush=True)
    while up.offset < up.get_file_size():
        up.upload_chunk()
        print("offset", up.offset, flush=True)
else:
    up = tus.uploader(file_path=path, chunk_size=1024 * 1024, url=open(state).read(),
                      retries=5, retry_delay=1)
    print("resuming", up.offset, flush=True)
    up.upload()
    print("recording", up.request.response_headers.get("callvault-recording-id"), flush=True)
"#;

/// 16-bit mono PCM at 16 kHz of noise (no window repeats), `bytes` of
/// samples.
fn noise_wav(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 44);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + bytes as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&16_000u32.to_le_bytes());
    out.extend_from_slice(&32_000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(bytes as u32).to_le_bytes());
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    while out.len() < 44 + bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(44 + bytes);
    out
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
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

/// Fails if any file under `dir` holds one of `windows`.
fn assert_no_plaintext(dir: &Path, windows: &[&[u8]], when: &str) {
    for file in files(dir) {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for window in windows {
            assert!(
                memchr::memmem::find(&bytes, window).is_none(),
                "{when}: {} holds audio in clear",
                file.display()
            );
        }
    }
}

#[tokio::test]
async fn tuspy_resumes_a_50_mb_upload_across_a_kill_and_nothing_is_on_disk_in_clear() {
    let mut cv = Callvault::start_with(&[]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;

    let work = tempfile::tempdir().expect("tempdir");
    let audio = noise_wav(50 * 1024 * 1024);
    let audio_path = work.path().join("call.wav");
    std::fs::write(&audio_path, &audio).expect("write audio");
    let script = work.path().join("client.py");
    std::fs::write(&script, CLIENT).expect("write client");
    let state = work.path().join("upload-url");
    // Half an hour: the 50 MB are 27 minutes of audio.
    let mut call = call("tus-1", "+819012345678", "agent-1");
    call["ended_at"] = json!("2026-11-29T09:30:00Z");
    let call = call.to_string();
    let windows: Vec<&[u8]> = [1_000_000usize, 10_000_000, 30_000_000, 52_000_000]
        .iter()
        .map(|&at| &audio[at..at + 64])
        .collect();
    let base_url = cv.base_url.clone();
    let run = |phase: &str| {
        Command::new(tuspy_python())
            .arg(&script)
            .args([&base_url, &tenant.key])
            .arg(&audio_path)
            .args([call.as_str(), phase])
            .arg(&state)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python")
    };

    let mut first = run("start");
    let lines = BufReader::new(first.stdout.take().expect("stdout"));
    let mut acknowledged = 0u64;
    for line in lines.lines() {
        let line = line.expect("line");
        if let Some(offset) = line.strip_prefix("offset ") {
            acknowledged = offset.parse().expect("offset");
            if acknowledged >= 20 * 1024 * 1024 {
                break;
            }
        }
    }
    assert!(
        acknowledged >= 20 * 1024 * 1024,
        "tuspy got to {acknowledged}"
    );
    assert_no_plaintext(cv.data_dir.path(), &windows, "mid-upload");
    cv.kill();
    let _ = first.wait();
    assert_no_plaintext(cv.data_dir.path(), &windows, "after kill -9");
    cv.start_again().await;

    let second = run("resume").wait_with_output().expect("resume");
    let said = String::from_utf8_lossy(&second.stdout).into_owned();
    assert!(
        second.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let resumed_at: u64 = said
        .lines()
        .find_map(|line| line.strip_prefix("resuming "))
        .expect("resuming line")
        .parse()
        .expect("offset");
    assert!(
        resumed_at >= acknowledged,
        "resumed at {resumed_at}, acknowledged {acknowledged}"
    );
    println!("acknowledged {acknowledged} bytes before kill -9; tuspy resumed at {resumed_at}");
    let recording = said
        .lines()
        .find_map(|line| line.strip_prefix("recording "))
        .expect("recording line")
        .to_owned();

    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let mut url = None;
    for _ in 0..100 {
        let found = graphql(
            &client,
            &cv.base_url,
            &supervisor,
            "query($t: UUID!) { call(tenantId: $t, externalCallId: \"tus-1\") { segments { id playbackUrl } } }",
            json!({ "t": tenant.id }),
        )
        .await
        .expect("call");
        if let Some(segment) = found["call"]["segments"].get(0) {
            assert_eq!(segment["id"], recording.as_str());
            url = segment["playbackUrl"].as_str().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let played = client
        .get(url.expect("catalogued"))
        .send()
        .await
        .expect("play")
        .bytes()
        .await
        .expect("audio");
    assert!(played == audio, "played back byte for byte");
    assert_no_plaintext(cv.data_dir.path(), &windows, "after completion");
}

fn tus(request: reqwest::RequestBuilder, key: &str) -> reqwest::RequestBuilder {
    request.bearer_auth(key).header("tus-resumable", "1.0.0")
}

fn metadata(call: &Value, filetype: &str) -> String {
    format!(
        "call {},filetype {}",
        STANDARD.encode(call.to_string()),
        STANDARD.encode(filetype)
    )
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("json error");
    body["error"]["code"].as_str().expect("code").to_owned()
}

#[tokio::test]
async fn bad_tus_requests_are_refused_and_change_nothing() {
    let cv = Callvault::start_with(&[("CALLVAULT_INGESTION__RESUMABLE_EXPIRY_SECS", "2")]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;
    let other = onboard(&cv, &client, &admin, &bpo, "Other Insurer").await;
    let uploads = format!("{}/v1/uploads", cv.base_url);
    let audio = mulaw_wav(5, 1);
    let call = call("tus-2", "+819012345678", "agent-1");

    let options = client
        .request(reqwest::Method::OPTIONS, &uploads)
        .send()
        .await
        .expect("options");
    assert_eq!(options.status(), 204);
    assert_eq!(options.headers()["tus-version"], "1.0.0");
    assert!(
        options.headers()["tus-extension"]
            .to_str()
            .expect("ascii")
            .contains("creation-with-upload")
    );

    // No protocol version, no call, no length: refused, nothing created.
    let refused = client
        .post(&uploads)
        .bearer_auth(&tenant.key)
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 412);
    assert_eq!(refused.headers()["tus-version"], "1.0.0");
    let refused = tus(client.post(&uploads), &tenant.key)
        .header("upload-length", audio.len().to_string())
        .header(
            "upload-metadata",
            format!("filetype {}", STANDARD.encode("audio/wav")),
        )
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 400);
    assert_eq!(error_code(refused).await, "invalid_metadata");
    let refused = tus(client.post(&uploads), &tenant.key)
        .header("upload-metadata", metadata(&call, "audio/wav"))
        .send()
        .await
        .expect("post");
    assert_eq!(error_code(refused).await, "invalid_header");
    let refused = tus(client.post(&uploads), "cvk_not-a-key")
        .header("upload-length", audio.len().to_string())
        .header("upload-metadata", metadata(&call, "audio/wav"))
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), 401);

    // Created with its first 1,000 bytes.
    let created = tus(client.post(&uploads), &tenant.key)
        .header("upload-length", audio.len().to_string())
        .header("upload-metadata", metadata(&call, "audio/wav"))
        .header("content-type", "application/offset+octet-stream")
        .body(audio[..1000].to_vec())
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["upload-offset"], "1000");
    assert!(created.headers().contains_key("upload-expires"));
    let location = created.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let url = format!("{}{location}", cv.base_url);
    let offset = |key: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let head = tus(client.head(&url), &key).send().await.expect("head");
            (
                head.status().as_u16(),
                head.headers()
                    .get("upload-offset")
                    .map(|v| v.to_str().expect("ascii").to_owned()),
            )
        }
    };

    // A wrong offset, a bad checksum: refused, the offset stays.
    let wrong = tus(client.patch(&url), &tenant.key)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(audio[..1000].to_vec())
        .send()
        .await
        .expect("patch");
    assert_eq!(wrong.status(), 409);
    assert_eq!(error_code(wrong).await, "offset_mismatch");
    let sha1 = |bytes: &[u8]| {
        STANDARD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            bytes,
        ))
    };
    let corrupted = tus(client.patch(&url), &tenant.key)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "1000")
        .header(
            "upload-checksum",
            format!("sha1 {}", sha1(b"something else")),
        )
        .body(audio[1000..5000].to_vec())
        .send()
        .await
        .expect("patch");
    assert_eq!(corrupted.status().as_u16(), 460);
    assert_eq!(error_code(corrupted).await, "checksum_mismatch");
    assert_eq!(
        offset(tenant.key.clone()).await,
        (200, Some("1000".to_owned()))
    );
    let wrong_type = tus(client.patch(&url), &tenant.key)
        .header("content-type", "audio/wav")
        .header("upload-offset", "1000")
        .body(audio[1000..5000].to_vec())
        .send()
        .await
        .expect("patch");
    assert_eq!(wrong_type.status(), 415);

    // Another tenant's key doesn't find it.
    assert_eq!(offset(other.key.clone()).await.0, 404);
    let theirs = tus(client.patch(&url), &other.key)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "1000")
        .body(audio[1000..5000].to_vec())
        .send()
        .await
        .expect("patch");
    assert_eq!(theirs.status(), 404);
    let theirs = tus(client.delete(&url), &other.key)
        .send()
        .await
        .expect("delete");
    assert_eq!(theirs.status(), 404);

    // A good checksum goes in; the rest completes the upload.
    let good = tus(client.patch(&url), &tenant.key)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "1000")
        .header(
            "upload-checksum",
            format!("sha1 {}", sha1(&audio[1000..5000])),
        )
        .body(audio[1000..5000].to_vec())
        .send()
        .await
        .expect("patch");
    assert_eq!(good.status(), 204);
    assert_eq!(good.headers()["upload-offset"], "5000");
    let last = tus(client.patch(&url), &tenant.key)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "5000")
        .body(audio[5000..].to_vec())
        .send()
        .await
        .expect("patch");
    assert_eq!(
        last.status(),
        204,
        "{}\n{}",
        last.text().await.unwrap_or_default(),
        cv.log_text()
    );
    assert_eq!(last.headers()["upload-offset"], audio.len().to_string());
    assert!(last.headers().contains_key("callvault-recording-id"));

    // The tenant's policy is asked at creation: a listed number gets no
    // upload at all.
    let tenant_admin = cv.admin_token(&["--role", "tenant_admin", "--tenant", &tenant.id]);
    graphql(
        &client,
        &cv.base_url,
        &tenant_admin,
        "mutation($t: UUID!) { addDoNotRecordNumbers(tenantId: $t, numbers: [\"+819011110000\"]) }",
        json!({ "t": tenant.id }),
    )
    .await
    .expect("do-not-record list");
    let mut listed = call.clone();
    listed["external_call_id"] = json!("tus-5");
    listed["caller_number"] = json!("+819011110000");
    let refused = tus(client.post(&uploads), &tenant.key)
        .header("upload-length", audio.len().to_string())
        .header("upload-metadata", metadata(&listed, "audio/wav"))
        .send()
        .await
        .expect("create");
    assert_eq!(refused.status(), 422);
    assert_eq!(error_code(refused).await, "call_not_recorded");

    // Terminated: gone.
    let mut second = call.clone();
    second["external_call_id"] = json!("tus-3");
    let created = tus(client.post(&uploads), &tenant.key)
        .header("upload-length", audio.len().to_string())
        .header("upload-metadata", metadata(&second, "audio/wav"))
        .send()
        .await
        .expect("create");
    let url = format!(
        "{}{}",
        cv.base_url,
        created.headers()["location"].to_str().expect("location")
    );
    let deleted = tus(client.delete(&url), &tenant.key)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    let head = tus(client.head(&url), &tenant.key)
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 404);

    // Left alone past its expiry (2 s here): swept, parts and all.
    let mut third = call.clone();
    third["external_call_id"] = json!("tus-4");
    let created = tus(client.post(&uploads), &tenant.key)
        .header("upload-length", audio.len().to_string())
        .header("upload-metadata", metadata(&third, "audio/wav"))
        .header("content-type", "application/offset+octet-stream")
        .body(audio[..1000].to_vec())
        .send()
        .await
        .expect("create");
    let url = format!(
        "{}{}",
        cv.base_url,
        created.headers()["location"].to_str().expect("location")
    );
    let staging = cv.data_dir.path().join("data").join("uploads");
    assert_eq!(std::fs::read_dir(&staging).expect("staging dir").count(), 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let head = tus(client.head(&url), &tenant.key)
        .send()
        .await
        .expect("head");
    assert!(
        matches!(head.status().as_u16(), 404 | 410),
        "{}",
        head.status()
    );
    assert_eq!(
        std::fs::read_dir(&staging).expect("staging dir").count(),
        0,
        "swept"
    );
}
