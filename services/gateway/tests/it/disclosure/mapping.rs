//! How the gateway maps arguments to the disclosure operations and their
//! answers back, passes the service's errors on, and refuses an answer
//! about another tenant or request.

use callvault_contracts::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{clear, operation, variables};
use crate::support::disclosure::{BUNDLE, BUNDLE_SIZE, CONFLICTING_REQUEST};
use crate::support::{error_codes, spawn_app, tenant_user, token};

#[tokio::test]
async fn arguments_reach_the_service_as_the_contract_says() {
    let app = spawn_app().await;
    let officer = token(&tenant_user(
        Role::ComplianceOfficer,
        app.metadata.world.tenant_a,
    ));
    let request = Uuid::new_v4();
    let sent = |name: &'static str| {
        let app = &app;
        let officer = officer.clone();
        async move {
            clear(app);
            let answer = app
                .gql(Some(&officer), &operation(name), variables(app, request))
                .await;
            assert!(error_codes(&answer).is_empty(), "{name}: {answer}");
            let calls = app.disclosure.calls();
            assert_eq!(calls.len(), 1, "{name}");
            calls[0].request.clone()
        }
    };

    let extend = sent("extendDisclosureDeadline").await;
    assert_eq!(extend["id"], json!(request));
    assert_eq!(
        (extend["months"].clone(), extend["reasons"].clone()),
        (json!(2), json!("complex"))
    );

    let create = sent("createDisclosureRequest").await["request"].clone();
    assert_eq!(create["kind"], "ACCESS");
    assert_eq!(create["channel"], "EMAIL");
    assert_eq!(create["regime"], Value::Null);
    assert_eq!(create["received_at"], "2025-03-01T09:00:00Z");
    // Trimmed; the number is parsed by the service, not here.
    assert_eq!(create["requester"]["name"], "Hanako Yamada");
    assert_eq!(create["subject"]["numbers"], json!(["03-1234-5678"]));

    let spans = sent("setRedactions").await;
    assert_eq!(spans["recording"], json!(app.metadata.world.rec_a1.0));
    assert_eq!(
        spans["spans"],
        json!([{ "channel": "AGENT", "start_ms": 1000, "end_ms": 2000, "mode": "TONE" }])
    );

    let refuse = sent("refuseDisclosureRequest").await;
    assert_eq!(
        refuse["refusal"],
        json!({ "ground": "RIGHTS_OF_OTHERS", "text": "refused", "complaint_notice": "you may complain" })
    );

    let identity = sent("recordIdentityAttempt").await;
    assert_eq!(
        (identity["method"].clone(), identity["verified"].clone()),
        (json!("ID_DOCUMENT"), json!(true))
    );

    let filter = sent("disclosureRequests").await["filter"].clone();
    assert_eq!(
        filter,
        json!({ "state": "IN_REVIEW", "kind": null, "due_before": null, "overdue": true, "number": null })
    );

    let register = sent("disclosureRegister").await;
    assert_eq!(
        (register["from"].clone(), register["to"].clone()),
        (json!("2025-01-01"), json!("2025-12-31"))
    );

    let settings = sent("setDisclosureSettings").await["settings"].clone();
    assert_eq!(settings["default_regime"], "APPI");
    assert_eq!(settings["appi_limit_days"], 10);
    assert_eq!(settings["closed_days"], json!(["2025-12-31"]));
    assert_eq!(
        settings["appi_fee"],
        json!({ "amount": 1000, "currency": "JPY" })
    );
    assert_eq!(
        settings["privacy"]["rights"],
        json!({ "en": "text", "ja": "文" })
    );
}

