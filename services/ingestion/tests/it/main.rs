//! The ingestion service's one integration-test binary.

mod fakes;
mod fuzz_corpus;
mod hardening;
mod idempotency;
mod openapi;
mod reconcile;
mod rejects;
mod remote_sink;
mod streaming;
mod support;
mod upload;
mod wav;
