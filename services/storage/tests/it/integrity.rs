//! Damaged recordings: found before a response starts (GET and HEAD alike),
//! by `verify`, and by the scrub; each failure raised on the alarm (an
//! event for the audit chain). And playback's `Content-Type`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{Bus, EventHandler, HandlerError, Message};
use callvault_contracts::events::{Event, IntegrityCheck, RecordingIntegrityFailedV1};
use callvault_contracts::{RecordingId, TenantId};
use callvault_storage::IntegrityAlarm;
use callvault_storage::playback::playback_path;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RANGE};
use serde_json::Value;

use crate::support::{
    Harness, audio, in_minutes, make_writable_and_write, object_files, signer, spawn_playback,
};

/// Collects the integrity events storage publishes.
#[derive(Default)]
struct Events(Mutex<Vec<RecordingIntegrityFailedV1>>);

#[async_trait]
impl EventHandler for Events {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let event = message
            .decode()
            .map_err(|e| HandlerError::permanent(e.to_string()))?;
        self.0.lock().expect("lock").push(event);
        Ok(())
    }
}

impl Events {
    async fn wait_for(&self, count: usize) -> Vec<RecordingIntegrityFailedV1> {
        for _ in 0..100 {
            let seen = self.0.lock().expect("lock").clone();
            if seen.len() >= count {
                return seen;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("expected {count} integrity events");
    }
}

/// A harness whose store raises integrity failures on an in-process bus.
async fn alarmed() -> (Harness, Arc<Events>) {
    let mut harness = Harness::embedded().await;
    let bus = Arc::new(InProcessBus::new());
    let events = Arc::new(Events::default());
    bus.subscribe("test", &[RecordingIntegrityFailedV1::TOPIC], events.clone())
        .await
        .expect("subscribe");
    harness.alarm(IntegrityAlarm::with_bus(bus as Arc<dyn Bus>));
    (harness, events)
}

/// The object file of `recording`.
fn object_of(harness: &Harness, recording: RecordingId) -> std::path::PathBuf {
    object_files(harness)
        .into_iter()
        .find(|path| path.to_string_lossy().contains(&recording.to_string()))
        .expect("the recording's object")
}

fn flip(harness: &Harness, recording: RecordingId, at: usize) {
    let path = object_of(harness, recording);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[at] ^= 0x01;
    make_writable_and_write(&path, &bytes);
}

/// A WAV header and enough audio for three frames.
fn wav(len: usize) -> Vec<u8> {
    let mut data = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    data.extend(audio(len));
    data
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("a json error body");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn damage_is_a_500_before_the_response_starts_for_get_and_head() {
    let (harness, events) = alarmed().await;
    let tenant = TenantId::new();
    let client = reqwest::Client::new();
    let base = spawn_playback(harness.store.clone());
    // In the header (the key commitment), in frame 0, in frame 2.
    let cases = [
        ("header", 50usize),
        ("first frame", 75 + 10),
        ("frame 2", 75 + 2 * 65_552 + 10),
    ];
    for (what, at) in cases {
        let recording = RecordingId::new();
        harness.store_bytes(tenant, recording, &wav(200_000)).await;
        flip(&harness, recording, at);
        let url = format!(
            "{base}{}",
            playback_path(&signer(), tenant, recording, in_minutes(5))
        );
        // Frame 2 is the first frame a range starting there needs.
        let range = if what == "frame 2" {
            Some("bytes=140000-140100")
        } else {
            None
        };
        for head in [false, true] {
            let mut request = if head {
                client.head(&url)
            } else {
                client.get(&url)
            };
            if let Some(range) = range {
                request = request.header(RANGE, range);
            }
            let response = request.send().await.expect("request");
            assert_eq!(
                response.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{what}, head: {head}"
            );
            if !head {
                assert_eq!(error_code(response).await, "integrity_error", "{what}");
            }
        }
    }
    let seen = events.wait_for(6).await;
    assert!(seen.iter().all(|event| event.tenant_id == tenant
        && event.detected_by == IntegrityCheck::Read
        && event.object_key.contains(&event.recording_id.to_string())));
}

#[tokio::test]
async fn playback_says_what_the_audio_is() {
    let harness = Harness::embedded().await;
    let tenant = TenantId::new();
    let client = reqwest::Client::new();
    let base = spawn_playback(harness.store.clone());
    let cases: [(&[u8], &str); 4] = [
        (b"fLaC\0\0\0\x22", "audio/flac"),
        (b"OggS\0\x02\0\0", "audio/ogg"),
        (b"ID3\x04\0\0\0\0\0\0", "audio/mpeg"),
        (b"not audio at all", "application/octet-stream"),
    ];
    let mut all: Vec<(Vec<u8>, &str)> = cases
        .iter()
        .map(|(magic, mime)| {
            let mut data = magic.to_vec();
            data.extend(audio(100_000));
            (data, *mime)
        })
        .collect();
    all.push((wav(100_000), "audio/wav"));
    for (data, mime) in all {
        let recording = RecordingId::new();
        harness.store_bytes(tenant, recording, &data).await;
        let url = format!(
            "{base}{}",
            playback_path(&signer(), tenant, recording, in_minutes(5))
        );
        // Whole, a range inside frame 0, one past it (frame 0 read for
        // its magic), and HEAD.
        for range in [None, Some("bytes=10-20"), Some("bytes=70000-")] {
            let mut request = client.get(&url);
            if let Some(range) = range {
                request = request.header(RANGE, range);
            }
            let response = request.send().await.expect("get");
            assert!(response.status().is_success());
            assert_eq!(response.headers()[CONTENT_TYPE], mime, "{range:?}");
        }
        let response = client.head(&url).send().await.expect("head");
        assert_eq!(response.headers()[CONTENT_TYPE], mime, "head");
    }
}

#[tokio::test]
async fn verify_reads_the_whole_recording() {
    let (harness, events) = alarmed().await;
    let tenant = TenantId::new();
    let (good, bad) = (RecordingId::new(), RecordingId::new());
    harness.store_bytes(tenant, good, &audio(150_000)).await;
    harness.store_bytes(tenant, bad, &audio(150_000)).await;
    // The last frame: only a whole read finds it.
    flip(&harness, bad, 75 + 2 * 65_552 + 5);
    let intact = harness
        .store
        .verify(tenant, good, IntegrityCheck::Verify)
        .await
        .expect("verified");
    assert!(intact.intact);
    assert_eq!(intact.bytes_checked, 150_000);
    let damaged = harness
        .store
        .verify(tenant, bad, IntegrityCheck::Verify)
        .await
        .expect("verified");
    assert!(!damaged.intact);
    // Whole frames only, and none past the damaged one.
    assert!(damaged.bytes_checked <= 2 * 65_536 && damaged.bytes_checked.is_multiple_of(65_536));
    assert!(damaged.failure.is_some());
    let seen = events.wait_for(1).await;
    assert_eq!(
        (seen[0].recording_id, seen[0].detected_by),
        (bad, IntegrityCheck::Verify)
    );
    // Another tenant's recording is not found, not verified.
    assert!(
        harness
            .store
            .verify(TenantId::new(), good, IntegrityCheck::Verify)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_scrub_reports_exactly_the_damaged_recordings() {
    let (harness, events) = alarmed().await;
    let mut recordings = Vec::new();
    for _ in 0..9 {
        let tenant = TenantId::new();
        let recording = RecordingId::new();
        harness.store_bytes(tenant, recording, &audio(70_000)).await;
        recordings.push((tenant, recording));
    }
    // Three kinds of damage: a flipped bit, a cut object, another
    // recording's object in its place.
    flip(&harness, recordings[1].1, 75 + 66_000);
    let cut = object_of(&harness, recordings[4].1);
    let bytes = std::fs::read(&cut).expect("read");
    make_writable_and_write(&cut, &bytes[..bytes.len() - 100]);
    let replaced = object_of(&harness, recordings[7].1);
    let other = std::fs::read(object_of(&harness, recordings[8].1)).expect("read");
    make_writable_and_write(&replaced, &other);

    let scrubber = callvault_storage::Scrubber::new(harness.store.clone(), 100);
    let report = scrubber.run(chrono::Utc::now()).await.expect("scrubbed");
    assert_eq!(report.checked, 9);
    assert_eq!(report.unchecked, 0);
    let mut found: Vec<RecordingId> = report.damaged.iter().map(|d| d.recording).collect();
    let mut expected = vec![recordings[1].1, recordings[4].1, recordings[7].1];
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
    let seen = events.wait_for(3).await;
    assert!(
        seen.iter()
            .all(|event| event.detected_by == IntegrityCheck::Scrub)
    );

    // A 10 % share reads about a tenth each day, and ten days read them all.
    let tenth = callvault_storage::Scrubber::new(harness.store.clone(), 10);
    let mut checked = 0;
    let today = chrono::Utc::now();
    for day in 0..10 {
        let report = tenth
            .run(today + chrono::Duration::days(day))
            .await
            .expect("scrubbed");
        checked += report.checked;
    }
    assert_eq!(checked, 9, "every recording once in ten days");
}
