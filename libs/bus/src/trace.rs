//! W3C trace context (`traceparent`, `tracestate`) carried in bus messages,
//! so one trace follows a request or an event across processes. The carrier
//! is a plain string map: the request/reply envelope and [`Message`] hold
//! it, RabbitMQ or not.
//!
//! With no OpenTelemetry layer installed (tracing off) the spans have no
//! context: the carrier stays empty and nothing else changes.

use std::collections::BTreeMap;

use opentelemetry::propagation::{Extractor, Injector};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Message;

/// `traceparent` and `tracestate`, when the span is traced.
pub type TraceCarrier = BTreeMap<String, String>;

/// The carrier that continues `span`'s trace elsewhere.
pub fn inject(span: &Span) -> TraceCarrier {
    let context = span.context();
    let mut carrier = Carrier(TraceCarrier::new());
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut carrier);
    });
    carrier.0
}

/// Makes `span` a child of the trace `carrier` continues, if any.
pub fn continue_trace(span: &Span, carrier: &TraceCarrier) {
    if carrier.is_empty() {
        return;
    }
    let carrier = Carrier(carrier.clone());
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
    // Fails only when the span is disabled: then there is nothing to parent.
    let _ = span.set_parent(parent);
}

/// Stamps `message` with the current span's trace, unless it has one.
pub fn stamp(message: &mut Message) {
    if message.traceparent.is_some() {
        return;
    }
    let mut carrier = inject(&Span::current());
    message.traceparent = carrier.remove("traceparent");
    message.tracestate = carrier.remove("tracestate");
}

/// The trace a message was published in.
pub fn of_message(message: &Message) -> TraceCarrier {
    let mut carrier = TraceCarrier::new();
    if let Some(traceparent) = &message.traceparent {
        carrier.insert("traceparent".to_owned(), traceparent.clone());
    }
    if let Some(tracestate) = &message.tracestate {
        carrier.insert("tracestate".to_owned(), tracestate.clone());
    }
    carrier
}

struct Carrier(TraceCarrier);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The span a consumer handles `message` in: a child of the trace that
/// published it. Named by topic; never the payload.
pub fn consumer_span(consumer: &str, message: &Message) -> Span {
    let span = tracing::info_span!(
        "event",
        otel.name = format!("{} process", message.topic),
        otel.kind = "consumer",
        messaging.system = "callvault",
        messaging.destination.name = %message.topic,
        messaging.consumer.group.name = %consumer,
        messaging.message.id = %message.id,
    );
    continue_trace(&span, &of_message(message));
    span
}
