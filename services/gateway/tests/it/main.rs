//! The gateway's integration tests: one binary, one module per concern.

mod authz;
mod errors;
mod key_change;
mod lifecycle;
mod limits;
mod matrix;
mod playback;
mod schema_sdl;
mod support;
mod tokens;
