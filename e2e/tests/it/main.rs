//! End-to-end tests: the real `callvault` binary in its own process, driven
//! over HTTP as a recorder, an admin and a supervisor would.

mod cluster;
mod distributed;
mod distributed_traces;
mod embedded;
mod faults;
mod hardening;
mod isolation;
mod key_change;
mod lifecycle;
mod load;
mod offboarding;
mod outage;
mod shared_keyring;
mod support;
mod telemetry;
