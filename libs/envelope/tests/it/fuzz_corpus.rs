//! The object reader's fuzz inputs, replayed by the normal suite: every
//! file of fuzz/corpus/envelope_open/ (seeds) and
//! fuzz/regressions/envelope_open/ (inputs that once crashed the target,
//! named by what they triggered) goes through the target's own harness,
//! `callvault_envelope::fuzzing::open_object`, which must return.
//!
//! The seeds are real objects sealed by this crate:
//! `CALLVAULT_WRITE_FUZZ_SEEDS=1 cargo test -p callvault-envelope fuzz_corpus`
//! rewrites them; without it, a stale or missing seed fails.

use std::path::{Path, PathBuf};

use callvault_envelope::fuzzing::{open_object, seed_objects};

const TARGET: &str = "envelope_open";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs() -> Vec<(PathBuf, Vec<u8>)> {
    let mut inputs = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(TARGET)) else {
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

#[test]
fn corpus_and_regressions_open_without_panicking() {
    let inputs = inputs();
    assert!(!inputs.is_empty(), "no corpus for {TARGET}");
    let panicked: Vec<String> = inputs
        .iter()
        .filter(|(_, bytes)| std::panic::catch_unwind(|| open_object(bytes)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(panicked.is_empty(), "{TARGET}: panicked on {panicked:?}");
}

#[test]
fn seeds_are_real_objects_and_checked_in() {
    let dir = fuzz_dir().join("corpus").join(TARGET);
    let write = std::env::var_os("CALLVAULT_WRITE_FUZZ_SEEDS").is_some();
    for (name, object) in seed_objects() {
        assert!(open_object(&object).is_ok(), "seed {name} opens");
        let path = dir.join(&name);
        if write {
            std::fs::create_dir_all(&dir).expect("corpus dir");
            std::fs::write(&path, &object).expect("write seed");
        }
        let stored = std::fs::read(&path).unwrap_or_default();
        assert!(
            stored == object,
            "seed {} is stale: rerun with CALLVAULT_WRITE_FUZZ_SEEDS=1",
            path.display()
        );
    }
}
