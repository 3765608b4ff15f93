//! Peers of a test's own: a PostgreSQL cluster and a RabbitMQ node started
//! for one test from the machine's installed binaries, each in a temporary
//! directory, on free loopback ports, as child processes. A test may kill
//! and restart them as it likes: the machine's own PostgreSQL and RabbitMQ,
//! which every other test uses, are never touched. Whatever a peer started
//! is killed, by its PID (or process group), when it drops.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"))
        .port()
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// Appends a child's stdout and stderr to `log`.
fn log_to(command: &mut Command, log: &Path) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let err = file.try_clone().unwrap_or_else(|e| panic!("log: {e}"));
    command.stdin(Stdio::null()).stdout(file).stderr(err);
}

fn signal(target: &str, signal: &str) {
    // `kill` may find the process already gone: nothing to report then.
    let _ = Command::new("kill")
        .args([signal, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits (polling, without blocking the runtime) until `child` exits;
/// false when it is still running after `patience`.
async fn exited_within(child: &mut Child, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// `name` in a directory of `$PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A PostgreSQL cluster of the test's own: `initdb` (user `postgres`,
/// trust auth) into a temporary directory, `postgres` listening on
/// 127.0.0.1 on a free port.
pub struct OwnPostgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    /// Whom the server runs as when the test runs as root, which
    /// PostgreSQL refuses: the `postgres` user's (uid, gid).
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
}

/// The directory of PostgreSQL's server binaries: `$CALLVAULT_PG_BIN`, the
/// newest `/usr/lib/postgresql/<version>/bin` (Debian, Ubuntu), else where
/// `initdb` is on `$PATH`.
fn postgres_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("CALLVAULT_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    on_path("initdb")
        .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| {
            panic!("no PostgreSQL server binaries (initdb): install them or set CALLVAULT_PG_BIN")
        })
}

/// The (uid, gid) of `user` in /etc/passwd.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.first() != Some(&user) || fields.len() < 4 {
            return None;
        }
        Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
    })
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}