#[tokio::test]
async fn a_request_answers_every_field_as_the_contract_says() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let auditor = token(&tenant_user(Role::Auditor, w.tenant_a));
    let request = Uuid::new_v4();
    let answer = app
        .gql(
            Some(&auditor),
            "query($a: UUID!, $q: UUID!) { disclosureRequest(tenantId: $a, id: $q) {
                id tenantId kind regime state receivedAt channel method duplicateOf overdue
                requester { name email phone postalAddress }
                subject { numbers from to }
                deadline { dueDate dueAt originalDueDate extendedByMonths extensionReasons clockStoppedDays suePossibleFrom }
                identityAttempts { at method verified recordedBy }
                recordings { recordingId startedAt durationMs direction source included reason
                    redactions { channel startMs endMs mode } pciPauses { channel startMs endMs mode }
                    legalHolds statutory { ruleId ruleName legalBasis } retainUntil }
                transitions { from to at actor role reason }
                preparedBy approvedBy refusal { ground text complaintNotice } fee { amount currency } feePaid
                bundle { id state size sha256 createdAt expiresAt downloads }
                erasure { erased retained { recordingId reason legalHolds statutory { legalBasis } retainUntil } certificateId }
                restrictionActive createdAt updatedAt } }",
            variables(&app, request),
        )
        .await;
    assert!(error_codes(&answer).is_empty(), "{answer}");
    let r = &answer["data"]["disclosureRequest"];
    assert_eq!(r["id"], json!(request));
    assert_eq!(r["tenantId"], json!(w.tenant_a.0));
    assert_eq!(
        [
            &r["kind"],
            &r["regime"],
            &r["state"],
            &r["channel"],
            &r["method"]
        ],
        [
            "ERASURE",
            "GDPR",
            "AWAITING_APPROVAL",
            "WEB_FORM",
            "ELECTRONIC"
        ]
    );
    assert_eq!(r["receivedAt"], "2025-03-04T05:06:07+00:00");
    assert_eq!(r["requester"]["phone"], Value::Null);
    assert_eq!(r["requester"]["postalAddress"], "1-1 Chiyoda, Tokyo");
    assert_eq!(r["subject"]["numbers"], json!(["+81312345678"]));
    assert_eq!(r["deadline"]["dueDate"], "2025-05-04");
    assert_eq!(r["deadline"]["originalDueDate"], "2025-04-04");
    assert_eq!(r["deadline"]["extendedByMonths"], 1);
    assert_eq!(r["deadline"]["clockStoppedDays"], 2);
    assert_eq!(r["identityAttempts"][0]["method"], "CALL_BACK");
    let recording = &r["recordings"][0];
    assert_eq!(recording["recordingId"], json!(w.rec_a1.0));
    // Past 2^31: Int64, sent as a JSON number.
    assert_eq!(recording["durationMs"], json!(3_000_000_000u64));
    assert_eq!(
        recording["pciPauses"],
        json!([{ "channel": "BOTH", "startMs": 2_600_000_000u64, "endMs": 2_600_005_000u64, "mode": "SILENCE" }])
    );
    assert_eq!(
        recording["redactions"],
        json!([{ "channel": "AGENT", "startMs": 1000, "endMs": 2500, "mode": "TONE" }])
    );
    assert_eq!(
        [&recording["direction"], &recording["source"]],
        ["INBOUND", "ADDED"]
    );
    assert_eq!(recording["statutory"]["legalBasis"], "MiFID II art. 16(7)");
    assert_eq!(r["transitions"][0]["from"], Value::Null);
    assert_eq!(r["transitions"][1]["from"], "IN_REVIEW");
    assert_eq!(r["transitions"][1]["to"], "AWAITING_APPROVAL");
    assert_eq!(r["refusal"]["ground"], "SERIOUS_HINDRANCE_TO_BUSINESS");
    assert_eq!(r["fee"], json!({ "amount": 1000, "currency": "JPY" }));
    assert_eq!(r["bundle"]["state"], "READY");
    assert_eq!(r["bundle"]["size"], json!(BUNDLE_SIZE));
    assert_eq!(r["bundle"]["id"], json!(BUNDLE));
    let erasure = &r["erasure"];
    assert_eq!(erasure["erased"], json!([w.rec_a2.0]));
    assert_eq!(erasure["retained"][0]["reason"], "LEGAL_HOLD");
    assert_eq!(
        erasure["retained"][0]["legalHolds"],
        json!([Uuid::from_u128(9)])
    );
    assert_eq!(erasure["retained"][0]["statutory"], Value::Null);
    assert_eq!(erasure["retained"][1]["reason"], "STATUTORY");
    assert_eq!(erasure["retained"][1]["legalHolds"], json!([]));
    assert_eq!(
        erasure["retained"][1]["statutory"]["legalBasis"],
        "MiFID II art. 16(7)"
    );
    assert_eq!(erasure["certificateId"], json!(Uuid::from_u128(12)));

    let register = app
        .gql(
            Some(&auditor),
            "query($a: UUID!) { disclosureRegister(tenantId: $a, from: \"2025-01-01\", to: \"2025-06-30\") { requestId kind regime state receivedAt dueDate extendedByMonths answeredAt outcome onTime } }",
            variables(&app, request),
        )
        .await;
    assert_eq!(
        register["data"]["disclosureRegister"],
        json!([{
            "requestId": Uuid::from_u128(21), "kind": "ACCESS", "regime": "APPI", "state": "REFUSED",
            "receivedAt": "2025-03-04T05:06:07+00:00", "dueDate": "2025-06-30", "extendedByMonths": null,
            "answeredAt": "2025-03-04T05:06:07+00:00", "outcome": "refused:violates_other_laws", "onTime": true
        }]),
        "{register}"
    );
    let settings = app
        .gql(
            Some(&auditor),
            &operation("disclosureSettings"),
            variables(&app, request),
        )
        .await;
    assert_eq!(
        settings["data"]["disclosureSettings"],
        json!({
            "defaultRegime": "APPI", "appiLimitDays": 10, "closedDays": ["2025-12-31"],
            "appiFee": { "amount": 1000, "currency": "JPY" },
            "privacy": { "rights": { "en": "rights (en)", "ja": "rights（日本語）" } }
        }),
        "{settings}"
    );
}

