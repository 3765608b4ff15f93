//! W3C trace context (`traceparent`, `tracestate`) carried in bus messages,
//! so one trace follows a request or an event across processes. The carrier
//! is a plain string map: the request/reply envelope and [`Message`] hold
//! it, RabbitMQ or not.
//!
//! With no OpenTelemetry layer installed (tracing off) the spans have no
//! context: the carrier stays empty and nothing else changes.

use std::collections::HashMap;

use tracing::Span;

use crate::Message;

/// `traceparent` and `tracestate`, when the span is traced.
pub type TraceCarrier = HashMap<String, String>;

/// The carrier that continues `span`'s trace elsewhere.
pub fn inject(span: &Span) -> TraceCarrier {
    callvault_telemetry::inject(span)
}

/// Makes `span` a child of the trace `carrier` continues, if any.
pub fn continue_trace(span: &Span, carrier: &TraceCarrier) {
    // Without a valid parent the span stays the root of a new trace.
    callvault_telemetry::set_parent(span, carrier);
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

/// Links a batch span keeps to the traces of its messages, at most.
const MAX_BATCH_LINKS: usize = 128;

/// The span a consumer handles a batch of messages in. A span has one
/// parent, and the messages come from traces of their own: the batch span
/// starts a trace and links to (up to [`MAX_BATCH_LINKS`] of) the spans
/// that published its messages. Named by consumer; never a payload.
pub fn consumer_batch_span(consumer: &str, messages: &[Message]) -> Span {
    let span = tracing::info_span!(
        "event batch",
        otel.name = format!("{consumer} process"),
        otel.kind = "consumer",
        messaging.system = "callvault",
        messaging.operation.type = "process",
        messaging.consumer.group.name = %consumer,
        messaging.batch.message_count = messages.len(),
    );
    for message in messages.iter().take(MAX_BATCH_LINKS) {
        callvault_telemetry::add_link(&span, &of_message(message));
    }
    span
}
