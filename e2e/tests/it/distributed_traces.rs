//! One trace per request across the distributed processes, exported to an
//! OTLP collector of our own: an upload crosses ingestion, storage (over
//! HTTP) and metadata (its `verify_api_key` over RabbitMQ, and its consumer
//! of the ingest event); a search crosses the gateway and metadata over
//! RabbitMQ. Every span is parented inside its trace, and no span nor log
//! line holds the test's phone number, tokens, key or URL signature. With
//! the exporter off the same flow sends nothing and works.

use std::collections::HashMap;
use std::time::Duration;

use callvault_e2e::{Collector, ReceivedSpan, mulaw_wav};
use serde_json::json;

use crate::cluster::{Deployment, Layout, with_deployment};
use crate::support::{call, create_bpo, onboard};

const PHONE: &str = "+819055501234";
const UPLOAD_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const SEARCH_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "b7ad6b7169203331";

fn traceparent(trace: &str) -> String {
    format!("00-{trace}-{CALLER_SPAN}-01")
}

/// What the flow handled that must never reach a span or a log.
struct Secrets(Vec<String>);

/// Onboards a tenant, uploads a call and finds it by number, the upload and
/// the search each sent with a `traceparent` of the test's own.
async fn run_flow(deployment: &Deployment) -> Secrets {
    let client = reqwest::Client::new();
    let gateway = deployment.running("gateway");
    let ingestion = deployment.running("ingestion");
    let admin = gateway.admin_token(&[]);
    let bpo = create_bpo(gateway, &client, &admin, "Traced BPO").await;
    let tenant = onboard(gateway, &client, &admin, &bpo, "Traced Bank").await;

    let uploaded = client
        .post(format!("{}/v1/recordings", ingestion.base_url))
        .bearer_auth(&tenant.key)
        .header("content-type", "audio/wav")
        .header(
            "callvault-call",
            call("traced-1", PHONE, "agent-1").to_string(),
        )
        .header("traceparent", traceparent(UPLOAD_TRACE))
        .body(mulaw_wav(3, 5))
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), reqwest::StatusCode::CREATED);

    let supervisor = gateway.admin_token(&["--role", "supervisor", "--tenant", &tenant.id]);
    let query = json!({
        "query": "query($t: UUID!, $f: RecordingFilter) { recordings(tenantId: $t, filter: $f) { edges { node { id playbackUrl } } } }",
        "variables": { "t": tenant.id, "f": { "phoneNumber": PHONE } },
    });
    // The catalogue is fed by an event: search (untraced) until it lists
    // the call, then once more inside the test's trace.
    let mut signature = String::new();
    for _ in 0..100 {
        let answer: serde_json::Value = client
            .post(format!("{}/graphql", gateway.base_url))
            .bearer_auth(&supervisor)
            .json(&query)
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("json");
        if let Some(url) = answer["data"]["recordings"]["edges"][0]["node"]["playbackUrl"].as_str()
        {
            signature = url
                .split_once('?')
                .map(|(_, q)| q.to_owned())
                .unwrap_or_default();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!signature.is_empty(), "the upload was never catalogued");
    let searched = client
        .post(format!("{}/graphql", gateway.base_url))
        .bearer_auth(&supervisor)
        .header("traceparent", traceparent(SEARCH_TRACE))
        .json(&query)
        .send()
        .await
        .expect("traced search");
    assert!(searched.status().is_success());

    let mut secrets = vec![
        PHONE.trim_start_matches('+').to_owned(),
        admin,
        supervisor,
        tenant.key,
        signature,
    ];
    secrets.retain(|secret| !secret.is_empty());
    Secrets(secrets)
}

fn in_trace<'a>(spans: &'a [ReceivedSpan], trace: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|span| span.trace_id == trace).collect()
}

fn is_whole(trace: &[&ReceivedSpan]) -> bool {
    trace.iter().all(|span| {
        span.parent_span_id == CALLER_SPAN
            || trace
                .iter()
                .any(|parent| parent.span_id == span.parent_span_id)
    })
}

/// Every span of the trace hangs off the caller's span or another span of
/// the trace: one tree, nothing orphaned.
fn assert_one_tree(trace: &[&ReceivedSpan]) {
    let ids: HashMap<&str, &ReceivedSpan> = trace
        .iter()
        .map(|span| (span.span_id.as_str(), *span))
        .collect();
    for span in trace {
        let parent = span.parent_span_id.as_str();
        assert!(
            parent == CALLER_SPAN || ids.contains_key(parent),
            "{} ({}) has a parent outside its trace: {trace:#?}",
            span.name,
            span.service_name
        );
    }
}

