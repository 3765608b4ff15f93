//! The Python receiver (tests/receiver.py) as a child process. Its
//! interpreter is `$STANDARDWEBHOOKS_PYTHON` (scripts/test installs the
//! venv): without it the tests fail, they never skip.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct Receiver {
    child: Child,
    pub url: String,
    secrets: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Receiver {
    /// Answers 500 to the first `fail_first` requests.
    pub fn start(fail_first: u32) -> Self {
        let python = std::env::var("STANDARDWEBHOOKS_PYTHON").unwrap_or_else(|_| {
            panic!(
                "STANDARDWEBHOOKS_PYTHON is not set: it names a python with the standardwebhooks \
                 package (scripts/test installs one into ~/.cache/callvault-standardwebhooks)"
            )
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = dir.path().join("secrets");
        let log = dir.path().join("log.jsonl");
        std::fs::write(&secrets, "").expect("secrets file");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/receiver.py");
        let mut child = Command::new(&python)
            .arg(script)
            .arg(&secrets)
            .arg(&log)
            .arg(fail_first.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting the receiver with {python}: {e}"));
        let stdout = child.stdout.take().expect("receiver stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the receiver's port");
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            panic!("the receiver did not start (standardwebhooks missing?): {line:?}")
        });
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/hooks?token=t0ps3cret"),
            secrets,
            log,
            _dir: dir,
        }
    }

    /// The secrets the receiver verifies with, in this order.
    pub fn trust(&self, secrets: &[&str]) {
        std::fs::write(&self.secrets, secrets.join("\n")).expect("write secrets");
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(&self.log) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| serde_json::from_str(line).expect("a log line"))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
