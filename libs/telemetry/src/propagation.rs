//! The W3C trace context (`traceparent`, `tracestate`) carried through a
//! string map: bus message headers, HTTP headers. The sender calls
//! [`inject`] with the span the message belongs to; the receiver creates
//! its span and calls [`set_parent`] before entering it.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Telemetry;

/// The headers the W3C trace context uses, lower-case.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// Makes the W3C propagator and our tracer provider the process's global
/// ones, for code that uses the OpenTelemetry API directly.
pub(crate) fn install_global(telemetry: &Telemetry) {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if let Some(provider) = telemetry.provider() {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
}

/// The trace context of `span` as headers (`traceparent`, and `tracestate`
/// when there is one); empty when the span has no valid context (telemetry
/// off, or the span disabled by the filter).
pub fn inject(span: &Span) -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    inject_into(span, &mut carrier);
    carrier
}

/// [`inject`] into any carrier (an `Injector`: a map, a header adapter).
pub fn inject_into(span: &Span, carrier: &mut dyn Injector) {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return;
    }
    // The W3C propagator directly, not the global one, so a process that
    // has not called `init` (a test) still writes the same headers.
    TraceContextPropagator::new().inject_context(&context, carrier);
}

/// The remote parent these headers name; an empty context when they name
/// none (or a malformed one).
pub fn extract(carrier: &HashMap<String, String>) -> Context {
    extract_from(carrier)
}

/// [`extract`] from any carrier (an `Extractor`: header lookups are
/// case-insensitive for HTTP).
pub fn extract_from(carrier: &dyn Extractor) -> Context {
    TraceContextPropagator::new().extract(carrier)
}

/// Makes the trace these headers name the parent of `span`, which must not
/// have been entered yet. Returns whether they named a valid one; without
/// one the span stays the root of a new trace.
pub fn set_parent(span: &Span, carrier: &HashMap<String, String>) -> bool {
    set_parent_from(span, carrier)
}

/// [`set_parent`] from any carrier.
pub fn set_parent_from(span: &Span, carrier: &dyn Extractor) -> bool {
    let parent = extract_from(carrier);
    if !parent.span().span_context().is_valid() {
        return false;
    }
    // Fails only when OpenTelemetry is off or the span already started:
    // the span then simply isn't linked, which must not fail the request.
    span.set_parent(parent).is_ok()
}

/// Links `span` to the span these headers name (a span that handles many
/// messages at once, each from a trace of its own, can have only one
/// parent). Returns whether they named a valid one.
pub fn add_link(span: &Span, carrier: &HashMap<String, String>) -> bool {
    let linked = extract_from(carrier);
    let linked = linked.span().span_context().clone();
    if !linked.is_valid() {
        return false;
    }
    span.add_link(linked);
    true
}

/// The trace id of `span` as 32 lower-case hex digits, if it has one.
pub fn trace_id(span: &Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    fn with_tracing(test: impl FnOnce()) {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, test);
    }

    #[test]
    fn a_span_continues_the_trace_its_headers_name_and_passes_it_on() {
        with_tracing(|| {
            let incoming = HashMap::from([
                (TRACEPARENT.to_owned(), PARENT.to_owned()),
                (TRACESTATE.to_owned(), "vendor=opaque".to_owned()),
            ]);
            let span = tracing::info_span!("consume");
            assert!(set_parent(&span, &incoming));
            let outgoing = inject(&span);
            let traceparent = &outgoing[TRACEPARENT];
            assert!(
                traceparent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
                "{traceparent}"
            );
            assert!(!traceparent.contains("b7ad6b7169203331"), "our own span id");
            assert_eq!(outgoing[TRACESTATE], "vendor=opaque");
            assert_eq!(
                trace_id(&span).as_deref(),
                Some("0af7651916cd43dd8448eb211c80319c")
            );
        });
    }

    #[test]
    fn no_or_bad_headers_start_a_new_trace() {
        with_tracing(|| {
            let span = tracing::info_span!("consume");
            assert!(!set_parent(&span, &HashMap::new()));
            let bad = HashMap::from([(TRACEPARENT.to_owned(), "00-zz-yy-01".to_owned())]);
            assert!(!set_parent(&span, &bad));
            let new = trace_id(&span).expect("a trace of its own");
            assert_ne!(new, "0af7651916cd43dd8448eb211c80319c");
        });
    }

    #[test]
    fn without_telemetry_nothing_is_injected_and_nothing_fails() {
        let span = tracing::info_span!("consume");
        assert!(inject(&span).is_empty());
        let incoming = HashMap::from([(TRACEPARENT.to_owned(), PARENT.to_owned())]);
        assert!(!set_parent(&span, &incoming));
    }
}
