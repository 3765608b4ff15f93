//! A test OTLP collector: the OTLP/gRPC trace service on a free loopback
//! port, keeping every span it receives for the test to look at. Point a
//! process at it with `OTEL_EXPORTER_OTLP_ENDPOINT=<endpoint()>`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::sync::oneshot;
use tonic::transport::server::TcpIncoming;

/// A span as the collector received it, ids in lower-case hex.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedSpan {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// `server`, `client`, `internal`, `producer`, `consumer`.
    pub kind: &'static str,
    /// Every attribute, its value as text.
    pub attributes: Vec<(String, String)>,
    /// The `service.name` of the process that sent it.
    pub service_name: String,
}

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Received {
    spans: Vec<ReceivedSpan>,
    /// Export calls, empty ones included.
    exports: usize,
}

#[derive(Clone, Default)]
struct Store(Arc<Mutex<Received>>);

impl Store {
    fn lock(&self) -> MutexGuard<'_, Received> {
        // A test that panicked mid-assertion must not hide what arrived.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct Collector {
    endpoint: String,
    store: Store,
    stop: Option<oneshot::Sender<()>>,
}

impl Collector {
    /// Starts listening on 127.0.0.1 at a free port (on the current Tokio
    /// runtime); stops when dropped.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("collector bind: {e}"));
        let address: SocketAddr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("collector address: {e}"));
        let store = Store::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let service = TraceServiceServer::new(store.clone());
        tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                eprintln!("test collector stopped: {error}");
            }
        });
        Self {
            endpoint: format!("http://{address}"),
            store,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.store.lock().spans.clone()
    }

    /// How many export calls arrived, empty ones included.
    pub fn exports(&self) -> usize {
        self.store.lock().exports
    }

    /// Waits up to `within` until `done` holds for the spans received,
    /// and returns them; panics with what arrived if it never does.
    pub async fn wait_for(
        &self,
        within: Duration,
        done: impl Fn(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + within;
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "the collector did not get the spans expected within {within:?}; it got:\n{spans:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tonic::async_trait]
impl TraceService for Store {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let request = request.into_inner();
        let mut received = Vec::new();
        for resource_spans in request.resource_spans {
            let service_name = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|kv| kv.key == "service.name")
                .map(|kv| text(kv.value.as_ref()))
                .unwrap_or_default();
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    received.push(ReceivedSpan {
                        trace_id: hex::encode(&span.trace_id),
                        span_id: hex::encode(&span.span_id),
                        parent_span_id: hex::encode(&span.parent_span_id),
                        kind: kind(span.kind),
                        attributes: span.attributes.iter().map(attribute).collect(),
                        name: span.name,
                        service_name: service_name.clone(),
                    });
                }
            }
        }
        let mut store = self.lock();
        store.exports += 1;
        store.spans.extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn kind(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        Ok(SpanKind::Internal) => "internal",
        Ok(SpanKind::Unspecified) | Err(_) => "unspecified",
    }
}

fn attribute(kv: &KeyValue) -> (String, String) {
    (kv.key.clone(), text(kv.value.as_ref()))
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}
