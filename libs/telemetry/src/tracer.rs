//! The OpenTelemetry tracer behind `tracing`'s spans, and its OTLP exporter
//! when one is configured.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

use crate::Config;

/// How long shutdown waits for the last spans to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Spans from these never become OpenTelemetry spans: the exporter's own
/// gRPC stack would otherwise trace its own exports, forever.
const NOT_TRACED: &str = "info,opentelemetry=off,opentelemetry_sdk=off,opentelemetry-otlp=off,\
                          tonic=off,h2=off,hyper=off,tower=off,sea_orm_migration=warn";

/// The process's tracing set-up; dropping it (or [`Telemetry::shutdown`])
/// flushes the spans not yet exported and stops the exporter.
#[must_use = "dropping it stops the exporter"]
pub struct Telemetry {
    /// `None` when OpenTelemetry is off (`OTEL_SDK_DISABLED`) or this is a
    /// second, inert [`crate::init`].
    provider: Option<SdkTracerProvider>,
    /// The exporter's own runtime: tonic's channel needs a Tokio reactor,
    /// and this one outlives the application's, so the final flush still
    /// has one after the server's runtime has stopped.
    export_runtime: Option<tokio::runtime::Runtime>,
}

impl Telemetry {
    pub(crate) fn inert() -> Self {
        Self {
            provider: None,
            export_runtime: None,
        }
    }

    /// The tracer provider, exporting when `config` names an endpoint; the
    /// error says why an exporter asked for could not be built (traces then
    /// stay in this process, and nothing fails).
    pub(crate) fn start(config: &Config, service_name: &str) -> (Self, Option<String>) {
        if config.sdk_disabled {
            return (Self::inert(), None);
        }
        // The environment's resource (OTEL_RESOURCE_ATTRIBUTES, the SDK's
        // own attributes), with the service name resolved by `Config`.
        let resource = Resource::builder()
            .with_service_name(service_name.to_owned())
            .build();
        let builder = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_sampler(config.sampler.clone());
        let Some(endpoint) = &config.otlp_endpoint else {
            // No processor: spans get ids (for the logs and propagation) and
            // are dropped when they end.
            return (Self::with_provider(builder.build(), None), None);
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                let error = format!("no runtime for the exporter: {error}");
                return (Self::with_provider(builder.build(), None), Some(error));
            }
        };
        let exporter = {
            let _runtime = runtime.enter();
            SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
        };
        match exporter {
            Ok(exporter) => {
                // The batch processor exports from its own thread, off the
                // request path; OTEL_BSP_* tune it.
                let provider = builder.with_batch_exporter(exporter).build();
                (Self::with_provider(provider, Some(runtime)), None)
            }
            Err(error) => (
                Self::with_provider(builder.build(), None),
                Some(error.to_string()),
            ),
        }
    }

    fn with_provider(
        provider: SdkTracerProvider,
        export_runtime: Option<tokio::runtime::Runtime>,
    ) -> Self {
        Self {
            provider: Some(provider),
            export_runtime,
        }
    }

    /// Whether spans leave this process.
    pub fn is_exporting(&self) -> bool {
        self.export_runtime.is_some()
    }

    pub(crate) fn provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    fn tracer(&self) -> Option<SdkTracer> {
        let provider = self.provider.as_ref()?;
        Some(provider.tracer("callvault"))
    }

    /// The layer turning `tracing` spans into OpenTelemetry spans.
    pub(crate) fn tracing_layer<S>(&self) -> Option<impl Layer<S> + use<S>>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        let layer = tracing_opentelemetry::layer()
            .with_tracer(self.tracer()?)
            // Thread names and ids, code locations, busy and idle times:
            // noise in every span.
            .with_threads(false)
            .with_location(false)
            .with_tracked_inactivity(false)
            .with_filter(EnvFilter::new(NOT_TRACED));
        Some(layer)
    }

    /// Exports the spans ended so far, now (blocks until the collector has
    /// answered or the export timed out).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider {
            // A failed export is logged by the SDK; the spans are dropped.
            let _ = provider.force_flush();
        }
    }

    /// Exports what is buffered and stops the exporter. Dropping does the
    /// same; this says it where the process ends.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // An unreachable collector only costs the flush timeout; the
            // SDK logs the failure itself.
            let _ = provider.shutdown_with_timeout(FLUSH_TIMEOUT);
        }
        if let Some(runtime) = self.export_runtime.take() {
            // The flush above is done; nothing is left to wait for, and
            // waiting would panic where the guard drops in an async context.
            runtime.shutdown_background();
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn exporting_to(endpoint: &str) -> Config {
        Config {
            otlp_endpoint: Some(endpoint.to_owned()),
            ..Config::default()
        }
    }

    #[test]
    fn an_https_endpoint_is_refused_and_nothing_is_exported() {
        let (telemetry, error) = Telemetry::start(&exporting_to("https://collector:4317"), "t");
        assert!(!telemetry.is_exporting());
        let error = error.expect("why not");
        assert!(error.contains("HTTPS"), "{error}");
        assert!(telemetry.tracer().is_some(), "spans still get trace ids");
    }

    #[test]
    fn an_unreachable_collector_costs_at_most_the_flush_timeout_at_shutdown() {
        let (telemetry, error) = Telemetry::start(&exporting_to("http://127.0.0.1:9"), "t");
        assert_eq!(error, None);
        assert!(telemetry.is_exporting());
        let started = Instant::now();
        drop(telemetry);
        assert!(started.elapsed() < FLUSH_TIMEOUT + Duration::from_secs(2));
    }

    #[test]
    fn without_an_endpoint_there_is_no_exporter_and_no_runtime() {
        let (telemetry, error) = Telemetry::start(&Config::default(), "t");
        assert_eq!(error, None);
        assert!(!telemetry.is_exporting());
        let disabled = Config {
            sdk_disabled: true,
            ..Config::default()
        };
        let (telemetry, _) = Telemetry::start(&disabled, "t");
        assert!(telemetry.tracer().is_none());
    }
}
