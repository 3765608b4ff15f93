//! A `callvault serve` process of our own, on a free loopback port, with
//! its own data directory; killed (by its PID) on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Callvault {
    child: Child,
    pub base_url: String,
    pub data_dir: tempfile::TempDir,
    binary: PathBuf,
    log: PathBuf,
    /// The environment it was started with, reused by `admin_token` so the
    /// token is signed with the same secret.
    env: Vec<(String, String)>,
    target: String,
    port: u16,
}

/// Starts `callvault serve --target <target>` in `dir`, appending its
/// output to `log`.
fn spawn(
    binary: &Path,
    target: &str,
    dir: &Path,
    log: &Path,
    port: u16,
    env: &[(String, String)],
) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("log file: {e}"));
    let log_err = log_file
        .try_clone()
        .unwrap_or_else(|e| panic!("log file: {e}"));
    let mut command = Command::new(binary);
    command
        .args(["serve", "--target", target])
        .current_dir(dir)
        .env("CALLVAULT_LISTEN", format!("127.0.0.1:{port}"))
        .env("CALLVAULT_DATA_DIR", dir.join("data"))
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
}

/// `$CALLVAULT_BIN`, else the `callvault` next to this test binary's
/// directory (cargo puts tests in target/<profile>/deps/).
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("CALLVAULT_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no current exe: {e}"));
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()));
    let candidate = profile_dir.join("callvault");
    assert!(
        candidate.exists(),
        "{} is missing: build it first (`cargo build -p callvault`; scripts/test does) or set CALLVAULT_BIN",
        candidate.display()
    );
    candidate
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"))
        .port()
}

impl Callvault {
    /// `callvault serve` with no configuration but a data directory and a
    /// port, as a newcomer runs it.
    pub async fn start_embedded() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        Self::start_target("all", env).await
    }

    /// `callvault serve --target <target>` with extra environment.
    pub async fn start_target(target: &str, env: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let port = free_port();
        let binary = binary();
        let log = data_dir.path().join("callvault.log");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = spawn(&binary, target, data_dir.path(), &log, port, &env);
        let mut process = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            data_dir,
            binary,
            log,
            env,
            target: target.to_owned(),
            port,
        };
        process.wait_healthy().await;
        process
    }

    /// Stops the process (SIGKILL, by its PID) and starts it again on the
    /// same data directory and port, with `extra_env` added to (or
    /// overriding) its environment. The log keeps both runs.
    pub async fn restart_with(&mut self, extra_env: &[(&str, &str)]) {
        self.kill();
        for (key, value) in extra_env {
            self.env.retain(|(k, _)| k != key);
            self.env.push(((*key).to_owned(), (*value).to_owned()));
        }
        self.start_again().await;
    }

    /// `kill -9`, by its PID: no drain, no goodbye, whatever was in flight
    /// is cut off. The process stays down until [`Self::start_again`].
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the process again (after [`Self::kill`]) on the same data
    /// directory, port and environment, and waits until it is healthy.
    pub async fn start_again(&mut self) {
        self.child = spawn(
            &self.binary,
            &self.target,
            self.data_dir.path(),
            &self.log,
            self.port,
            &self.env,
        );
        self.wait_healthy().await;
    }

    /// Runs another `callvault` subcommand (`audit verify …`) with this
    /// instance's configuration; returns its exit success and output.
    pub fn run_command(&self, args: &[&str]) -> (bool, String) {
        let output = Command::new(&self.binary)
            .args(args)
            .current_dir(self.data_dir.path())
            .env("CALLVAULT_DATA_DIR", self.data_dir.path().join("data"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap_or_else(|e| panic!("callvault {args:?}: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "callvault exited during start-up ({status}):\n{}",
                    self.log_text()
                );
            }
            let health = client
                .get(format!("{}/healthz", self.base_url))
                .send()
                .await;
            if health.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "callvault did not become healthy in 60 s:\n{}",
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `callvault admin token …` against this instance's data directory.
    pub fn admin_token(&self, args: &[&str]) -> String {
        let output = Command::new(&self.binary)
            .args(["admin", "token"])
            .args(args)
            .current_dir(self.data_dir.path())
            .env("CALLVAULT_DATA_DIR", self.data_dir.path().join("data"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap_or_else(|e| panic!("admin token: {e}"));
        assert!(
            output.status.success(),
            "admin token failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Its `--target`, e.g. `storage` or `ingestion,storage`.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (by its PID) and waits up to `patience` for a graceful
    /// exit; returns whether it exited successfully. Killed if it doesn't.
    pub async fn terminate(&mut self, patience: Duration) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill -TERM: {e}"));
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Callvault {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
