//! Logs, traces and metrics for every callvault service, set up once per
//! process by [`init`].
//!
//! - Logs: structured, to stderr, filtered by `CALLVAULT_LOG` (default
//!   `info,sea_orm_migration=warn`), text or JSON (`CALLVAULT_LOG_FORMAT=json`).
//!   A line logged inside a span carries the span's `trace_id` and
//!   `span_id`, so logs and traces of one request join up.
//! - Traces: `tracing` spans become OpenTelemetry spans. They are exported
//!   over OTLP/gRPC only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; otherwise nothing is sent
//!   (trace ids still exist, for the logs and for propagation). The W3C
//!   trace context travels through [`propagation`]; [`http::RequestTracing`]
//!   gives every HTTP request a server span.
//! - Metrics: one process-wide Prometheus registry ([`metrics`]).
//!
//! Nothing recorded here carries a phone number, a token, a key or a URL
//! signature: spans record ids, routes and outcomes, never headers, query
//! strings or bodies.

mod config;
pub mod http;
mod logs;
pub mod metrics;
pub mod propagation;
mod tracer;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

pub use config::{Config, LogFormat};
pub use propagation::{add_link, extract, inject, set_parent};
pub use tracer::Telemetry;

use opentelemetry::trace::TraceContextExt;
use tracing::{Span, info, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Whether this process's subscriber is installed: a second [`init`]
/// changes nothing.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Sets up logs and traces for this process from its environment, with
/// `default_service_name` as the trace's `service.name` unless
/// `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`)
/// names it. Keep the returned guard until the process ends: dropping it
/// flushes the spans not yet exported.
pub fn init(default_service_name: &str) -> Telemetry {
    init_with(Config::from_env(), default_service_name)
}

/// [`init`] with an explicit configuration (tests, or a caller that reads
/// its settings elsewhere).
pub fn init_with(config: Config, default_service_name: &str) -> Telemetry {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Telemetry::inert();
    }
    let service_name = config
        .service_name
        .clone()
        .unwrap_or_else(|| default_service_name.to_owned());
    let (telemetry, export_error) = Telemetry::start(&config, &service_name);
    let installed = tracing_subscriber::registry()
        .with(telemetry.tracing_layer())
        .with(logs::layer(&config))
        .try_init();
    if installed.is_err() {
        // Someone else installed a subscriber first (a test harness): spans
        // go there, and our exporter would only ever see nothing.
        return Telemetry::inert();
    }
    propagation::install_global(&telemetry);
    for problem in &config.problems {
        warn!(problem = %problem, "telemetry configuration");
    }
    if let Some(error) = export_error {
        warn!(%error, "traces are not exported: the otlp exporter could not be built");
    } else if telemetry.is_exporting() {
        info!(service = %service_name, "exporting traces over otlp");
    }
    telemetry
}

/// Renames `span`'s OpenTelemetry span once it has started, when its name
/// is only known later (a GraphQL operation's, after parsing): recording
/// `otel.name` then is ignored by the OpenTelemetry layer. Log lines keep
/// the `tracing` name.
pub fn set_span_name(span: &Span, name: impl Into<Cow<'static, str>>) {
    span.context().span().update_name(name.into());
}
