//! Logs, traces and metrics for the process: `callvault-telemetry`, set up
//! by `main` for the commands that run services. Nothing logged or traced
//! carries phone numbers, tokens or keys: the types that hold them redact
//! themselves in `Debug`, handlers log ids only, and spans record routes,
//! never URLs or headers.

/// The `service.name` of this process's traces unless `OTEL_SERVICE_NAME`
/// says otherwise (the Helm chart names each target's).
const SERVICE_NAME: &str = "callvault";

/// Installs logging and tracing; the guard flushes the spans not yet
/// exported when `main` drops it, after the services have stopped.
pub fn install() -> callvault_telemetry::Telemetry {
    callvault_telemetry::init(SERVICE_NAME)
}

/// What `serve` called before `main` installed telemetry; `main` now has,
/// so this changes nothing. Goes away with serve.rs's rewrite.
pub fn init() {
    let _already_installed = callvault_telemetry::init(SERVICE_NAME);
}
