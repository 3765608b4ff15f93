//! A crowd of recorders uploading while something breaks, and the checks
//! that nothing was lost, doubled or left behind afterwards.
//!
//! Each recorder behaves as a well-written client should: it retries an
//! upload until it gets an answer, on the errors that say "retry" (a
//! dropped connection, 503, an upload of the same segment still in
//! progress), and gives up on any other error, which the test reports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::support::{call, object_versions};

/// Seconds of audio per upload: 160 kB, long enough that a kill often
/// lands mid-stream.
const SECONDS: u32 = 20;

/// How long one upload may keep retrying before the test calls it lost.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

pub fn audio_for(seed: u32) -> Vec<u8> {
    mulaw_wav(SECONDS, seed)
}

/// An upload that got a success answer.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub external_call_id: String,
    pub seed: u32,
    pub recording_id: String,
}

#[derive(Default)]
struct Tally {
    accepted: Vec<Accepted>,
    /// Errors a client can't retry: each one is a defect.
    refused: Vec<String>,
    /// Retryable failures seen, by kind, for the test's log.
    retried: BTreeMap<String, usize>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    clients: Vec<JoinHandle<Tally>>,
}

/// What a finished load produced.
pub struct Outcome {
    pub accepted: Vec<Accepted>,
    pub refused: Vec<String>,
    pub retried: BTreeMap<String, usize>,
}

