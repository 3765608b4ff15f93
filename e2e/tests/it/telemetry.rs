//! OpenTelemetry end to end, with an OTLP collector of our own
//! (`callvault_e2e::Collector`): spans reach it over gRPC, an incoming
//! `traceparent` is continued, and no span holds a token, a phone number
//! or a URL signature. With no exporter configured nothing is sent and
//! everything works. The in-process tests install the process-wide
//! subscriber: they need nextest's process per test.

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use callvault_e2e::{Callvault, Collector, ReceivedSpan, mulaw_wav};
use callvault_telemetry::Config;
use callvault_telemetry::http::{RequestTracing, record_tenant};
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard, search_until, upload};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";
const SIGNATURE: &str = "c2lnbmF0dXJlLXNlY3JldA";
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu";
const PHONE: &str = "819012345678";

fn traceparent() -> String {
    format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01")
}

/// Panics if any span holds one of `secrets`.
fn assert_nothing_secret(spans: &[ReceivedSpan], secrets: &[&str]) {
    let text = format!("{spans:?}");
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "a span holds a secret or a phone number"
        );
    }
}

async fn playback(request: HttpRequest) -> HttpResponse {
    record_tenant(&request, &"tenant-e2e");
    tracing::info!("playing");
    HttpResponse::Ok().body("audio")
}

