//! The one integration-test binary of callvault-keys: the provider
//! conformance suite against every backend, plus backend-specific checks
//! and the tracing decorator.

mod conformance;
mod fake_kms;
mod kms_fake;
mod kms_moto;
mod local;
mod local_shared;
mod spec_vectors;
mod traced;
