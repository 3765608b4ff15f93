//! One trace across the bus: the server span of a call is a child of its
//! client span, and the consumer span of an event a child of the span that
//! published it. Checked with an in-memory exporter on the in-process bus
//! (the RabbitMQ bus carries the same envelope bytes).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::{Bus, EventHandler, HandlerError, Message, RpcClient};
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

use crate::rpc::{reverse, router};
use crate::support::{Batcher, message, unique_topic};

/// Spans end up in the returned exporter while the guard lives. The tests
/// run on tokio's current-thread runtime, so every task sees the
/// thread-local subscriber.
fn traced() -> (InMemorySpanExporter, tracing::subscriber::DefaultGuard) {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let subscriber = tracing_subscriber::registry().with(layer);
    (exporter, tracing::subscriber::set_default(subscriber))
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|span| span.name == name)
        .unwrap_or_else(|| panic!("no span {name} among {:?}", names(spans)))
}

fn names(spans: &[SpanData]) -> Vec<String> {
    spans.iter().map(|span| span.name.to_string()).collect()
}

#[tokio::test]
async fn a_call_is_one_trace_from_client_to_server() {
    let (exporter, _guard) = traced();
    let bus = Arc::new(InProcessBus::new());
    router().serve(bus.as_ref()).await.expect("serve");
    let rpc = RpcClient::new(bus, Duration::from_secs(5));
    let reply = rpc
        .call(reverse("abc"))
        .instrument(tracing::info_span!("request"))
        .await;
    assert_eq!(reply.expect("reply"), "cba");

    let spans = exporter.get_finished_spans().expect("spans");
    let root = named(&spans, "request");
    let client = named(&spans, "storage/reverse");
    let server = spans
        .iter()
        .find(|span| span.name == "storage/reverse" && span.span_kind == SpanKind::Server)
        .expect("a server span");
    let client = if client.span_kind == SpanKind::Client {
        client
    } else {
        spans
            .iter()
            .find(|span| span.name == "storage/reverse" && span.span_kind == SpanKind::Client)
            .expect("a client span")
    };
    let trace = root.span_context.trace_id();
    assert_eq!(client.span_context.trace_id(), trace);
    assert_eq!(server.span_context.trace_id(), trace);
    assert_eq!(client.parent_span_id, root.span_context.span_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    let attributes: Vec<String> = server
        .attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    assert!(
        attributes.iter().all(|kv| !kv.contains("abc")),
        "no request field in the span: {attributes:?}"
    );
}

struct Done;

#[async_trait]
impl EventHandler for Done {
    async fn handle(&self, _message: Message) -> Result<(), HandlerError> {
        tracing::info!("handled");
        Ok(())
    }
}

#[tokio::test]
async fn an_event_continues_the_trace_that_published_it() {
    let (exporter, _guard) = traced();
    let bus = InProcessBus::new();
    let topic = unique_topic("traced");
    bus.subscribe("consumer", &[&topic], Arc::new(Done))
        .await
        .expect("subscribe");
    let publishing = tracing::info_span!("upload");
    let mut event = Message {
        traceparent: None,
        tracestate: None,
        ..message(&topic, 1)
    };
    publishing.in_scope(|| callvault_bus::trace::stamp(&mut event));
    assert!(event.traceparent.is_some(), "stamped with the current span");
    bus.publish(&event).await.expect("publish");
    drop(publishing);

    let spans = exporter.get_finished_spans().expect("spans");
    let root = named(&spans, "upload");
    let consumer = named(&spans, &format!("{topic} process"));
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(
        consumer.span_context.trace_id(),
        root.span_context.trace_id()
    );
    assert_eq!(consumer.parent_span_id, root.span_context.span_id());
}

#[tokio::test]
async fn a_batch_links_to_the_traces_that_published_its_messages() {
    let (exporter, _guard) = traced();
    let bus = InProcessBus::new();
    let topic = unique_topic("traced-batch");
    let batcher = Arc::new(Batcher::new(10));
    batcher.gate.open();
    bus.subscribe("batching", &[&topic], batcher.clone())
        .await
        .expect("subscribe");
    let publishing = tracing::info_span!("upload");
    let mut event = Message {
        traceparent: None,
        tracestate: None,
        ..message(&topic, 1)
    };
    publishing.in_scope(|| callvault_bus::trace::stamp(&mut event));
    bus.publish(&event).await.expect("publish");
    drop(publishing);

    let spans = exporter.get_finished_spans().expect("spans");
    let root = named(&spans, "upload");
    let batch = named(&spans, "batching process");
    assert_eq!(batch.span_kind, SpanKind::Consumer);
    let linked: Vec<_> = batch
        .links
        .iter()
        .map(|link| (link.span_context.trace_id(), link.span_context.span_id()))
        .collect();
    assert_eq!(
        linked,
        [(root.span_context.trace_id(), root.span_context.span_id())],
        "linked to the publisher's span"
    );
    assert_ne!(
        batch.span_context.trace_id(),
        root.span_context.trace_id(),
        "a batch is a trace of its own: its messages come from many"
    );
}

#[tokio::test]
async fn without_a_tracer_nothing_is_stamped_and_calls_work() {
    let bus = Arc::new(InProcessBus::new());
    router().serve(bus.as_ref()).await.expect("serve");
    let rpc = RpcClient::new(bus, Duration::from_secs(5));
    assert_eq!(rpc.call(reverse("ab")).await.expect("reply"), "ba");
    let mut event = Message {
        traceparent: None,
        ..message("untraced", 1)
    };
    callvault_bus::trace::stamp(&mut event);
    assert_eq!(event.traceparent, None);
}