impl OwnPostgres {
    /// Creates the cluster and starts it; returns once it accepts
    /// connections.
    pub async fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cv-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let run_as = running_as_root().then(|| {
            user_ids("postgres").unwrap_or_else(|| {
                panic!("running as root: PostgreSQL needs a `postgres` user to run as")
            })
        });
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", dir.path().display()));
        }
        let mut postgres = Self {
            bin: postgres_bin(),
            port: free_port(),
            run_as,
            child: None,
            dir,
        };
        let mut initdb = postgres.command("initdb");
        initdb
            .arg("-D")
            .arg(postgres.data_dir())
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync"]);
        let output = tokio::task::spawn_blocking(move || initdb.output())
            .await
            .unwrap_or_else(|e| panic!("initdb task: {e}"))
            .unwrap_or_else(|e| panic!("initdb: {e}"));
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        postgres.start_again().await;
        postgres
    }

    /// One of its binaries, run as the user the server runs as.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command.current_dir(self.dir.path());
        command
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this cluster, as user postgres.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database; returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let output = self
            .command("createdb")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", name])
            .output()
            .unwrap_or_else(|e| panic!("createdb: {e}"));
        assert!(
            output.status.success(),
            "createdb {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.url(name)
    }

    /// Starts the server (again, after [`Self::crash`]) on the same data
    /// directory and port; returns once it accepts connections, crash
    /// recovery done.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "PostgreSQL is already running");
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir())
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"])
            // Test data: a crash of the process, not of the machine, loses
            // nothing without fsync.
            .args(["-c", "fsync=off", "-c", "shared_buffers=16MB"]);
        log_to(&mut command, &self.log());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "postgres exited during start-up ({status}):\n{}",
                    self.log_text()
                );
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "postgres not ready in 60 s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Brings the server down as a crash would: its immediate shutdown
    /// (SIGQUIT, by its PID) cuts every connection at once, writes no
    /// checkpoint, and leaves crash recovery to the next start. Returns
    /// once every server process is gone.
    pub async fn crash(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(&child.id().to_string(), "-QUIT");
        if !exited_within(&mut child, Duration::from_secs(30)).await {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_text(&self) -> String {
        read_log(&self.log())
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Immediate shutdown stops the server's own children too.
            signal(&child.id().to_string(), "-QUIT");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A RabbitMQ node of the test's own: `rabbitmq-server` with its own node
/// name, AMQP and distribution ports, configuration, database and logs in a
/// temporary directory, no plugins. It registers with the machine's `epmd`
/// (shared by every node, and harmless), and its Erlang cookie is in its own
/// `$HOME`.
pub struct OwnRabbit {
    dir: TempDir,
    script: PathBuf,
    node: String,
    port: u16,
    dist_port: u16,
    child: Option<Child>,
}

/// `$CALLVAULT_RABBITMQ_SERVER`, the script itself where Debian puts it
/// (`/usr/sbin/rabbitmq-server` is a wrapper that switches to the rabbitmq
/// user, from /var/lib/rabbitmq), else `rabbitmq-server` on `$PATH`.
fn rabbitmq_server() -> PathBuf {
    if let Some(path) = std::env::var_os("CALLVAULT_RABBITMQ_SERVER") {
        return PathBuf::from(path);
    }
    let debian = PathBuf::from("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if debian.is_file() {
        return debian;
    }
    on_path("rabbitmq-server").unwrap_or_else(|| {
        panic!("no rabbitmq-server: install RabbitMQ or set CALLVAULT_RABBITMQ_SERVER")
    })
}

impl OwnRabbit {
    /// Starts the node; returns once it accepts AMQP connections.
    pub async fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cv-rabbit-")
            .tempdir()
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let node = format!(
            "cv-test-{}-{}@localhost",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let port = free_port();
        let mut dist_port = free_port();
        while dist_port == port {
            dist_port = free_port();
        }
        let files = [
            (
                "rabbitmq.conf",
                format!("listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users.guest = true\n"),
            ),
            // Read instead of /etc/rabbitmq/rabbitmq-env.conf, which names
            // the machine's node.
            ("rabbitmq-env.conf", String::new()),
            ("enabled_plugins", "[].\n".to_owned()),
        ];
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let mut rabbit = Self {
            script: rabbitmq_server(),
            node,
            port,
            dist_port,
            child: None,
            dir,
        };
        rabbit.start_again().await;
        rabbit
    }

    /// `amqp://guest:guest@127.0.0.1:<port>/%2f`: guest may connect from
    /// the loopback interface.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("rabbitmq.log")
    }

    /// Starts the node (again, after [`Self::kill`]) with the same name,
    /// ports and database; returns once its AMQP listener is up, which is
    /// the last step of its boot.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "RabbitMQ is already running");
        let dir = self.dir.path();
        let mut command = Command::new(&self.script);
        command
            .current_dir(dir)
            .env("HOME", dir)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", dir.join("advanced.config"))
            .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_LOGS", "-")
            // Its own process group: `kill` takes the shell script, the
            // Erlang VM and its helpers down together.
            .process_group(0);
        log_to(&mut command, &self.log());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.script.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !port_open(self.port) {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "rabbitmq-server exited during start-up ({status}):\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "RabbitMQ not listening in 120 s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `kill -9` of the whole node (its process group): every connection
    /// is cut, nothing is flushed. Returns once its listener is gone.
    pub async fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(&format!("-{}", child.id()), "-KILL");
        let _ = child.wait();
        let deadline = Instant::now() + Duration::from_secs(30);
        while port_open(self.port) {
            assert!(
                Instant::now() < deadline,
                "RabbitMQ still listening 30 s after kill -9"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_text(&self) -> String {
        read_log(&self.log())
    }
}

impl Drop for OwnRabbit {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&format!("-{}", child.id()), "-KILL");
            let _ = child.wait();
        }
    }
}
