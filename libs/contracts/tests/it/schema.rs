//! The JSON Schema of every bus message, checked in under schema/events/.
//!
//! This test regenerates them and fails when a committed file differs, so a
//! contract change cannot land without its schema. `UPDATE_SCHEMA=1 cargo
//! nextest run -p callvault-contracts` rewrites the files instead.

use std::path::{Path, PathBuf};

use callvault_contracts::events::{
    DeletionCertificateIssuedV1, DisclosureClosedV1, DisclosureDeliveredV1, DisclosureDueSoonV1,
    DisclosureOverdueV1, DisclosureRequestCreatedV1, InvoiceFinalizedV1, LegalHoldPlacedV1,
    LegalHoldReleasedV1, Message, RecordingDiscardedV1, RecordingIngestedV1,
    RecordingIntegrityFailedV1, RecordingServedV1, RecordingShreddedV1, RecordingStoredV1,
    TenantKeyChangedV1, UserActiveV1, WebhookEndpointDisabledV1,
};
use callvault_contracts::lifecycle_api::{
    AuditEntry, AuditPage, ChainVerification, DeletionCertificate, LegalHold, RecordingLifecycle,
    RetentionRule, SignedManifest, TenantPolicy,
};
use callvault_contracts::metadata_api::{
    ApiError, ApiKey, ApiKeyGrant, Bpo, CreatedApiKey, Recording, RecordingPage, Tenant, User,
};
use callvault_contracts::webhooks_api::{WebhookDelivery, WebhookEndpoint};
use schemars::{JsonSchema, Schema, schema_for};
use serde_json::{Map, Value};

/// File name (without `.json`) and schema of every exported type. Events are
/// named after their topic and version, the metadata API after its queue.
fn schemas() -> Vec<(&'static str, Schema)> {
    vec![
        ("message", schema_for!(Message)),
        ("recording.ingested.v1", schema_for!(RecordingIngestedV1)),
        ("tenant.key_changed.v1", schema_for!(TenantKeyChangedV1)),
        (
            "recording.integrity_failed.v1",
            schema_for!(RecordingIntegrityFailedV1),
        ),
        (
            "disclosure.request_created.v1",
            schema_for!(DisclosureRequestCreatedV1),
        ),
        ("disclosure.due_soon.v1", schema_for!(DisclosureDueSoonV1)),
        ("disclosure.overdue.v1", schema_for!(DisclosureOverdueV1)),
        (
            "disclosure.delivered.v1",
            schema_for!(DisclosureDeliveredV1),
        ),
        ("disclosure.closed.v1", schema_for!(DisclosureClosedV1)),
        ("recording.stored.v1", schema_for!(RecordingStoredV1)),
        ("recording.discarded.v1", schema_for!(RecordingDiscardedV1)),
        ("recording.shredded.v1", schema_for!(RecordingShreddedV1)),
        ("recording.served.v1", schema_for!(RecordingServedV1)),
        ("user.active.v1", schema_for!(UserActiveV1)),
        ("invoice.finalized.v1", schema_for!(InvoiceFinalizedV1)),
        ("hold.placed.v1", schema_for!(LegalHoldPlacedV1)),
        ("hold.released.v1", schema_for!(LegalHoldReleasedV1)),
        (
            "deletion.certificate_issued.v1",
            schema_for!(DeletionCertificateIssuedV1),
        ),
        (
            "webhook.endpoint_disabled.v1",
            schema_for!(WebhookEndpointDisabledV1),
        ),
        ("webhooks.endpoint", schema_for!(WebhookEndpoint)),
        ("webhooks.delivery", schema_for!(WebhookDelivery)),
        ("metadata.error", schema_for!(ApiError)),
        ("metadata.bpo", schema_for!(Bpo)),
        ("metadata.tenant", schema_for!(Tenant)),
        ("metadata.user", schema_for!(User)),
        ("metadata.api_key", schema_for!(ApiKey)),
        ("metadata.created_api_key", schema_for!(CreatedApiKey)),
        ("metadata.api_key_grant", schema_for!(ApiKeyGrant)),
        ("metadata.recording", schema_for!(Recording)),
        ("metadata.recording_page", schema_for!(RecordingPage)),
        (
            "metadata.lifecycle.tenant_policy",
            schema_for!(TenantPolicy),
        ),
        (
            "metadata.lifecycle.retention_rule",
            schema_for!(RetentionRule),
        ),
        (
            "metadata.lifecycle.recording_lifecycle",
            schema_for!(RecordingLifecycle),
        ),
        ("metadata.lifecycle.legal_hold", schema_for!(LegalHold)),
        (
            "metadata.lifecycle.deletion_certificate",
            schema_for!(DeletionCertificate),
        ),
        ("metadata.lifecycle.audit_entry", schema_for!(AuditEntry)),
        ("metadata.lifecycle.audit_page", schema_for!(AuditPage)),
        (
            "metadata.lifecycle.chain_verification",
            schema_for!(ChainVerification),
        ),
        (
            "metadata.lifecycle.signed_manifest",
            schema_for!(SignedManifest),
        ),
    ]
}

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/events")
}

