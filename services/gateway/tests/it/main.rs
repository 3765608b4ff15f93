//! The gateway's integration tests: one binary, one module per concern.

mod activity;
mod authz;
mod billing;
mod disclosure;
mod errors;
mod key_change;
mod lifecycle;
mod limits;
mod matrix;
mod playback;
mod real_service;
mod schema_sdl;
mod support;
mod tokens;
mod webhooks;
