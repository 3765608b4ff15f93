//! Fuzz harnesses over ingestion's parsers, shared by the targets in
//! `fuzz/fuzz_targets/` and the regression test that replays the
//! checked-in corpus (`tests/it/fuzz_corpus.rs`): both call these
//! functions, so an input that once crashed one is checked by the normal
//! suite from then on.
//!
//! Not an API: hidden from the docs, nothing else calls it. Each function
//! takes arbitrary bytes and must return, whatever they are.

use std::cell::RefCell;
use std::pin::Pin;
use std::time::Duration;

use actix_web::FromRequest;
use actix_web::error::PayloadError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web;
use bytes::Bytes;
use futures_util::{FutureExt, Stream};

use crate::probe::{self, Container};
use crate::{body, call, headers, riff};

const CONTAINERS: [Container; 4] = [
    Container::Wav,
    Container::Mpeg,
    Container::Flac,
    Container::Ogg,
];

/// The RIFF/WAVE header walk on its own: the layout it found, or why not.
pub fn riff(data: &[u8]) -> Result<String, String> {
    riff::parse(data)
        .map(|layout| format!("{layout:?}"))
        .map_err(str::to_owned)
}

/// The audio probe as the upload runs it, once per container a
/// `Content-Type` can declare, and the container sniffing on its own.
/// Returns how many declarations probed as audio.
pub fn probe(data: &[u8]) -> usize {
    let window = Bytes::copy_from_slice(data);
    let _ = probe::sniff(data);
    CONTAINERS
        .into_iter()
        .filter(|container| probe::probe(&window, *container).is_ok())
        .count()
}

/// The `Callvault-Call` header value, parsed and validated.
pub fn call_metadata(data: &[u8]) -> Result<(), String> {
    call::parse(data).map(|_| ()).map_err(|error| error.0)
}

/// The upload request as far as it is parsed before storage: the
/// headers (`name: value` lines up to an empty line, kept when HTTP allows
/// them) through the same functions the handler calls, then the rest of
/// the input as the body, cut into chunks of a length taken from its size,
/// read into the probe window and probed as the declared type.
pub fn upload_request(data: &[u8]) -> Result<(), String> {
    let (head, rest) = split_once(data, b"\n\n").unwrap_or((data, &[]));
    let mut map = HeaderMap::new();
    for line in head.split(|byte| *byte == b'\n') {
        let Some((name, value)) = split_once(line, b":") else {
            continue;
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    let audio = headers::audio_headers(&map).map_err(|error| error.to_string());
    let call = headers::call_metadata(&map).map_err(|error| error.to_string());
    let (container, _length) = audio?;
    call?;
    let chunks: Vec<Bytes> = rest
        .chunks(1 + rest.len() % 61)
        .map(Bytes::copy_from_slice)
        .collect();
    // A small window, so that inputs the fuzzer can reach fill it.
    let window = read_window(chunks, 64)?;
    probe::probe(&window, container).map_err(|error| error.to_string())?;
    Ok(())
}

thread_local! {
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// [`body::read_window`] over `chunks` as an actix payload stream.
fn read_window(chunks: Vec<Bytes>, limit: usize) -> Result<Bytes, String> {
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, PayloadError>));
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(stream);
    let mut dev_payload = actix_web::dev::Payload::from(boxed);
    let request = actix_web::test::TestRequest::default().to_http_request();
    let payload = web::Payload::from_request(&request, &mut dev_payload)
        .now_or_never()
        .ok_or("the payload extractor is not ready")?
        .map_err(|error| error.to_string())?;
    RUNTIME.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|error| error.to_string())?;
            *cell = Some(runtime);
        }
        let runtime = cell.as_ref().ok_or("no runtime")?;
        let mut payload: body::Body = futures_util::StreamExt::boxed_local(payload);
        runtime
            .block_on(body::read_window(
                &mut payload,
                limit,
                Duration::from_secs(5),
            ))
            .map(|window| window.bytes)
            .map_err(|failure| format!("{failure:?}"))
    })
}

fn split_once<'a>(data: &'a [u8], separator: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let at = data
        .windows(separator.len())
        .position(|window| window == separator)?;
    Some((&data[..at], &data[at + separator.len()..]))
}
