//! A small fake of AWS KMS, speaking its JSON 1.1 wire protocol over
//! HTTP/1.1, for the behaviours moto doesn't have: moto decrypts under a
//! disabled or pending-deletion key, rotation there only records metadata
//! (the material never changes), and it answers a mismatched Decrypt KeyId
//! with AccessDenied instead of IncorrectKeyException, and ReEncrypt ignores
//! SourceKeyId. This fake enforces key
//! state, rotates real material and can be stopped to test an unreachable
//! KMS. moto stays the reference for the wire protocol itself.

mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use self::state::{State, error};

pub struct FakeKms {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl FakeKms {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake kms");
        let addr = listener.local_addr().expect("fake kms address");
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(serve(listener, state));
        Self { addr, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the listener and every open connection: the next call finds
    /// nothing listening (connection refused).
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for FakeKms {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    // Owned here so that aborting this task also drops every connection.
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        connections.spawn(handle_connection(stream, state.clone()));
        while connections.try_join_next().is_some() {}
    }
}

async fn handle_connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut reader = BufReader::new(stream);
    while let Some((target, body)) = read_request(&mut reader).await {
        let operation = target.strip_prefix("TrentService.").unwrap_or(&target);
        let result = serde_json::from_slice::<Value>(&body)
            .map_err(|_| error("SerializationException", "request body is not json"))
            .and_then(|request| {
                let mut state = state
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.handle(operation, &request)
            });
        let (status, body) = match result {
            Ok(body) => ("200 OK", body),
            Err(body) => ("400 Bad Request", body),
        };
        let body = body.to_string();
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\n\
             content-length: {}\r\nx-amzn-requestid: fake\r\n\r\n",
            body.len()
        );
        let stream = reader.get_mut();
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

/// Reads one request: the X-Amz-Target header and the body. `None` when the
/// client closed the connection or sent something this fake doesn't parse.
async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut target = String::new();
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "x-amz-target" => target = value.trim().to_owned(),
            "content-length" => length = value.trim().parse().ok()?,
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await.ok()?;
    Some((target, body))
}
