//! End-to-end tests: the real `callvault` binary in its own process, driven
//! over HTTP as a recorder, an admin and a supervisor would.

mod billing;
mod catalogue_keys;
mod cluster;
mod disclosure;
mod distributed;
mod distributed_traces;
mod embedded;
mod evidence;
mod faults;
mod framing;
mod graphql_limits;
mod hardening;
mod import;
mod isolation;
mod key_change;
mod lifecycle;
mod load;
mod offboarding;
mod openapi_routes;
mod outage;
mod recording_policy;
mod resumable;
mod schemathesis;
mod shared_keyring;
mod streaming;
mod support;
mod telemetry;
mod webhooks;
