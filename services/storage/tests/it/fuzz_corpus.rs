//! The fuzz targets' checked-in inputs, replayed by the normal suite: every
//! file of fuzz/corpus/<target>/ (seeds) and fuzz/regressions/<target>/
//! (inputs that once crashed a target, named by what they triggered) goes
//! through the harness the target calls (`callvault_storage::fuzzing`),
//! which must return.
//!
//! The seeds are generated here: `CALLVAULT_WRITE_FUZZ_SEEDS=1 cargo test
//! -p callvault-storage fuzz_corpus` rewrites them; without it, a stale or
//! missing seed fails.

use std::path::{Path, PathBuf};

use callvault_storage::fuzzing;
use callvault_storage::playback::RangeRequest;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut inputs = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
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

fn check_seeds(target: &str, seeds: &[(String, Vec<u8>)]) {
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
fn range_corpus_runs() {
    replay("range", |data| {
        let _ = fuzzing::range(data);
    });
}

#[test]
fn signed_url_corpus_runs() {
    replay("signed_url", |data| {
        let _ = fuzzing::signed_url(data);
    });
}

/// A body length (8 bytes, big-endian) and a `Range` value.
fn range_seed(len: u64, value: &str) -> Vec<u8> {
    let mut seed = len.to_be_bytes().to_vec();
    seed.extend_from_slice(value.as_bytes());
    seed
}

#[test]
fn seeds_are_checked_in() {
    let ranges: Vec<(String, Vec<u8>)> = [
        ("from-start", 1000, "bytes=0-"),
        ("closed", 1000, "bytes=10-19"),
        ("suffix", 1000, "bytes=-100"),
        ("past-end", 100, "bytes=100-200"),
        ("two-ranges", 1000, "bytes=0-1,5-6"),
        ("empty-body", 0, "bytes=-5"),
        ("huge", u64::MAX, "bytes=18446744073709551614-"),
    ]
    .into_iter()
    .map(|(name, len, value)| (name.to_owned(), range_seed(len, value)))
    .collect();
    check_seeds("range", &ranges);
    let urls: Vec<(String, Vec<u8>)> = fuzzing::seed_urls()
        .into_iter()
        .map(|(name, url)| (name, url.into_bytes()))
        .collect();
    assert_eq!(urls.len(), 6, "a seed url of every kind");
    check_seeds("signed_url", &urls);
}

#[test]
fn seed_urls_verify_and_seed_ranges_parse() {
    for (name, url) in fuzzing::seed_urls() {
        assert_eq!(fuzzing::signed_url(url.as_bytes()), Some(true), "{name}");
    }
    assert_eq!(
        fuzzing::range(&range_seed(1000, "bytes=10-19")),
        Some(RangeRequest::Part(10..20))
    );
}