#[tokio::test]
async fn service_errors_pass_through_with_their_code() {
    let app = spawn_app().await;
    let officer = token(&tenant_user(
        Role::ComplianceOfficer,
        app.metadata.world.tenant_a,
    ));
    for (name, message) in [
        (
            "approveDisclosureRequest",
            "the request is not awaiting approval",
        ),
        ("disclosureBundleUrl", "the bundle is not ready"),
    ] {
        let answer = app
            .gql(
                Some(&officer),
                &operation(name),
                variables(&app, CONFLICTING_REQUEST),
            )
            .await;
        assert_eq!(error_codes(&answer), ["CONFLICT"], "{name}: {answer}");
        assert_eq!(answer["errors"][0]["message"], message);
        assert!(answer["data"].is_null(), "{answer}");
    }
}

#[tokio::test]
async fn an_answer_about_another_tenant_or_request_is_refused() {
    let app = spawn_app().await;
    let officer = token(&tenant_user(
        Role::ComplianceOfficer,
        app.metadata.world.tenant_a,
    ));
    app.disclosure.go_rogue(true);
    for name in [
        "disclosureRequest",
        "disclosureRequests",
        "createDisclosureRequest",
        "approveDisclosureRequest",
        "refuseDisclosureRequest",
        "disclosureBundleUrl",
    ] {
        clear(&app);
        let answer = app
            .gql(
                Some(&officer),
                &operation(name),
                variables(&app, Uuid::new_v4()),
            )
            .await;
        assert_eq!(error_codes(&answer), ["INTERNAL"], "{name}: {answer}");
        assert_eq!(answer["errors"][0]["message"], "internal error");
        assert!(answer["data"].is_null(), "{name}: {answer}");
        assert_eq!(app.disclosure.calls().len(), 1, "{name}");
    }
}
