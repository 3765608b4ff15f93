//! One Prometheus registry per process. Each part of a service registers
//! its metrics in it once ([`register`]) and records into its own handles;
//! `/metrics` renders the whole registry ([`render`], [`exposition`]) in
//! the Prometheus text format (0.0.4).
//!
//! The registry itself holds the metrics every service shares: the HTTP
//! request durations recorded by [`crate::http::RequestTracing`], and the
//! bus calls ([`record_rpc_call`], [`count_rpc_request`],
//! [`count_rpc_error`]).
//!
//! Counters are registered without their `_total` suffix: the encoder adds
//! it (`register("callvault_uploads", …)` is exposed as
//! `callvault_uploads_total`). Help texts take no final period: the
//! encoder adds one.

use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::HttpResponse;
pub use prometheus_client;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the HTTP duration buckets: API calls take
/// milliseconds, uploads and playback of long calls seconds.
const HTTP_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds (seconds) of the bus call buckets: a call in process takes
/// microseconds, over RabbitMQ milliseconds; the bus times out at 10 s.
const RPC_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    /// The matched route pattern (`/v1/recordings/{id}`), never the path.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcCallLabels {
    service: String,
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcErrorLabels {
    service: String,
    kind: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The metrics every service shares, registered with the registry.
struct Shared {
    http_duration: Histograms<HttpLabels>,
    rpc_duration: Histograms<RpcCallLabels>,
    rpc_requests: Family<ServiceLabels, Counter>,
    rpc_errors: Family<RpcErrorLabels, Counter>,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| Shared {
    http_duration: Family::new_with_constructor(|| Histogram::new(HTTP_BUCKETS)),
    rpc_duration: Family::new_with_constructor(|| Histogram::new(RPC_BUCKETS)),
    rpc_requests: Family::default(),
    rpc_errors: Family::default(),
});

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| {
    let mut registry = Registry::default();
    let shared = &*SHARED;
    registry.register(
        "callvault_http_request_duration_seconds",
        "Time from an HTTP request to its response head, by method, route pattern and status",
        shared.http_duration.clone(),
    );
    // The bus's request/reply metrics: these two keep the names (and help
    // texts) of the counters libs/bus used to render itself.
    registry.register(
        "callvault_rpc_requests",
        "Requests sent to a service over the bus",
        shared.rpc_requests.clone(),
    );
    registry.register(
        "callvault_rpc_errors",
        "Requests the bus failed: no answer in time, no service, an undecodable reply",
        shared.rpc_errors.clone(),
    );
    registry.register(
        "callvault_rpc_call_duration_seconds",
        "Time from a bus request to its reply (or failure), by service, operation and outcome",
        shared.rpc_duration.clone(),
    );
    Mutex::new(registry)
});

fn registry() -> MutexGuard<'static, Registry> {
    // Registering or encoding can't leave the registry half-changed: a
    // poisoned lock is still usable.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Adds `metric` to the process registry. Register each metric once per
/// process (a second registration under the same name would be exposed
/// twice); keep a clone of `metric` to record into.
pub fn register(name: &str, help: &str, metric: impl Metric) {
    registry().register(name, help, metric);
}

/// Runs `register` with the process registry, for a part that registers
/// several metrics (`UploadMetrics::register`).
pub fn register_with(add: impl FnOnce(&mut Registry)) {
    add(&mut registry());
}

/// The process registry in the Prometheus text format.
pub fn render() -> String {
    render_registry(&registry())
}

/// `registry` in the Prometheus text format (a part's own registry, in its
/// tests).
pub fn render_registry(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String can't fail, and encoding our own label types
    // neither.
    let _ = prometheus_text::encode(&mut out, registry);
    out
}

/// An actix-web handler exposing the process registry (`GET /metrics`),
/// for a process with nothing to add at scrape time.
pub async fn exposition() -> HttpResponse {
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(render())
}

pub(crate) fn observe_http_request(method: &'static str, route: &str, status: u16, took: Duration) {
    let labels = HttpLabels {
        method,
        route: route.to_owned(),
        status,
    };
    SHARED
        .http_duration
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
}

/// A bus request sent to `service` (`callvault_rpc_requests_total`).
pub fn count_rpc_request(service: &str) {
    let labels = ServiceLabels {
        service: service.to_owned(),
    };
    SHARED.rpc_requests.get_or_create(&labels).inc();
}

/// A bus request to `service` the bus itself failed
/// (`callvault_rpc_errors_total`); `kind`: `timeout`, `unavailable` or
/// `malformed`. A service's own error answers are not counted here.
pub fn count_rpc_error(service: &str, kind: &str) {
    let labels = RpcErrorLabels {
        service: service.to_owned(),
        kind: kind.to_owned(),
    };
    SHARED.rpc_errors.get_or_create(&labels).inc();
}

/// How long a bus call took (`callvault_rpc_call_duration_seconds`), by
/// the service it went to, its operation's wire name and its outcome:
/// `ok`, `error` (the service answered with an error), or the bus's own
/// failure (`timeout`, `unavailable`, `malformed`). Keep `operation` to
/// the fixed set of wire names: every distinct value is a series.
pub fn record_rpc_call(service: &str, operation: &str, outcome: &str, took: Duration) {
    let labels = RpcCallLabels {
        service: service.to_owned(),
        operation: operation.to_owned(),
        outcome: outcome.to_owned(),
    };
    SHARED
        .rpc_duration
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the registry is process-wide, and cargo test runs the
    // tests of a binary in one process.
    #[test]
    fn the_shared_metrics_render_with_the_names_the_bus_used() {
        // A family with no series yet is left out of the exposition.
        assert!(!render().contains("callvault_rpc_errors_total"));
        count_rpc_request("storage");
        count_rpc_error("storage", "unavailable");
        record_rpc_call(
            "metadata",
            "search_recordings",
            "ok",
            Duration::from_millis(3),
        );
        observe_http_request(
            "GET",
            "/v1/playback/{token}",
            200,
            Duration::from_millis(30),
        );
        let own = Counter::<u64>::default();
        register("callvault_test_things", "Things", own.clone());
        own.inc_by(7);
        let text = render();
        for line in [
            "# HELP callvault_rpc_requests_total Requests sent to a service over the bus.\n",
            "# TYPE callvault_rpc_requests_total counter\n",
            "callvault_rpc_requests_total{service=\"storage\"} 1\n",
            "# TYPE callvault_rpc_errors_total counter\n",
            "callvault_rpc_errors_total{service=\"storage\",kind=\"unavailable\"} 1\n",
            "# TYPE callvault_rpc_call_duration_seconds histogram\n",
            "callvault_rpc_call_duration_seconds_bucket{service=\"metadata\",operation=\"search_recordings\",outcome=\"ok\",le=\"0.005\"} 1\n",
            "callvault_rpc_call_duration_seconds_count{service=\"metadata\",operation=\"search_recordings\",outcome=\"ok\"} 1\n",
            "callvault_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/playback/{token}\",status=\"200\",le=\"0.025\"} 0\n",
            "callvault_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/playback/{token}\",status=\"200\",le=\"0.05\"} 1\n",
            "# TYPE callvault_test_things_total counter\n",
            "callvault_test_things_total 7\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
