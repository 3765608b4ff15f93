//! Test support shared by the crates' integration tests: real peers started
//! on 127.0.0.1 for the duration of a test binary.

mod moto;

pub use moto::MotoServer;
