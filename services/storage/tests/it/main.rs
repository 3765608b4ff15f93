//! The storage service's one integration-test binary.

mod integrity;
mod listing;
mod playback;
mod records;
mod spans;
mod store;
mod support;
mod sweep;
mod sweep_http;
mod upload;
