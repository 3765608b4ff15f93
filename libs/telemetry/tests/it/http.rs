use actix_web::{App, HttpRequest, HttpResponse, test, web};
use callvault_telemetry::http::{RequestTracing, record_tenant};
use opentelemetry::Value;
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_SPAN_ID: &str = "b7ad6b7169203331";
const SECRETS: [&str; 4] = ["SIGNATURE123", "TOKEN456", "rec-789", "819012345678"];

async fn playback(request: HttpRequest) -> HttpResponse {
    record_tenant(&request, &"tenant-1");
    tracing::info!("streaming");
    HttpResponse::Ok().body("audio")
}

async fn broken() -> HttpResponse {
    HttpResponse::InternalServerError().finish()
}

/// Runs `requests` through an app wrapped in the middleware and returns
/// the spans they produced.
async fn spans_of(requests: Vec<test::TestRequest>) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);
    let app = test::init_service(
        App::new()
            .wrap(RequestTracing)
            .route("/v1/playback/{recording}", web::get().to(playback))
            .route("/broken", web::post().to(broken))
            .route("/healthz", web::get().to(HttpResponse::Ok)),
    )
    .await;
    for request in requests {
        // The span ends when the request is dropped, with the response.
        let response = test::call_service(&app, request.to_request()).await;
        drop(response);
    }
    provider.force_flush().expect("flush");
    exporter.get_finished_spans().expect("spans")
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn assert_nothing_secret(span: &SpanData) {
    let text = format!("{span:?}");
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[actix_web::test]
async fn a_request_gets_a_server_span_continuing_the_callers_trace() {
    let request = test::TestRequest::get()
        .uri("/v1/playback/rec-789?expires=1&signature=SIGNATURE123&caller=819012345678")
        .insert_header(("authorization", "Bearer TOKEN456"))
        .insert_header(("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01")))
        .insert_header(("tracestate", "vendor=opaque"));
    let spans = spans_of(vec![request]).await;
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.name, "GET /v1/playback/{recording}");
    assert_eq!(span.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(span.parent_span_id.to_string(), PARENT_SPAN_ID);
    assert!(span.parent_span_is_remote);
    assert_eq!(
        attribute(span, "http.route").map(Value::as_str).as_deref(),
        Some("/v1/playback/{recording}")
    );
    assert_eq!(
        attribute(span, "http.request.method")
            .map(Value::as_str)
            .as_deref(),
        Some("GET")
    );
    assert_eq!(
        attribute(span, "http.response.status_code"),
        Some(&Value::I64(200))
    );
    assert_eq!(
        attribute(span, "tenant_id").map(Value::as_str).as_deref(),
        Some("tenant-1")
    );
    assert_nothing_secret(span);

    let metrics = callvault_telemetry::metrics::render();
    let count = "callvault_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/playback/{recording}\",status=\"200\"} 1\n";
    assert!(metrics.contains(count), "{metrics}");
    for secret in SECRETS {
        assert!(!metrics.contains(secret), "{secret} in {metrics}");
    }
}

#[actix_web::test]
async fn without_a_traceparent_the_span_starts_a_trace_and_5xx_is_an_error() {
    let spans = spans_of(vec![
        test::TestRequest::post().uri("/broken"),
        test::TestRequest::get().uri("/nowhere/819012345678"),
        test::TestRequest::get().uri("/healthz"),
    ])
    .await;
    assert_eq!(spans.len(), 2, "no span for the probe: {spans:?}");
    let broken = &spans[0];
    assert_eq!(broken.name, "POST /broken");
    assert_eq!(
        broken.parent_span_id,
        opentelemetry::trace::SpanId::INVALID,
        "a root span"
    );
    assert!(matches!(
        broken.status,
        opentelemetry::trace::Status::Error { .. }
    ));
    let unmatched = &spans[1];
    assert_eq!(unmatched.name, "GET");
    assert_eq!(attribute(unmatched, "http.route"), None);
    assert_eq!(
        attribute(unmatched, "http.response.status_code"),
        Some(&Value::I64(404))
    );
    assert_nothing_secret(unmatched);

    let metrics = callvault_telemetry::metrics::render();
    for line in [
        "callvault_http_request_duration_seconds_count{method=\"POST\",route=\"/broken\",status=\"500\"} 1\n",
        "callvault_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n",
        "callvault_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 1\n",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
