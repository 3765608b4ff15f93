//! The fuzz targets' checked-in inputs, replayed by the normal suite: every
//! file of fuzz/corpus/<target>/ (seeds) and fuzz/regressions/<target>/
//! (inputs that once crashed a target, named by what they triggered) goes
//! through the same harness function the target calls
//! (`callvault_ingestion::fuzzing`), which must return, whatever it says.
//!
//! The seeds are generated here: `CALLVAULT_WRITE_FUZZ_SEEDS=1 cargo test
//! -p callvault-ingestion fuzz_corpus` rewrites them; without it, a seed
//! missing from the corpus fails.

use std::path::{Path, PathBuf};

use callvault_ingestion::fuzzing;

use crate::wav;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every checked-in input of `target`, by file name.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut inputs = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("corpus file");
            inputs.push((path, bytes));
        }
    }
    inputs.sort();
    inputs
}

/// Runs every input of `target` through `harness`, naming each that panics.
fn replay(target: &str, harness: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "no corpus for fuzz target {target}");
    let panicked: Vec<String> = inputs
        .iter()
        .filter(|(_, bytes)| std::panic::catch_unwind(|| harness(bytes)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(panicked.is_empty(), "{target}: panicked on {panicked:?}");
}

/// Checks (or with `CALLVAULT_WRITE_FUZZ_SEEDS` set, writes) each seed.
fn check_seeds(target: &str, seeds: &[(&str, Vec<u8>)]) {
    let dir = fuzz_dir().join("corpus").join(target);
    let write = std::env::var_os("CALLVAULT_WRITE_FUZZ_SEEDS").is_some();
    for (name, bytes) in seeds {
        let path = dir.join(name);
        if write {
            std::fs::create_dir_all(&dir).expect("corpus dir");
            std::fs::write(&path, bytes).expect("write seed");
        }
        let stored = std::fs::read(&path).unwrap_or_default();
        assert!(
            stored == *bytes,
            "seed {} is stale: rerun with CALLVAULT_WRITE_FUZZ_SEEDS=1",
            path.display()
        );
    }
}

#[test]
fn riff_corpus_runs() {
    replay("riff", |data| {
        let _ = fuzzing::riff(data);
    });
}

#[test]
fn probe_corpus_runs() {
    replay("probe", |data| {
        let _ = fuzzing::probe(data);
    });
}

#[test]
fn call_metadata_corpus_runs() {
    replay("call_metadata", |data| {
        let _ = fuzzing::call_metadata(data);
    });
}

#[test]
fn upload_request_corpus_runs() {
    replay("upload_request", |data| {
        let _ = fuzzing::upload_request(data);
    });
}

/// The first `len` bytes of a recording: what the probe window holds of a
/// longer upload.
fn head(audio: Vec<u8>, len: usize) -> Vec<u8> {
    audio[..len.min(audio.len())].to_vec()
}

fn wav_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("wav-pcm16-stereo", head(wav::pcm16_stereo(8000, 1), 300)),
        ("wav-mulaw-fact", head(wav::mulaw_mono_8k(1), 200)),
        (
            "wav-alaw-short-fmt",
            head(wav::alaw_mono_8k_short_fmt(1), 200),
        ),
        ("wav-extensible-list", wav_extensible()),
    ]
}

/// WAVE_FORMAT_EXTENSIBLE (µ-law sub-format) with a LIST chunk before data.
fn wav_extensible() -> Vec<u8> {
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&0xfffeu16.to_le_bytes());
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&8000u32.to_le_bytes());
    fmt.extend_from_slice(&8000u32.to_le_bytes());
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&8u16.to_le_bytes());
    fmt.extend_from_slice(&22u16.to_le_bytes());
    fmt.extend_from_slice(&8u16.to_le_bytes());
    fmt.extend_from_slice(&4u32.to_le_bytes());
    // KSDATAFORMAT_SUBTYPE_MULAW: the format tag, then the fixed GUID tail.
    fmt.extend_from_slice(&7u16.to_le_bytes());
    fmt.extend_from_slice(&[
        0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
    ]);
    let mut body = b"WAVE".to_vec();
    for (id, chunk) in [
        (b"fmt ", fmt),
        (b"LIST", b"INFOISFT\x04\0\0\0cv\0\0".to_vec()),
        (b"data", vec![0xff; 64]),
    ] {
        body.extend_from_slice(id);
        body.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        body.extend_from_slice(&chunk);
    }
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(body.len() as u32).to_le_bytes());
    wav.extend_from_slice(&body);
    wav
}

/// Three MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, joint stereo) of
/// silence-shaped zeros, optionally behind an ID3v2 tag.
fn mp3(id3: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if id3 {
        out.extend_from_slice(b"ID3\x04\x00\x00\x00\x00\x00\x0a");
        out.extend_from_slice(&[0; 10]);
    }
    for _ in 0..3 {
        out.extend_from_slice(&[0xff, 0xfb, 0x90, 0x44]);
        out.extend_from_slice(&[0; 413]);
    }
    out
}

