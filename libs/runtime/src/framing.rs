//! Malformed HTTP/1 framing answered with the JSON error body every route
//! uses, instead of actix-http's empty `400`/`431`/`408`.
//!
//! actix-http's h1 dispatcher answers a request head it cannot parse (a bad
//! or second `Content-Length`, a bad `Transfer-Encoding`, a missing `Host`,
//! a head over its buffer) with a bodiless response before any service or
//! middleware runs, and offers no hook to change it. So [`CheckedStream`]
//! sits between the socket and the dispatcher and runs the dispatcher's
//! own request decoder (`actix_http::h1::Codec`, same limits, same rules)
//! over everything the client sends, message after message on a
//! keep-alive connection. The dispatcher only ever sees bytes that decoded
//! cleanly. At the first framing error it sees the end of the stream
//! instead: it finishes the responses it owes, then shuts the connection
//! down, and the shutdown writes our JSON answer before closing, so
//! pipelined answers stay in order.
//!
//! A body whose framing breaks (a bad chunk size) belongs to a request a
//! handler is already answering: the handler sees its body end early and
//! answers with its own code, and nothing is added.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_http::ServiceConfig;
use actix_http::error::ParseError;
use actix_http::h1::{Codec, Message, MessageType};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::codec::Decoder;
use tracing::debug;

/// How long a connection may take to send its first request head, as
/// actix's own `client_request_timeout` default (which the server built in
/// [`crate::server`] turns off in favour of this one).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads of up to 8 KiB spent draining a refused request before closing.
const LINGER_READS: usize = 128;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 32 * 1024;

/// The JSON answer to a framing error, as a whole HTTP/1.1 response.
fn refusal(status: u16, reason: &str, code: &str, message: &str) -> Bytes {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    Bytes::from(format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
}

/// The answer to a request head the decoder refused.
pub fn parse_refusal(error: &ParseError) -> Bytes {
    match error {
        ParseError::TooLarge => refusal(
            431,
            "Request Header Fields Too Large",
            "headers_too_large",
            "the request head is over 128 KiB or has more than 96 header fields",
        ),
        ParseError::Header => refusal(
            400,
            "Bad Request",
            "malformed_request",
            "a header breaks http/1.1 framing: content-length must be one decimal number, \
             transfer-encoding chunked and not beside content-length, host given once",
        ),
        ParseError::Method => refusal(
            400,
            "Bad Request",
            "malformed_request",
            "the request method is malformed",
        ),
        ParseError::Uri(_) => refusal(
            400,
            "Bad Request",
            "malformed_request",
            "the request target is malformed",
        ),
        ParseError::Version => refusal(
            400,
            "Bad Request",
            "malformed_request",
            "the http version is not http/1.0 or http/1.1",
        ),
        _ => refusal(
            400,
            "Bad Request",
            "malformed_request",
            "the request is not well-formed http/1.1",
        ),
    }
}

fn timeout_refusal() -> Bytes {
    refusal(
        408,
        "Request Timeout",
        "request_timeout",
        "the request head did not arrive in time",
    )
}

enum Reading {
    /// Passing checked bytes on.
    Open,
    /// The client closed its side, or its framing broke: the dispatcher
    /// sees the end of the stream.
    Ended,
}

/// A connection whose request framing is checked before actix sees it.
pub struct CheckedStream<IO> {
    io: IO,
    codec: Codec,
    /// What the codec still has to decode; it consumes from the front.
    decoding: BytesMut,
    /// The same bytes as received, so what the codec consumed can be passed
    /// on verbatim (a chunked body's framing included).
    received: BytesMut,
    /// Checked bytes the dispatcher has not read yet.
    checked: BytesMut,
    reading: Reading,
    /// Within a request body: a framing error there is the handler's.
    in_body: bool,
    /// Until the first request head has arrived.
    head_deadline: Option<Pin<Box<Sleep>>>,
    /// Our answer to a framing error, written when the dispatcher shuts the
    /// connection down.
    reply: Option<Bytes>,
    /// After a framing error, whether the write side is shut down and what
    /// the client still sends is being read away.
    lingering: bool,
}

impl<IO> CheckedStream<IO> {
    pub fn new(io: IO) -> Self {
        Self {
            io,
            codec: Codec::new(ServiceConfig::default()),
            decoding: BytesMut::new(),
            received: BytesMut::new(),
            checked: BytesMut::new(),
            reading: Reading::Open,
            in_body: false,
            head_deadline: Some(Box::pin(tokio::time::sleep_until(
                Instant::now() + HEAD_TIMEOUT,
            ))),
            reply: None,
            lingering: false,
        }
    }

    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    fn end(&mut self, reply: Option<Bytes>) {
        self.reading = Reading::Ended;
        self.reply = reply;
        self.head_deadline = None;
    }

    /// Decodes what has arrived, moving the bytes of every complete head
    /// and body part to `checked`.
    fn decode(&mut self) {
        loop {
            let before = self.decoding.len();
            let decoded = self.codec.decode(&mut self.decoding);
            let consumed = before - self.decoding.len();
            let accepted = self.received.split_to(consumed);
            match decoded {
                Ok(Some(Message::Item(_))) => {
                    self.checked.extend_from_slice(&accepted);
                    self.head_deadline = None;
                    self.in_body = self.codec.message_type() != MessageType::None;
                }
                Ok(Some(Message::Chunk(Some(_)))) => self.checked.extend_from_slice(&accepted),
                Ok(Some(Message::Chunk(None))) => {
                    self.checked.extend_from_slice(&accepted);
                    self.in_body = false;
                }
                Ok(None) => {
                    self.checked.extend_from_slice(&accepted);
                    return;
                }
                Err(error) => {
                    debug!(%error, in_body = self.in_body, "malformed http framing");
                    let reply = (!self.in_body).then(|| parse_refusal(&error));
                    self.end(reply);
                    return;
                }
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for CheckedStream<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.checked.is_empty() {
                let n = this.checked.len().min(buf.remaining());
                buf.put_slice(&this.checked[..n]);
                this.checked.advance(n);
                return Poll::Ready(Ok(()));
            }
            if let Reading::Ended = this.reading {
                return Poll::Ready(Ok(()));
            }
            if let Some(deadline) = this.head_deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                this.end(Some(timeout_refusal()));
                continue;
            }
            this.received.reserve(READ_CHUNK);
            let start = this.received.len();
            let n = ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut this.io),
                cx,
                &mut this.received
            ))?;
            if n == 0 {
                // The client is done sending; a partial head is dropped,
                // there is nobody left to read an answer to it.
                this.end(None);
                continue;
            }
            this.decoding
                .extend_from_slice(&this.received[start..start + n]);
            this.decode();
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for CheckedStream<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.lingering {
            // The dispatcher has written every answer it owed: ours goes last.
            let Some(reply) = this.reply.as_mut() else {
                return Pin::new(&mut this.io).poll_shutdown(cx);
            };
            while !reply.is_empty() {
                let n = ready!(Pin::new(&mut this.io).poll_write(cx, reply))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                reply.advance(n);
            }
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.lingering = true;
        }
        // Closing a socket with unread bytes makes the kernel send a reset,
        // which can destroy our answer before the client reads it. The rest
        // of the refused request is read away until the client closes (the
        // dispatcher's disconnect timeout bounds the wait).
        let mut scratch = [0u8; 8 * 1024];
        for _ in 0..LINGER_READS {
            let mut buf = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut this.io).poll_read(cx, &mut buf)) {
                Ok(()) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Ok(()) => {}
                Err(_) => return Poll::Ready(Ok(())),
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
