//! schema/openapi.yaml describes what the upload endpoint really does.

use std::collections::BTreeSet;

use callvault_contracts::RecordingId;
use callvault_ingestion::{STATUSES, UploadReceipt};

fn document() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("read the openapi document");
    serde_norway::from_str(&text).expect("the openapi document is valid yaml")
}

/// Statuses the process's HTTP layer answers before the handler runs
/// (malformed framing: callvault_runtime::framing), with their codes.
const FRAMING: [(u16, &str); 3] = [
    (400, "malformed_request"),
    (408, "request_timeout"),
    (431, "headers_too_large"),
];

/// A response, its `$ref` to `#/components/responses/…` followed.
fn response(document: &serde_json::Value, status: u16) -> &serde_json::Value {
    operation_response(document, "/v1/recordings", "post", status)
}

fn operation_response<'a>(
    document: &'a serde_json::Value,
    path: &str,
    method: &str,
    status: u16,
) -> &'a serde_json::Value {
    let response = &document["paths"][path][method]["responses"][status.to_string()];
    match response["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/responses/")
                .expect("a response reference");
            &document["components"]["responses"][name]
        }
        None => response,
    }
}

fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_status_the_handler_returns_is_documented() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    let responses = &document["paths"]["/v1/recordings"]["post"]["responses"];
    let documented = keys(responses);
    let returned: BTreeSet<String> = STATUSES
        .iter()
        .chain(FRAMING.iter().map(|(status, _)| status))
        .map(u16::to_string)
        .collect();
    assert_eq!(documented, returned, "documented statuses vs the handler's");
    for status in STATUSES.iter().filter(|status| **status >= 400) {
        let schema =
            &responses[status.to_string()]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(
            schema, "#/components/schemas/Error",
            "{status} uses the error body"
        );
    }
    for (status, _) in FRAMING {
        let schema = &response(&document, status)["content"]["application/json"]["schema"]["$ref"];
        assert!(
            schema
                .as_str()
                .is_some_and(|schema| schema.ends_with("Error")),
            "{status} uses the error body"
        );
    }
}

#[test]
fn every_error_code_is_documented() {
    // Every code `IngestError::code` can return, by status.
    let codes = [
        (401, "unauthenticated"),
        (403, "tenant_offboarded"),
        (411, "length_required"),
        (415, "unsupported_media"),
        (400, "invalid_metadata"),
        (400, "invalid_header"),
        (400, "length_mismatch"),
        (400, "body_failed"),
        (413, "payload_too_large"),
        (422, "not_audio"),
        (422, "invalid_audio"),
        (422, "truncated_audio"),
        (422, "duration_mismatch"),
        (422, "channel_mismatch"),
        (422, "call_not_recorded"),
        (422, "pauses_not_silenceable"),
        (422, "tenant_key_unusable"),
        (409, "upload_in_progress"),
        (409, "idempotency_key_reused"),
        (409, "upload_superseded"),
        (409, "recording_conflict"),
        (503, "unavailable"),
        (500, "internal"),
    ]
    .into_iter()
    .chain(FRAMING);
    let document = document();
    let documented: BTreeSet<&str> = document["components"]["schemas"]["Error"]["properties"]["error"]
        ["properties"]["code"]["enum"]
        .as_array()
        .expect("an enum of codes")
        .iter()
        .filter_map(|code| code.as_str())
        .collect();
    // The resumable uploads' own, described on `appendUpload`.
    let resumable = [
        (412, "unsupported_tus_version"),
        (404, "upload_not_found"),
        (410, "upload_expired"),
        (409, "offset_mismatch"),
        (409, "upload_locked"),
        (460, "checksum_mismatch"),
    ];
    assert_eq!(
        documented,
        codes
            .clone()
            .chain(resumable)
            .map(|(_, code)| code)
            .collect()
    );
    for (status, code) in codes {
        let description = response(&document, status)["description"]
            .as_str()
            .unwrap_or_default();
        assert!(description.contains(code), "{status} should mention {code}");
    }
    for (status, code) in resumable {
        let description =
            operation_response(&document, "/v1/uploads/{id}", "patch", status)["description"]
                .as_str()
                .unwrap_or_default();
        assert!(
            description.contains(code),
            "PATCH {status} should mention {code}"
        );
    }
}

#[test]
fn the_schemas_match_the_types() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    // Through the type, so every field it has (optional ones included) is
    // one the document must describe.
    let call: callvault_contracts::call::CallMetadata =
        serde_json::from_value(crate::support::call("pbx-1")).expect("a valid call");
    let call = serde_json::to_value(call).expect("serialize");
    assert_eq!(keys(&schemas["CallMetadata"]["properties"]), keys(&call));
    let receipt = UploadReceipt {
        recording_id: RecordingId::new(),
        tenant_id: callvault_contracts::TenantId::new(),
        size: 1,
        sha256: "00".repeat(32),
        codec: "wav/pcm_mulaw".into(),
        sample_rate: 8_000,
        channels: 1,
        duration_ms: 1,
        replayed: false,
        received_sha256: Some("11".repeat(32)),
    };
    let receipt = serde_json::to_value(receipt).expect("json");
    assert_eq!(
        keys(&schemas["UploadReceipt"]["properties"]),
        keys(&receipt)
    );
}
