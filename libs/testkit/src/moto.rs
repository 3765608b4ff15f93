//! moto speaks the S3 and KMS wire protocols to the real AWS SDKs. Each test
//! binary starts its own server on a free loopback port; the process is
//! killed (by its PID) when the handle drops.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct MotoServer {
    child: Child,
    port: u16,
}

/// Where `moto_server` lives: `$MOTO_SERVER`, else the venv that
/// `scripts/test` creates, else `$PATH`.
fn moto_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    if let Ok(home) = std::env::var("HOME") {
        let venv = PathBuf::from(home).join(".cache/callvault-venv/bin/moto_server");
        if venv.exists() {
            return venv;
        }
    }
    PathBuf::from("moto_server")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"))
        .port()
}

impl MotoServer {
    /// Starts moto and waits until it accepts connections. Panics with a clear
    /// message when moto is not installed: these tests never skip.
    pub fn start() -> Self {
        let binary = moto_binary();
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto ({}): {e}. Run scripts/test, which installs it, \
                     or set MOTO_SERVER",
                    binary.display()
                )
            });
        let mut server = Self { child, port };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto exited during start-up: {status}");
            }
            if TcpStream::connect_timeout(&addr.into(), Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto did not listen on {addr} within 30 s");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
