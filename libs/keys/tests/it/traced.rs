//! The tracing decorator: one span per call, named for the operation, with
//! the key reference and the context's ids, the outcome, and no key
//! material. Checked over the local keyring with an in-memory exporter.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use callvault_keys::local::LocalKeyring;
use callvault_keys::{EncryptionContext, KeyError, KeyProvider, KeyRef, Traced};
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

use crate::conformance;
use crate::local::{keyring_path, master_keys_in_file};

/// Spans end up in the returned exporter while the guard lives; the tests
/// run on tokio's current-thread runtime, so every await sees the
/// thread-local subscriber.
fn traced() -> (InMemorySpanExporter, tracing::subscriber::DefaultGuard) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let subscriber = tracing_subscriber::registry().with(layer);
    (exporter, tracing::subscriber::set_default(subscriber))
}

fn keyring(dir: &tempfile::TempDir) -> Traced {
    let keyring = LocalKeyring::open(keyring_path(dir)).expect("open keyring");
    Traced::new(Arc::new(keyring))
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|span| span.name == name).collect()
}

fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    match named(spans, name).as_slice() {
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

/// Every value a span carries: its attributes and its events' fields.
fn everything_recorded(spans: &[SpanData]) -> Vec<String> {
    let mut values = Vec::new();
    for span in spans {
        values.push(span.name.to_string());
        values.extend(
            span.attributes
                .iter()
                .map(|kv| kv.value.as_str().into_owned()),
        );
        for event in span.events.iter() {
            values.push(event.name.to_string());
            values.extend(
                event
                    .attributes
                    .iter()
                    .map(|kv| kv.value.as_str().into_owned()),
            );
        }
    }
    values
}

/// `bytes` in every spelling a log or span might use.
fn spellings(bytes: &[u8]) -> Vec<String> {
    vec![
        hex::encode(bytes),
        hex::encode_upper(bytes),
        STANDARD.encode(bytes),
        STANDARD_NO_PAD.encode(bytes),
        URL_SAFE.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
        format!("{bytes:?}"),
    ]
}

#[tokio::test]
async fn every_call_is_a_span_with_its_key_and_ids_and_no_key_material() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keyring(&dir);
    let (exporter, _guard) = traced();
    let tenant = "3f0c6d1e-tenant";
    let key = keys.create_tenant_key(tenant).await.expect("tenant key");
    let other = keys
        .create_tenant_key("another-tenant")
        .await
        .expect("other key");
    let context = EncryptionContext::for_recording(tenant, "rec-42");
    let (data_key, wrapped) = keys
        .generate_data_key(&key, &context)
        .await
        .expect("data key");
    let unwrapped = keys.decrypt(&wrapped, &context).await.expect("decrypt");
    assert_eq!(unwrapped.as_bytes(), data_key.as_bytes());
    let rewrapped = keys
        .rewrap(&wrapped, &context, &other)
        .await
        .expect("rewrap");
    keys.check_key(&key).await.expect("check");
    keys.rotate(&key).await.expect("rotate");

    let spans = exporter.get_finished_spans().expect("spans");
    let created = named(&spans, "keys.create_tenant_key");
    assert_eq!(created.len(), 2);
    assert_eq!(attribute(created[0], "tenant_id").as_deref(), Some(tenant));
    assert_eq!(attribute(created[0], "key_ref"), Some(key.0.clone()));
    for name in [
        "keys.generate_data_key",
        "keys.decrypt",
        "keys.rewrap",
        "keys.check_key",
        "keys.rotate",
    ] {
        let span = one(&spans, name);
        assert_eq!(attribute(span, "key_ref"), Some(key.0.clone()), "{name}");
        assert_eq!(attribute(span, "outcome").as_deref(), Some("ok"), "{name}");
        assert_eq!(attribute(span, "error.kind"), None, "{name}");
        assert_eq!(span.status, Status::Unset, "{name}");
    }
    for name in ["keys.generate_data_key", "keys.decrypt", "keys.rewrap"] {
        let span = one(&spans, name);
        assert_eq!(
            attribute(span, "tenant_id").as_deref(),
            Some(tenant),
            "{name}"
        );
        assert_eq!(
            attribute(span, "recording_id").as_deref(),
            Some("rec-42"),
            "{name}"
        );
    }
    assert_eq!(
        attribute(one(&spans, "keys.rewrap"), "new_key_ref"),
        Some(other.0.clone())
    );

    let recorded = everything_recorded(&spans);
    let mut secrets = master_keys_in_file(&keyring_path(&dir));
    secrets.push(data_key.as_bytes().to_vec());
    secrets.push(wrapped.ciphertext.clone());
    secrets.push(rewrapped.ciphertext.clone());
    for secret in &secrets {
        for spelling in spellings(secret) {
            assert!(
                recorded.iter().all(|value| !value.contains(&spelling)),
                "key material in a span: {spelling}"
            );
        }
    }
}

#[tokio::test]
async fn a_failure_records_its_kind_and_only_a_fault_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = keyring(&dir);
    let (exporter, _guard) = traced();
    let key = keys
        .create_tenant_key("tenant-a")
        .await
        .expect("tenant key");
    let context = EncryptionContext::for_recording("tenant-a", "rec-1");
    let (_, wrapped) = keys
        .generate_data_key(&key, &context)
        .await
        .expect("data key");
    let elsewhere = EncryptionContext::for_recording("tenant-a", "rec-2");
    assert!(matches!(
        keys.decrypt(&wrapped, &elsewhere).await,
        Err(KeyError::InvalidCiphertext)
    ));
    let unknown = KeyRef("tenant/never-onboarded".into());
    assert!(matches!(
        keys.check_key(&unknown).await,
        Err(KeyError::NotFound(_))
    ));

    let spans = exporter.get_finished_spans().expect("spans");
    let refused = one(&spans, "keys.decrypt");
    assert_eq!(attribute(refused, "outcome").as_deref(), Some("error"));
    assert_eq!(
        attribute(refused, "error.kind").as_deref(),
        Some("invalid_ciphertext")
    );
    assert_eq!(attribute(refused, "recording_id").as_deref(), Some("rec-2"));
    assert!(matches!(refused.status, Status::Error { .. }));
    // A key the caller named wrongly is its mistake, not a fault here.
    let missing = one(&spans, "keys.check_key");
    assert_eq!(
        attribute(missing, "error.kind").as_deref(),
        Some("not_found")
    );
    assert_eq!(attribute(missing, "key_ref"), Some(unknown.0));
    assert_eq!(missing.status, Status::Unset);
}

#[tokio::test]
async fn a_traced_local_keyring_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance::run_suite(&keyring(&dir)).await;
}
