//! Log lines on stderr, text or JSON, each carrying the trace and span id
//! of the span it was logged in, so a log line leads to its trace and a
//! trace to its log lines.

use std::fmt;
use std::sync::OnceLock;

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Config, LogFormat};

/// A span's OpenTelemetry ids, kept in its extensions once looked up.
#[derive(Clone, Copy)]
struct TraceIds {
    trace_id: TraceId,
    span_id: SpanId,
}

/// Looks up, at the first event logged in a span, the span's trace and
/// span ids and keeps them in the span for the formatter. Lazily: reading
/// the OpenTelemetry context starts the OpenTelemetry span, after which
/// its parent can no longer be set, and a parent is set right after the
/// span is created (from an incoming `traceparent`).
#[derive(Default)]
struct TraceIdLayer {
    dispatch: OnceLock<WeakDispatch>,
}

impl<S> Layer<S> for TraceIdLayer
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        if span.extensions().get::<TraceIds>().is_some() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        // No extension of the span may be borrowed here: this locks them.
        let Some(context) = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch) else {
            return;
        };
        let otel_span = context.span();
        let span_context = otel_span.span_context();
        if span_context.is_valid() {
            span.extensions_mut().insert(TraceIds {
                trace_id: span_context.trace_id(),
                span_id: span_context.span_id(),
            });
        }
    }
}

/// The stderr layer, filtered by `CALLVAULT_LOG`.
pub(crate) fn layer<S>(config: &Config) -> impl Layer<S> + use<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    layer_writing_to(config, std::io::stderr)
}

fn layer_writing_to<S, W>(config: &Config, writer: W) -> impl Layer<S> + use<S, W>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let lines = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            // Lines are assembled in a buffer (to add the ids), which has
            // no colours; files and shippers want none anyway.
            .with_ansi(false)
            .event_format(WithTraceIds {
                inner: tracing_subscriber::fmt::format().with_ansi(false),
                format: LogFormat::Text,
            })
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .event_format(WithTraceIds {
                inner: tracing_subscriber::fmt::format().json(),
                format: LogFormat::Json,
            })
            .boxed(),
    };
    // The ids are looked up only for the lines the filter lets through,
    // and under the same filter: a layer without one would let every
    // callsite through to the others.
    TraceIdLayer::default()
        .and_then(lines)
        .with_filter(EnvFilter::new(&config.log_filter))
}

/// A line format with `trace_id` and `span_id` added: as the first fields
/// of a JSON object, at the end of a text line.
struct WithTraceIds<F> {
    inner: F,
    format: LogFormat,
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    N: for<'writer> FormatFields<'writer> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The innermost span with ids (the event's own, normally).
        let ids = ctx.event_scope().and_then(|mut scope| {
            scope.find_map(|span| span.extensions().get::<TraceIds>().copied())
        });
        let Some(ids) = ids else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match self.format {
            LogFormat::Json if line.starts_with('{') => line.insert_str(
                1,
                &format!(
                    "\"trace_id\":\"{}\",\"span_id\":\"{}\",",
                    ids.trace_id, ids.span_id
                ),
            ),
            _ => {
                let at = line.strip_suffix('\n').map_or(line.len(), str::len);
                line.insert_str(
                    at,
                    &format!(" trace_id={} span_id={}", ids.trace_id, ids.span_id),
                );
            }
        }
        writer.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf-8")
        }
    }

    /// Logs `inside` and `outside` a span with the given format, and
    /// lines the filter drops; returns the lines and the span's trace id.
    fn log(log_format: LogFormat) -> (String, String) {
        let captured = Captured::default();
        let writer = captured.clone();
        let provider = SdkTracerProvider::builder().build();
        let config = Config {
            log_format,
            log_filter: "info,noisy=warn".to_owned(),
            ..Config::default()
        };
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(layer_writing_to(&config, move || writer.clone()));
        let trace_id = tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside");
            let span = tracing::info_span!("request", tenant_id = "t-1");
            let _entered = span.enter();
            tracing::info!(recording = "r-1", "inside");
            tracing::info!(target: "noisy", "filtered out");
            tracing::debug!("below the level");
            let child = tracing::info_span!("child");
            child.in_scope(|| tracing::info!("nested"));
            crate::propagation::trace_id(&span).expect("trace id")
        });
        (captured.text(), trace_id)
    }

    #[test]
    fn text_lines_inside_a_span_end_with_its_trace_id() {
        let (text, trace_id) = log(LogFormat::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(!lines[0].contains("trace_id="), "{text}");
        assert!(lines[1].contains("inside"), "{text}");
        assert!(
            lines[1].contains(&format!(" trace_id={trace_id} span_id=")),
            "{text}"
        );
        assert!(lines[2].contains(&format!("trace_id={trace_id}")), "{text}");
    }

    #[test]
    fn json_lines_inside_a_span_have_a_trace_id_field() {
        let (text, trace_id) = log(LogFormat::Json);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(!lines[0].contains("trace_id"), "{text}");
        for line in &lines[1..] {
            assert!(
                line.starts_with(&format!("{{\"trace_id\":\"{trace_id}\",\"span_id\":\"")),
                "{line}"
            );
            assert!(line.ends_with('}'), "{line}");
        }
    }
}
