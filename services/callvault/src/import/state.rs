//! The local state file that makes an import resumable: one JSON line per
//! call segment that went in (or was already there), appended as each
//! finishes. A second run skips them; one killed halfway picks up where it
//! stopped (a segment that went in just before the kill, but not into the
//! file, is answered "already there" by the server's idempotency).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    outcome: String,
}

pub struct State {
    path: PathBuf,
    done: HashSet<String>,
    file: Mutex<std::fs::File>,
}

impl State {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let mut done = HashSet::new();
        if let Ok(text) = std::fs::read_to_string(path) {
            for line in text.lines() {
                // A line cut short by a kill is the last one: ignored.
                if let Ok(line) = serde_json::from_str::<Line>(line) {
                    done.insert(line.key);
                }
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the state file {}", path.display()))?;
        Ok(State {
            path: path.to_owned(),
            done,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_done(&self, key: &str) -> bool {
        self.done.contains(key)
    }

    pub fn record(&self, key: &str, outcome: &str) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(&Line {
            key: key.to_owned(),
            outcome: outcome.to_owned(),
        })?;
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        file.write_all(line.as_bytes())?;
        file.flush()?;
        Ok(())
    }
}
