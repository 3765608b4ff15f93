//! Logs, traces and metrics for the process: `callvault-telemetry`, set up
//! by `main` for the commands that run services. Nothing logged or traced
//! carries phone numbers, tokens or keys: the types that hold them redact
//! themselves in `Debug`, handlers log ids only, and spans record routes,
//! never URLs or headers.

use crate::Target;

/// The `service.name` of a process's traces unless `OTEL_SERVICE_NAME` says
/// otherwise: `callvault` for every service in one process, else named by
/// what it runs (`callvault-storage`, `callvault-ingestion-storage`), so a
/// trace shows which process each span came from.
pub fn service_name(targets: &[Target]) -> String {
    let modules = crate::serve::resolve(targets);
    if modules.len() == crate::serve::MODULES.len() {
        return "callvault".to_owned();
    }
    let names: Vec<&str> = modules.iter().map(|module| module.name()).collect();
    format!("callvault-{}", names.join("-"))
}

/// Installs logging and tracing, and makes a panic one structured error
/// line; the guard flushes the spans not yet exported when `main` drops
/// it, after the services have stopped.
pub fn install(service_name: &str) -> callvault_telemetry::Telemetry {
    let telemetry = callvault_telemetry::init(service_name);
    callvault_runtime::panics::install_hook();
    telemetry
}
