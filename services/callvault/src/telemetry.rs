//! Logs: structured, to stderr, filtered by `CALLVAULT_LOG` (default
//! `info`). Nothing logged carries phone numbers, tokens or keys: the types
//! that hold them redact themselves in `Debug`, and handlers log ids only.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("CALLVAULT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sea_orm_migration=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
