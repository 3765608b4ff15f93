//! One test binary for the crate: the conformance suite run against every
//! backend, plus each backend's own checks.

mod conformance;
mod fs;
mod s3;