/// A FLAC stream with only its STREAMINFO block: 8 kHz mono 16-bit, 8000
/// samples.
fn flac() -> Vec<u8> {
    let mut out = b"fLaC".to_vec();
    out.extend_from_slice(&[0x80, 0x00, 0x00, 0x22]);
    out.extend_from_slice(&4096u16.to_be_bytes());
    out.extend_from_slice(&4096u16.to_be_bytes());
    out.extend_from_slice(&[0; 6]);
    let packed: u64 = (8000 << 44) | (15 << 36) | 8000;
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]);
    out
}

/// The Ogg CRC-32 (polynomial 0x04c11db7, no reflection, zero start).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for byte in data {
        crc ^= u32::from(*byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn ogg_page(header_type: u8, sequence: u32, packet: &[u8]) -> Vec<u8> {
    let mut page = b"OggS\x00".to_vec();
    page.push(header_type);
    page.extend_from_slice(&0u64.to_le_bytes());
    page.extend_from_slice(&0x4356_5231u32.to_le_bytes());
    page.extend_from_slice(&sequence.to_le_bytes());
    page.extend_from_slice(&[0; 4]);
    let mut lacing = vec![255u8; packet.len() / 255];
    lacing.push((packet.len() % 255) as u8);
    page.push(lacing.len() as u8);
    page.extend_from_slice(&lacing);
    page.extend_from_slice(packet);
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// An Ogg Vorbis stream's first pages: identification (8 kHz mono) and
/// comment headers.
fn ogg_vorbis() -> Vec<u8> {
    let mut ident = b"\x01vorbis".to_vec();
    ident.extend_from_slice(&0u32.to_le_bytes());
    ident.push(1);
    ident.extend_from_slice(&8000u32.to_le_bytes());
    ident.extend_from_slice(&[0; 12]);
    ident.extend_from_slice(&[0xb8, 0x01]);
    let mut comment = b"\x03vorbis".to_vec();
    comment.extend_from_slice(&9u32.to_le_bytes());
    comment.extend_from_slice(b"callvault");
    comment.extend_from_slice(&0u32.to_le_bytes());
    comment.push(1);
    let mut out = ogg_page(0x02, 0, &ident);
    out.extend_from_slice(&ogg_page(0x00, 1, &comment));
    out
}

fn call_json() -> serde_json::Value {
    serde_json::json!({
        "external_call_id": "pbx-1",
        "segment": 0,
        "direction": "inbound",
        "caller_number": "+81312345678",
        "callee_number": "100",
        "agent": "alice",
        "queue": "",
        "started_at": "2025-01-01T00:00:00Z",
        "ended_at": "2025-01-01T00:05:00Z",
        "agent_channel": "left",
        "customer_channel": "right"
    })
}

fn call_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut full = call_json();
    full["tags"] = serde_json::json!(["vip", "complaint"]);
    full["attributes"] = serde_json::json!({"product": "securities"});
    full["notice_played"] = serde_json::json!(true);
    full["pauses"] = serde_json::json!([{"start_ms": 1000, "end_ms": 5000}]);
    let mut bad_pause = call_json();
    bad_pause["pauses"] = serde_json::json!([{"start_ms": 5000, "end_ms": 1000}]);
    let json = |value: &serde_json::Value| serde_json::to_vec(value).expect("json");
    vec![
        ("call-minimal", json(&call_json())),
        ("call-full", json(&full)),
        ("call-bad-pause", json(&bad_pause)),
        ("call-missing-fields", br#"{"segment":0}"#.to_vec()),
    ]
}

fn request(content_type: &str, audio: &[u8], length: usize) -> Vec<u8> {
    let mut out = format!(
        "authorization: Bearer cv_test\ncontent-type: {content_type}\ncontent-length: {length}\ncallvault-call: {}\n\n",
        call_json()
    )
    .into_bytes();
    out.extend_from_slice(audio);
    out
}

#[test]
fn seeds_are_checked_in() {
    let wavs = wav_seeds();
    check_seeds("riff", &wavs);
    let mut audio = wavs.clone();
    audio.extend([
        ("mp3-frames", mp3(false)),
        ("mp3-id3", mp3(true)),
        ("flac-streaminfo", flac()),
        ("ogg-vorbis", ogg_vorbis()),
    ]);
    check_seeds("probe", &audio);
    check_seeds("call_metadata", &call_seeds());
    let wav = &wavs[0].1;
    check_seeds(
        "upload_request",
        &[
            ("wav", request("audio/wav", wav, wav.len())),
            ("mp3", request("audio/mpeg", &mp3(false), 1251)),
            ("flac-short", request("audio/flac", &flac(), 4000)),
        ],
    );
}

#[test]
fn real_seeds_probe_as_audio() {
    for (name, wav) in wav_seeds() {
        assert!(fuzzing::riff(&wav).is_ok(), "{name}");
        assert!(fuzzing::probe(&wav) == 1, "{name} probes as wav only");
    }
    assert_eq!(fuzzing::probe(&mp3(false)), 1, "mp3");
    assert_eq!(fuzzing::probe(&mp3(true)), 1, "mp3 behind id3");
    assert!(fuzzing::call_metadata(&call_seeds()[1].1).is_ok());
    let wav = &wav_seeds()[0].1;
    assert_eq!(
        fuzzing::upload_request(&request("audio/wav", wav, wav.len())),
        Ok(())
    );
}
