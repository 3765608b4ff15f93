//! Every disclosure field, argument, input field and enum value carries a
//! description: they are the public SDL the acceptance tests read.

use serde_json::{Value, json};

use super::EXPECTED;
use crate::support::spawn_app;

#[tokio::test]
async fn every_disclosure_field_argument_and_value_is_documented() {
    // The descriptions are the public SDL the acceptance tests read.
    let sdl = callvault_gateway::sdl();
    for needle in [
        "disclosureSettings(\n\t\t\"\"\"\n\t\tThe tenant.\n\t\t\"\"\"\n\t\ttenantId: UUID!\n\t): DisclosureSettings!",
        "disclosureBundleUrl(",
        "type DisclosureBundleUrl {",
        "enum DisclosureState {",
        "durationMs: Int64!",
        "dueBefore: NaiveDate",
    ] {
        assert!(sdl.contains(needle), "sdl lacks `{needle}`");
    }
    let app = spawn_app().await;
    let answer = app
        .gql(
            None,
            "{ __schema { types { name description
                fields { name description args { name description } }
                inputFields { name description }
                enumValues { name description } } } }",
            json!({}),
        )
        .await;
    let disclosure_types = [
        "RequestKind",
        "Regime",
        "DisclosureState",
        "IntakeChannel",
        "DisclosureMethod",
        "IdentityMethod",
        "SpanChannel",
        "RedactionMode",
        "RecordingSource",
        "RefusalGround",
        "BundleState",
        "RetainedReason",
        "RequesterContact",
        "SubjectIdentifiers",
        "Deadline",
        "IdentityAttempt",
        "RedactionSpan",
        "StatutoryRetention",
        "RequestRecording",
        "Transition",
        "Refusal",
        "Fee",
        "DisclosureBundle",
        "RetainedRecording",
        "ErasureOutcome",
        "DisclosureRequest",
        "RegisterEntry",
        "DisclosureBundleUrl",
        "Bilingual",
        "PrivacyNotice",
        "DisclosureSettings",
        "BilingualInput",
        "PrivacyNoticeInput",
        "FeeInput",
        "DisclosureSettingsInput",
        "RequesterContactInput",
        "SubjectIdentifiersInput",
        "CreateDisclosureRequestInput",
        "DisclosureRequestFilter",
        "RedactionSpanInput",
    ];
    let disclosure_fields: Vec<&str> = EXPECTED.iter().map(|(name, _, _)| *name).collect();
    let documented = |value: &Value| {
        value["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    let mut undocumented = Vec::new();
    let types = answer["data"]["__schema"]["types"]
        .as_array()
        .expect("types");
    for ty in types {
        let name = ty["name"].as_str().expect("type name");
        let whole_type = disclosure_types.contains(&name);
        if whole_type && !documented(ty) {
            undocumented.push(name.to_owned());
        }
        let members = |key: &str| ty[key].as_array().cloned().unwrap_or_default();
        for field in members("fields") {
            let field_name = field["name"].as_str().expect("field name");
            let root_field =
                matches!(name, "Query" | "Mutation") && disclosure_fields.contains(&field_name);
            if !(whole_type || root_field) {
                continue;
            }
            if !documented(&field) {
                undocumented.push(format!("{name}.{field_name}"));
            }
            for arg in field["args"].as_array().cloned().unwrap_or_default() {
                if !documented(&arg) {
                    undocumented.push(format!("{name}.{field_name}({})", arg["name"]));
                }
            }
        }
        if whole_type {
            for member in members("inputFields")
                .into_iter()
                .chain(members("enumValues"))
            {
                if !documented(&member) {
                    undocumented.push(format!("{name}.{}", member["name"]));
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented: {undocumented:?}");
    for ty in disclosure_types {
        assert!(
            types.iter().any(|t| t["name"] == ty),
            "{ty} is not in the schema"
        );
    }
}