/// Pretty JSON with every object's keys sorted: the same bytes whatever
/// order the map type of this build (serde_json's `preserve_order` is a
/// feature another crate of the workspace may turn on) keeps them in.
fn render(schema: &Schema) -> String {
    let mut text =
        serde_json::to_string_pretty(&sorted(schema.as_value())).expect("serialize a schema");
    text.push('\n');
    text
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[test]
fn committed_schemas_match_the_contract_types() {
    let dir = schema_dir();
    let update = std::env::var("UPDATE_SCHEMA").is_ok_and(|value| value == "1");
    let mut stale = Vec::new();
    for (name, schema) in schemas() {
        let path = dir.join(format!("{name}.json"));
        let expected = render(&schema);
        if update {
            std::fs::create_dir_all(&dir).expect("create schema/events");
            std::fs::write(&path, &expected).expect("write a schema file");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == expected => {}
            Ok(_) => stale.push(format!("{name}.json differs")),
            Err(err) => stale.push(format!("{name}.json unreadable: {err}")),
        }
    }
    assert!(
        stale.is_empty(),
        "schema/events is stale ({}); regenerate it with \
         `UPDATE_SCHEMA=1 cargo nextest run -p callvault-contracts` and commit the result",
        stale.join(", ")
    );
}

#[test]
fn every_schema_file_is_generated() {
    // A schema file whose type was removed or renamed would linger unchecked.
    let generated: Vec<String> = schemas()
        .iter()
        .map(|(name, _)| format!("{name}.json"))
        .collect();
    let dir = schema_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("schema/events is missing; generate it with UPDATE_SCHEMA=1");
    };
    for entry in entries {
        let name = entry
            .expect("list schema/events")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".json") {
            assert!(
                generated.contains(&name),
                "{name} in schema/events matches no contract type; delete it"
            );
        }
    }
}

#[test]
fn the_envelope_schema_lists_the_fields_serde_writes() {
    // The schemas describe the wire format: a serialized envelope has
    // exactly the properties its schema lists.
    let message = Message {
        id: uuid::Uuid::nil(),
        topic: "recording.ingested".to_owned(),
        version: 1,
        occurred_at: chrono::DateTime::UNIX_EPOCH,
        traceparent: None,
        tracestate: Some("vendor=opaque".to_owned()),
        payload: Value::Null,
    };
    let written = serde_json::to_value(&message).expect("serialize a message");
    let schema = schema_for!(Message);
    let properties = schema.as_value()["properties"]
        .as_object()
        .expect("properties");
    let mut listed: Vec<&String> = properties.keys().collect();
    let mut serialized: Vec<&String> = written.as_object().expect("an object").keys().collect();
    listed.sort();
    serialized.sort();
    assert_eq!(listed, serialized);
    assert_eq!(<Message as JsonSchema>::schema_name(), "Message");
}
