//! The envelope crate's one integration-test binary.

mod bad_input;
mod fuzz_corpus;
mod kat;
mod props;
mod streaming;
mod support;
mod tamper;
