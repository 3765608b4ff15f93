//! The upload body: its first window, read for probing, then the whole of
//! it pumped to storage through a small bounded channel, so memory stays at
//! the window plus a few chunks whatever the upload's size. (actix's
//! payload is not `Send`; the channel also carries the bytes across.)

use std::time::Duration;

use actix_web::error::PayloadError;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::LocalBoxStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tracing::warn;

use crate::silence::Silencer;
use crate::sink::AudioStream;
use crate::uploads::{UploadKey, Uploads};
use callvault_contracts::RecordingId;

/// An upload's body: a request's payload, or a resumable upload's staged
/// parts read back (`crate::tus`).
pub type Body = LocalBoxStream<'static, Result<Bytes, PayloadError>>;

/// Chunks in flight between the request and storage.
const CHANNEL_CHUNKS: usize = 4;

/// How long the body is, as the request framed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length`: exactly this many bytes.
    Exact(u64),
    /// Chunked, without a length (a recorder streaming a call as it
    /// happens): anything up to the site's upload limit.
    AtMost(u64),
}

impl BodyLength {
    /// The most bytes the body may have.
    pub fn limit(self) -> u64 {
        match self {
            BodyLength::Exact(length) | BodyLength::AtMost(length) => length,
        }
    }

    /// The length the request declared, if it declared one.
    pub fn exact(self) -> Option<u64> {
        match self {
            BodyLength::Exact(length) => Some(length),
            BodyLength::AtMost(_) => None,
        }
    }
}

/// Why the body could not be taken in whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFailure {
    /// It ended (or the connection closed) before `Content-Length` bytes.
    Short { received: u64 },
    /// More bytes than `Content-Length` (defensive: HTTP/1 framing stops
    /// at the declared length).
    Long { received: u64 },
    /// A body without a length went past the upload limit.
    OverLimit { limit: u64 },
    /// No byte for the idle timeout, or a protocol error.
    Failed(String),
    /// The idempotency claim was taken over while we streamed.
    Superseded,
}

/// The start of the body: at least `limit` bytes, or all of it if shorter.
pub struct Window {
    pub bytes: Bytes,
    /// The body ended inside the window.
    pub complete: bool,
}

pub async fn read_window(
    payload: &mut Body,
    limit: usize,
    idle: Duration,
) -> Result<Window, BodyFailure> {
    let mut buffer = BytesMut::new();
    while buffer.len() < limit {
        match next_chunk(payload, idle).await? {
            Some(chunk) => buffer.extend_from_slice(&chunk),
            None => {
                return Ok(Window {
                    bytes: buffer.freeze(),
                    complete: true,
                });
            }
        }
    }
    Ok(Window {
        bytes: buffer.freeze(),
        complete: false,
    })
}

async fn next_chunk(payload: &mut Body, idle: Duration) -> Result<Option<Bytes>, BodyFailure> {
    match timeout(idle, payload.next()).await {
        Err(_) => Err(BodyFailure::Failed(format!(
            "no data for {}s",
            idle.as_secs()
        ))),
        Ok(None) => Ok(None),
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        // actix reports a connection closed before `Content-Length` bytes
        // as an incomplete payload: that is a short body, counted by the
        // caller.
        Ok(Some(Err(PayloadError::Incomplete(_)))) => Ok(None),
        Ok(Some(Err(error))) => Err(BodyFailure::Failed(error.to_string())),
    }
}

/// Keeps the idempotency claim fresh while a long upload streams.
pub struct Heartbeat<'a> {
    pub uploads: &'a Uploads,
    pub key: &'a UploadKey,
    pub recording: RecordingId,
    pub every: Duration,
}

/// The receiving half: what storage reads.
pub fn channel() -> (mpsc::Sender<std::io::Result<Bytes>>, AudioStream) {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (tx, stream.boxed())
}

/// Sends the window then the rest of `payload` to `tx`, counting bytes.
/// Returns how many it received, or why the body failed; on failure storage
/// gets an error as its last chunk, so it never commits a partial body.
pub async fn pump(
    window: Bytes,
    mut payload: Body,
    expected: BodyLength,
    idle: Duration,
    heartbeat: Heartbeat<'_>,
    silencer: Option<&mut Silencer>,
    tx: mpsc::Sender<std::io::Result<Bytes>>,
) -> Result<u64, BodyFailure> {
    let outcome = forward(
        window,
        &mut payload,
        expected,
        idle,
        &heartbeat,
        silencer,
        &tx,
    )
    .await;
    if let Err(failure) = &outcome {
        // Storage may have gone already; then nobody needs telling.
        let _ = tx
            .send(Err(std::io::Error::other(format!("{failure:?}"))))
            .await;
    }
    outcome
}

async fn forward(
    window: Bytes,
    payload: &mut Body,
    expected: BodyLength,
    idle: Duration,
    heartbeat: &Heartbeat<'_>,
    mut silencer: Option<&mut Silencer>,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) -> Result<u64, BodyFailure> {
    let mut received = 0u64;
    let mut beat_at = Instant::now() + heartbeat.every;
    let mut next = Some(window);
    loop {
        let Some(chunk) = next.take() else { break };
        received += chunk.len() as u64;
        match expected {
            BodyLength::Exact(length) if received > length => {
                return Err(BodyFailure::Long { received });
            }
            BodyLength::AtMost(limit) if received > limit => {
                return Err(BodyFailure::OverLimit { limit });
            }
            _ => {}
        }
        let chunk = match silencer.as_deref_mut() {
            Some(silencer) => silencer.apply(chunk),
            None => chunk,
        };
        if !chunk.is_empty() && tx.send(Ok(chunk)).await.is_err() {
            // Storage stopped reading: it failed, and says why itself.
            return Ok(received);
        }
        if Instant::now() >= beat_at {
            beat_at = Instant::now() + heartbeat.every;
            match heartbeat
                .uploads
                .heartbeat(heartbeat.key, heartbeat.recording)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Err(BodyFailure::Superseded),
                // A missed beat is not worth failing the upload for.
                Err(error) => warn!(%error, "upload heartbeat failed"),
            }
        }
        next = next_chunk(payload, idle).await?;
    }
    if expected.exact().is_some_and(|length| received != length) {
        return Err(BodyFailure::Short { received });
    }
    Ok(received)
}