/// The one span named `name` from `service`, and its parent's service.
fn find<'a>(trace: &[&'a ReceivedSpan], service: &str, name: &str) -> &'a ReceivedSpan {
    trace
        .iter()
        .find(|span| span.service_name == service && span.name == name)
        .copied()
        .unwrap_or_else(|| panic!("no span {name} from {service} in {trace:#?}"))
}

fn parent_service<'a>(trace: &[&'a ReceivedSpan], span: &ReceivedSpan) -> &'a str {
    trace
        .iter()
        .find(|candidate| candidate.span_id == span.parent_span_id)
        .map_or("", |parent| parent.service_name.as_str())
}

#[tokio::test]
async fn an_upload_and_a_search_are_each_one_trace_across_the_processes() {
    let collector = Collector::start().await;
    let endpoint = collector.endpoint().to_owned();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    with_deployment(Layout::OnePerService, &env, move |deployment| async move {
        let Secrets(secrets) = run_flow(&deployment).await;
        let spans = collector
            .wait_for(Duration::from_secs(30), |spans| {
                // Each process exports on its own schedule: wait for both
                // trees to be whole.
                let upload = in_trace(spans, UPLOAD_TRACE);
                let search = in_trace(spans, SEARCH_TRACE);
                upload.iter().any(|s| s.kind == "consumer")
                    && upload.iter().any(|s| s.service_name == "callvault-storage")
                    && search.iter().any(|s| s.service_name == "callvault-gateway")
                    && search
                        .iter()
                        .any(|s| s.service_name == "callvault-metadata")
                    && is_whole(&upload)
                    && is_whole(&search)
            })
            .await;

        let upload = in_trace(&spans, UPLOAD_TRACE);
        assert_one_tree(&upload);
        let services: Vec<&str> = upload.iter().map(|s| s.service_name.as_str()).collect();
        for service in [
            "callvault-ingestion",
            "callvault-storage",
            "callvault-metadata",
        ] {
            assert!(
                services.contains(&service),
                "no {service} span in {upload:#?}"
            );
        }
        let ingest = upload
            .iter()
            .find(|s| s.service_name == "callvault-ingestion" && s.parent_span_id == CALLER_SPAN)
            .unwrap_or_else(|| panic!("ingestion continues the recorder's span: {upload:#?}"));
        assert_eq!(ingest.kind, "server");
        let stored = upload
            .iter()
            .find(|s| s.service_name == "callvault-storage" && s.kind == "server")
            .unwrap_or_else(|| panic!("a storage server span: {upload:#?}"));
        assert_eq!(parent_service(&upload, stored), "callvault-ingestion");
        let catalogued = find(&upload, "callvault-metadata", "recording.ingested process");
        assert_eq!(catalogued.kind, "consumer");
        assert_eq!(parent_service(&upload, catalogued), "callvault-ingestion");
        let verified = find(&upload, "callvault-metadata", "metadata/verify_api_key");
        assert_eq!(verified.kind, "server");
        assert_eq!(parent_service(&upload, verified), "callvault-ingestion");

        let search = in_trace(&spans, SEARCH_TRACE);
        assert_one_tree(&search);
        let client = find(&search, "callvault-gateway", "metadata/search_recordings");
        assert_eq!(client.kind, "client");
        let server = search
            .iter()
            .find(|s| {
                s.service_name == "callvault-metadata" && s.name == "metadata/search_recordings"
            })
            .unwrap_or_else(|| panic!("metadata's server span: {search:#?}"));
        assert_eq!(server.kind, "server");
        assert_eq!(
            server.parent_span_id, client.span_id,
            "metadata continues the gateway's call"
        );

        let everything = format!("{spans:?}");
        for process in &deployment.processes {
            let logs = process.log_text();
            for secret in &secrets {
                assert!(
                    !everything.contains(secret.as_str()),
                    "a span holds a secret or the number"
                );
                assert!(
                    !logs.contains(secret.as_str()),
                    "a log line holds a secret or the number"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn with_the_exporter_off_the_same_flow_sends_nothing_and_works() {
    let collector = Collector::start().await;
    with_deployment(Layout::OnePerService, &[], move |deployment| async move {
        let _secrets = run_flow(&deployment).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(collector.exports(), 0);
        assert!(collector.spans().is_empty());
    })
    .await;
}