/// An actix server wrapped in the middleware on a free port; its base URL.
fn serve_playback() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = HttpServer::new(|| {
        App::new()
            .wrap(RequestTracing)
            .route("/v1/playback/{recording}", web::get().to(playback))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// A signed playback URL, with a token, from inside a caller's trace.
async fn request_playback(base: &str) {
    let response = reqwest::Client::new()
        .get(format!(
            "{base}/v1/playback/rec-1?expires=1&signature={SIGNATURE}&caller=%2B{PHONE}"
        ))
        .bearer_auth(TOKEN)
        .header("traceparent", traceparent())
        .header("tracestate", "vendor=opaque")
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "{}", response.status());
}

/// Exports what has ended, off the runtime's threads (it blocks).
async fn flush(telemetry: callvault_telemetry::Telemetry) -> callvault_telemetry::Telemetry {
    tokio::task::spawn_blocking(move || {
        telemetry.flush();
        telemetry
    })
    .await
    .expect("flush")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_continuing_a_trace_reaches_the_collector_as_a_server_span() {
    let collector = Collector::start().await;
    let config = Config {
        otlp_endpoint: Some(collector.endpoint().to_owned()),
        service_name: Some("telemetry-e2e".to_owned()),
        ..Config::default()
    };
    let telemetry = callvault_telemetry::init_with(config, "unused");
    assert!(telemetry.is_exporting());
    let base = serve_playback();
    request_playback(&base).await;

    let telemetry = flush(telemetry).await;
    let spans = collector
        .wait_for(Duration::from_secs(15), |spans| {
            spans.iter().any(|span| span.kind == "server")
        })
        .await;
    let server = spans
        .iter()
        .find(|span| span.kind == "server")
        .expect("a server span");
    assert_eq!(server.trace_id, TRACE_ID);
    assert_eq!(server.parent_span_id, PARENT_SPAN_ID);
    assert_eq!(server.name, "GET /v1/playback/{recording}");
    assert_eq!(server.service_name, "telemetry-e2e");
    assert_eq!(
        server.attribute("http.route"),
        Some("/v1/playback/{recording}")
    );
    assert_eq!(server.attribute("http.request.method"), Some("GET"));
    assert_eq!(server.attribute("http.response.status_code"), Some("200"));
    assert_eq!(server.attribute("tenant_id"), Some("tenant-e2e"));
    assert_nothing_secret(&spans, &[SIGNATURE, TOKEN, PHONE, "rec-1"]);
    drop(telemetry);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_off_sends_nothing_and_serves_as_usual() {
    let collector = Collector::start().await;
    let telemetry = callvault_telemetry::init_with(Config::default(), "telemetry-e2e");
    assert!(!telemetry.is_exporting());
    let base = serve_playback();
    request_playback(&base).await;
    let telemetry = flush(telemetry).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(collector.exports(), 0);
    // Metrics don't depend on the exporter.
    let metrics = callvault_telemetry::metrics::render();
    assert!(
        metrics.contains("callvault_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/playback/{recording}\",status=\"200\"} 1\n"),
        "{metrics}"
    );
    drop(telemetry);
}

/// How the binary's exporter is set up in a run.
#[derive(Clone, Copy, PartialEq)]
enum Exporter {
    /// At the test's collector.
    Collector,
    /// No OTLP variable at all.
    Off,
    /// At a port nobody listens on.
    Unreachable,
}

/// Runs `callvault serve` (embedded), onboards a tenant, uploads a call,
/// finds it by phone number, stops the process; returns what the collector
/// got and everything secret the run handled.
async fn run_binary(exporter: Exporter) -> (Collector, Vec<ReceivedSpan>, Vec<String>) {
    let collector = Collector::start().await;
    let endpoint = match exporter {
        Exporter::Collector => collector.endpoint().to_owned(),
        Exporter::Off | Exporter::Unreachable => "http://127.0.0.1:9".to_owned(),
    };
    let mut env = vec![
        ("OTEL_SERVICE_NAME", "callvault-e2e"),
        // Only the flush at shutdown exports: the test checks it happens.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ];
    if exporter != Exporter::Off {
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint));
    }
    let mut cv = Callvault::start_with(&env).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let tenant = onboard(&cv, &client, &admin, &bpo, "Example Bank").await;
    let caller = format!("+{PHONE}");
    let response = upload(
        &cv,
        &client,
        &tenant.key,
        &call("call-otel", &caller, "agent-7"),
        &mulaw_wav(2, 1),
    )
    .await;
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let supervisor = cv.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let found = search_until(
        &cv,
        &client,
        &supervisor,
        &tenant.id,
        json!({ "phoneNumber": caller }),
        1,
    )
    .await;
    let playback_url = found[0]["playbackUrl"].as_str().unwrap_or_default();
    let signature = playback_url
        .split_once('?')
        .map(|(_, query)| query.to_owned())
        .unwrap_or_default();
    assert!(
        cv.terminate(Duration::from_secs(30)).await,
        "callvault did not stop cleanly:\n{}",
        cv.log_text()
    );
    let spans = match exporter {
        Exporter::Collector => {
            collector
                .wait_for(Duration::from_secs(10), |spans| {
                    spans.iter().any(|span| span.name == "query recordings")
                })
                .await
        }
        Exporter::Off | Exporter::Unreachable => collector.spans(),
    };
    let mut secrets = vec![
        PHONE.to_owned(),
        admin,
        supervisor,
        tenant.key.clone(),
        signature,
    ];
    secrets.retain(|secret| !secret.is_empty());
    let logs = cv.log_text();
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a log line holds a secret");
    }
    (collector, spans, secrets)
}

#[tokio::test]
async fn telemetry_the_binary_exports_graphql_operations_and_flushes_at_shutdown() {
    let (_collector, spans, secrets) = run_binary(Exporter::Collector).await;
    let named = |name: &str| spans.iter().find(|span| span.name == name);
    let search = named("query recordings").expect("the search's operation span");
    assert_eq!(search.service_name, "callvault-e2e");
    assert_eq!(search.attribute("graphql.operation.type"), Some("query"));
    assert_eq!(search.attribute("graphql.root_fields"), Some("recordings"));
    assert!(named("mutation createBpo").is_some(), "{spans:#?}");
    assert!(named("mutation onboardTenant").is_some(), "{spans:#?}");
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_nothing_secret(&spans, &secrets);
}

#[tokio::test]
async fn telemetry_off_the_binary_sends_nothing_and_works() {
    let (collector, spans, _) = run_binary(Exporter::Off).await;
    assert!(spans.is_empty());
    assert_eq!(collector.exports(), 0);
}

#[tokio::test]
async fn telemetry_an_unreachable_collector_fails_nothing() {
    // Uploads, searches and a clean shutdown, with every export failing.
    let (_collector, spans, _) = run_binary(Exporter::Unreachable).await;
    assert!(spans.is_empty());
}

#[tokio::test]
async fn telemetry_the_binary_continues_an_incoming_traceparent() {
    let collector = Collector::start().await;
    let mut cv = Callvault::start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ])
    .await;
    let admin = cv.admin_token(&[]);
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", cv.base_url))
        .bearer_auth(&admin)
        .header("traceparent", traceparent())
        .json(&json!({ "query": "mutation($n: String!) { createBpo(name: $n) { id } }", "variables": { "n": "Acme" } }))
        .send()
        .await
        .expect("graphql");
    let body: Value = response.json().await.expect("json");
    assert!(body["errors"].is_null(), "{body}");
    let spans = collector
        .wait_for(Duration::from_secs(15), |spans| {
            spans.iter().any(|span| span.name == "mutation createBpo")
        })
        .await;
    let server = spans
        .iter()
        .find(|span| span.kind == "server" && span.name == "POST /graphql")
        .expect("the request's server span");
    assert_eq!(server.trace_id, TRACE_ID);
    assert_eq!(server.parent_span_id, PARENT_SPAN_ID);
    let operation = spans
        .iter()
        .find(|span| span.name == "mutation createBpo")
        .expect("the operation's span");
    assert_eq!(operation.parent_span_id, server.span_id);
    assert_nothing_secret(&spans, &[admin.as_str()]);
    assert!(cv.terminate(Duration::from_secs(30)).await);
}