impl Load {
    /// `clients` recorders uploading distinct call segments to `ingestion`
    /// with `key`, one after another, until [`Load::finish`].
    pub fn start(ingestion: &Callvault, key: &str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let next = Arc::new(AtomicU32::new(0));
        let url = format!("{}/v1/recordings", ingestion.base_url);
        let clients = (0..clients)
            .map(|_| {
                let recorder = Recorder {
                    client: reqwest::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .expect("client"),
                    url: url.clone(),
                    key: key.to_owned(),
                };
                let (stop, accepted, next) = (stop.clone(), accepted.clone(), next.clone());
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    while !stop.load(Ordering::SeqCst) {
                        let seed = next.fetch_add(1, Ordering::SeqCst);
                        if recorder.upload_until_answered(seed, &mut tally).await {
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    tally
                })
            })
            .collect();
        Self {
            stop,
            accepted,
            clients,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits until `more` uploads beyond the present count were accepted.
    pub async fn wait_for_more(&self, more: usize, within: Duration) {
        let target = self.accepted() + more;
        let deadline = Instant::now() + within;
        while self.accepted() < target {
            assert!(
                Instant::now() < deadline,
                "only {} of {target} uploads accepted in {within:?}",
                self.accepted()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops taking new segments and waits for every upload in hand to be
    /// answered.
    pub async fn finish(self) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        let mut outcome = Outcome {
            accepted: Vec::new(),
            refused: Vec::new(),
            retried: BTreeMap::new(),
        };
        for client in self.clients {
            let tally = client.await.expect("recorder task");
            outcome.accepted.extend(tally.accepted);
            outcome.refused.extend(tally.refused);
            for (kind, count) in tally.retried {
                *outcome.retried.entry(kind).or_default() += count;
            }
        }
        // For the test's log: how hard the faults hit the recorders.
        eprintln!(
            "{} uploads accepted; retried: {:?}",
            outcome.accepted.len(),
            outcome.retried
        );
        outcome
    }
}

struct Recorder {
    client: reqwest::Client,
    url: String,
    key: String,
}

impl Recorder {
    /// Uploads segment `seed` until it is accepted (true) or refused with
    /// an error that says not to retry (false, noted in the tally).
    async fn upload_until_answered(&self, seed: u32, tally: &mut Tally) -> bool {
        let external_call_id = format!("load-{seed}");
        let audio = audio_for(seed);
        let metadata = call(&external_call_id, "+819044440000", "agent-load").to_string();
        let started = Instant::now();
        loop {
            if started.elapsed() > GIVE_UP_AFTER {
                tally.refused.push(format!(
                    "{external_call_id}: still failing after {GIVE_UP_AFTER:?}"
                ));
                return false;
            }
            let sent = self
                .client
                .post(&self.url)
                .bearer_auth(&self.key)
                .header("content-type", "audio/wav")
                .header("callvault-call", &metadata)
                .body(audio.clone())
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(_) => {
                    // Connection refused or cut: the server died or isn't
                    // back yet. Nothing to read; try again.
                    *tally.retried.entry("connection".into()).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let body: Value = match response.json().await {
                Ok(body) => body,
                Err(_) => {
                    *tally.retried.entry("cut answer".into()).or_default() += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if status == 200 || status == 201 {
                let recording_id = body["recording_id"]
                    .as_str()
                    .expect("receipt id")
                    .to_owned();
                tally.accepted.push(Accepted {
                    external_call_id,
                    seed,
                    recording_id,
                });
                return true;
            }
            let code = body["error"]["code"].as_str().unwrap_or("none").to_owned();
            // What a recorder may retry: a dependency down (503), another
            // request of this segment still running or superseded (409).
            let retryable = matches!(
                (status, code.as_str()),
                (503, "unavailable") | (409, "upload_in_progress" | "upload_superseded")
            );
            if !retryable {
                tally
                    .refused
                    .push(format!("{external_call_id}: {status} {body}"));
                return false;
            }
            *tally.retried.entry(format!("{status} {code}")).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The checks after a faulty run: every accepted upload is in the
/// catalogue exactly once and plays back byte-identical; nothing else is
/// catalogued; and, once the reconciler has run, every object in the
/// bucket belongs to a catalogued recording.
pub async fn check_nothing_lost(
    gateway: &Callvault,
    supervisor: &str,
    tenant: &str,
    outcome: &Outcome,
    s3_endpoint: &str,
    bucket: &str,
) {
    assert!(
        outcome.refused.is_empty(),
        "uploads refused with an error a client can't retry: {:#?}",
        outcome.refused
    );
    let client = reqwest::Client::new();
    let accepted: BTreeMap<&str, &Accepted> = outcome
        .accepted
        .iter()
        .map(|upload| (upload.recording_id.as_str(), upload))
        .collect();
    assert_eq!(
        accepted.len(),
        outcome.accepted.len(),
        "two accepted uploads share a recording id"
    );

    // The catalogue is fed by events: wait for it to catch up.
    let deadline = Instant::now() + Duration::from_secs(60);
    let catalogue = loop {
        let catalogue = list_all(gateway, &client, supervisor, tenant).await;
        if catalogue.len() >= accepted.len() || Instant::now() > deadline {
            break catalogue;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let mut segments = BTreeSet::new();
    for node in &catalogue {
        let external = node["externalCallId"].as_str().expect("externalCallId");
        assert!(segments.insert(external), "{external} is listed twice");
    }
    let listed: BTreeSet<&str> = catalogue
        .iter()
        .map(|node| node["id"].as_str().expect("id"))
        .collect();
    let missing: Vec<&&str> = accepted.keys().filter(|id| !listed.contains(*id)).collect();
    assert!(missing.is_empty(), "accepted but not listed: {missing:?}");
    let extra: Vec<&&str> = listed
        .iter()
        .filter(|id| !accepted.contains_key(*id))
        .collect();
    assert!(extra.is_empty(), "listed but never accepted: {extra:?}");

    for node in &catalogue {
        let id = node["id"].as_str().expect("id");
        let upload = accepted[id];
        assert_eq!(node["externalCallId"], upload.external_call_id.as_str());
        let url = node["playbackUrl"].as_str().expect("playbackUrl");
        let played = client.get(url).send().await.expect("playback");
        assert!(
            played.status().is_success(),
            "playback of {id}: {}",
            played.status()
        );
        let bytes = played.bytes().await.expect("audio");
        assert!(
            bytes.as_ref() == audio_for(upload.seed).as_slice(),
            "{id} does not play back byte-identical"
        );
    }

    // Objects of uploads that died half-way are the reconciler's to
    // remove; wait for it.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut first_look = true;
    loop {
        let stray: Vec<String> = object_recordings(&client, s3_endpoint, bucket)
            .await
            .into_iter()
            .filter(|id| !listed.contains(id.as_str()))
            .collect();
        if first_look {
            eprintln!("objects without a catalogue entry before reconciling: {stray:?}");
            first_look = false;
        }
        if stray.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "objects without a catalogue entry after the reconciler's time: {stray:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every recording of `tenant`, page by page.
async fn list_all(
    gateway: &Callvault,
    client: &reqwest::Client,
    token: &str,
    tenant: &str,
) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = graphql(
            client,
            &gateway.base_url,
            token,
            "query($t: UUID!, $a: String) { recordings(tenantId: $t, first: 100, after: $a) { edges { node { id externalCallId playbackUrl } } pageInfo { hasNextPage endCursor } } }",
            json!({ "t": tenant, "a": after }),
        )
        .await
        .unwrap_or_else(|code| panic!("recordings: {code}"));
        let page = &data["recordings"];
        nodes.extend(
            page["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|edge| edge["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return nodes;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

/// The recording id of every object version and delete marker in the
/// (versioned) bucket: a discarded object must leave no old version behind
/// either. Keys are `tenants/<tenant>/recordings/<fan-out>/<recording>.<upload>.cvro`.
fn recording_of(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('/').collect();
    let [_, _, _, fan_out, name] = parts.as_slice() else {
        return None;
    };
    let (recording, _upload) = name.strip_suffix(".cvro")?.split_once('.')?;
    let first_byte = u8::from_str_radix(fan_out, 16).ok()?;
    let id = uuid::Uuid::parse_str(recording).ok()?;
    (fan_out.len() == 2 && id.as_bytes()[0] == first_byte).then(|| recording.to_owned())
}

async fn object_recordings(client: &reqwest::Client, endpoint: &str, bucket: &str) -> Vec<String> {
    object_versions(client, endpoint, bucket)
        .await
        .iter()
        .map(|key| recording_of(key).unwrap_or_else(|| panic!("unexpected object key {key}")))
        .collect()
}
