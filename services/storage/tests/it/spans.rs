//! Every storage operation is a span named for it (`storage.<operation>`)
//! with the tenant and recording ids and, on failure, the error's code; the
//! key provider's spans nest under it; no span carries key material.
//! Checked with an in-memory exporter.

use std::sync::Arc;

use bytes::Bytes;
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::Traced;
use callvault_storage::records::RecordState;
use callvault_storage::{RecordingStore, StorageError};
use futures_util::TryStreamExt;
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::{Harness, audio, body};

/// Spans end up in the returned exporter while the guard lives; the tests
/// run on tokio's current-thread runtime, so every await sees the
/// thread-local subscriber.
///
/// At `INFO`, as the binary runs by default: sea-orm's `TRACE` spans, once
/// SQLite's worker thread drops them, would close their parents through
/// that thread's subscriber, which a thread-local one is not, and the
/// storage spans above them would never end.
fn traced() -> (InMemorySpanExporter, tracing::subscriber::DefaultGuard) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let subscriber = tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(layer);
    (exporter, tracing::subscriber::set_default(subscriber))
}

/// The finished spans once every one of `names` is among them. SQLite's
/// worker thread holds the span of the query it ran until it is done with
/// the command, so an operation's span may end a moment after its call
/// returns.
async fn finished(exporter: &InMemorySpanExporter, names: &[&str]) -> Vec<SpanData> {
    for _ in 0..200 {
        let spans = exporter.get_finished_spans().expect("spans");
        if names
            .iter()
            .all(|name| spans.iter().any(|span| span.name == *name))
        {
            return spans;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    exporter.get_finished_spans().expect("spans")
}

fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans.iter().filter(|span| span.name == name).collect();
    match found.as_slice() {
        [span] => span,
        other => panic!(
            "expected one {name} span, got {} among {:?}",
            other.len(),
            spans.iter().map(|s| s.name.to_string()).collect::<Vec<_>>()
        ),
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

fn assert_ids(span: &SpanData, tenant: TenantId, recording: RecordingId) {
    assert_eq!(
        attribute(span, "tenant_id"),
        Some(tenant.to_string()),
        "{}",
        span.name
    );
    assert_eq!(
        attribute(span, "recording_id"),
        Some(recording.to_string()),
        "{}",
        span.name
    );
}

#[tokio::test]
async fn store_and_read_are_spans_with_the_ids_and_no_key_material() {
    let harness = Harness::embedded().await;
    // Keys traced as the binary traces them, to see their spans nest.
    let store = RecordingStore::new(
        harness.blobs.clone(),
        Arc::new(Traced::new(harness.keys.clone())),
        harness.records.clone(),
    );
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key = harness.tenant_key(tenant).await;
    let data = audio(100_000);
    let (exporter, _guard) = traced();
    store
        .store(tenant, recording, &key, body(&data, 4_096))
        .await
        .expect("stored");
    let read = store
        .read(tenant, recording, Some(10..20))
        .await
        .expect("read");
    let bytes: Vec<Bytes> = read.body.try_collect().await.expect("bytes");
    assert_eq!(bytes.concat(), &data[10..20]);

    let spans = finished(&exporter, &["storage.store", "storage.read"]).await;
    let stored = one(&spans, "storage.store");
    assert_ids(stored, tenant, recording);
    assert_eq!(attribute(stored, "key_ref"), Some(key.0.clone()));
    assert_eq!(attribute(stored, "error.code"), None);
    assert_eq!(stored.status, Status::Unset);
    let read = one(&spans, "storage.read");
    assert_ids(read, tenant, recording);
    assert_eq!(attribute(read, "range").as_deref(), Some("Some(10..20)"));
    let generated = one(&spans, "keys.generate_data_key");
    assert_eq!(generated.parent_span_id, stored.span_context.span_id());
    assert_ids(generated, tenant, recording);
    let decrypted = one(&spans, "keys.decrypt");
    assert_eq!(decrypted.parent_span_id, read.span_context.span_id());
    assert_ids(decrypted, tenant, recording);

    let record = harness
        .records
        .get(tenant.0, recording.0)
        .await
        .expect("get")
        .expect("recorded");
    let RecordState::Stored { wrapped_key } = record.state else {
        panic!("the recording is stored");
    };
    let wrapped = hex::encode(&wrapped_key);
    for span in &spans {
        for kv in &span.attributes {
            let value = kv.value.as_str();
            assert!(!value.contains(&wrapped), "{}: {}", span.name, kv.key);
        }
    }
}

#[tokio::test]
async fn every_operation_is_a_span_and_a_failure_records_its_code() {
    let harness = Harness::embedded().await;
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let key = harness.tenant_key(tenant).await;
    harness.store_bytes(tenant, recording, b"audio").await;
    let (exporter, _guard) = traced();
    harness.store.info(tenant, recording).await.expect("info");
    harness
        .store
        .rewrap_tenant(tenant, &key, &key)
        .await
        .expect("rewrap");
    harness
        .store
        .list_stored(chrono::Utc::now(), None, 10)
        .await
        .expect("list");
    harness.store.shred(tenant, recording).await.expect("shred");
    let discarded = harness.store.discard(tenant, recording).await;
    assert!(matches!(discarded, Err(StorageError::Shredded { .. })));

    let names = [
        "storage.info",
        "storage.rewrap_tenant",
        "storage.list_stored",
        "storage.shred",
        "storage.discard",
    ];
    let spans = finished(&exporter, &names).await;
    assert_ids(one(&spans, "storage.info"), tenant, recording);
    assert_ids(one(&spans, "storage.shred"), tenant, recording);
    let rewrap = one(&spans, "storage.rewrap_tenant");
    assert_eq!(attribute(rewrap, "tenant_id"), Some(tenant.to_string()));
    assert_eq!(attribute(rewrap, "to_key_ref"), Some(key.0.clone()));
    assert_eq!(
        attribute(one(&spans, "storage.list_stored"), "limit").as_deref(),
        Some("10")
    );
    // Refused, as designed: the code is there, the span is not in error.
    let discard = one(&spans, "storage.discard");
    assert_ids(discard, tenant, recording);
    assert_eq!(
        attribute(discard, "error.code").as_deref(),
        Some("shredded")
    );
    assert_eq!(discard.status, Status::Unset);
}
