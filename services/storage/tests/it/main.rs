//! The storage service's one integration-test binary.

mod byte_seconds;
mod fuzz_corpus;
mod integrity;
mod listing;
mod metering;
mod playback;
mod records;
mod spans;
mod spec_decoder;
mod store;
mod support;
mod sweep;
mod sweep_http;
mod upload;
