//! The disclosure service's steps in the audit chain, its signed evidence,
//! old certificates that still verify, and the machine calls' refusals:
//! unknown and offboarded tenants, and other tenants' recordings.

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_contracts::lifecycle_api::{AuditAction, DeletionReason};
use callvault_contracts::metadata_api::{ApiResult, ErrorCode};
use callvault_contracts::ops::subject::DisclosureAuditAction;
use callvault_contracts::{Actor, RecordingId, Role, TenantId};
use callvault_metadata::{ManifestKeys, MetadataService, evidence};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Query};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{E164, OTHER, call, days};
use crate::deletion::lab::{Lab, MANIFEST_SECRET};
use crate::support::{Env, code, member, platform};

fn verifies(public_key: &str, body: &str, signature: &str) -> bool {
    let public = BASE64.decode(public_key).expect("public key base64");
    let Ok(signature) = BASE64.decode(signature) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(body.as_bytes(), &signature)
        .is_ok()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("an object expected, got {other}"),
    }
}

async fn disclosure_steps_land_in_the_tenants_audit_chain(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let handler = Actor {
        origin: Some("198.51.100.4".into()),
        ..member(Role::ComplianceOfficer, t)
    };
    let request = Uuid::new_v4();
    let details = json!({"request_id": request, "from": "RECEIVED", "to": "IN_REVIEW"});
    let entry = lab
        .svc
        .record_disclosure_audit(
            &handler,
            t,
            DisclosureAuditAction::Disclosure,
            request.to_string(),
            Some("identity checked".into()),
            details.clone(),
        )
        .await
        .expect("append");
    assert_eq!(entry.action, AuditAction::Disclosure);
    assert_eq!(entry.actor, handler.subject);
    assert_eq!(entry.role, "compliance_officer");
    assert_eq!(entry.origin.as_deref(), Some("198.51.100.4"));
    assert_eq!(entry.target.as_deref(), Some(request.to_string().as_str()));
    assert_eq!(entry.reason.as_deref(), Some("identity checked"));
    assert_eq!(entry.details, details);
    let export = lab
        .svc
        .record_disclosure_audit(
            &member(Role::Auditor, t),
            t,
            DisclosureAuditAction::Export,
            request.to_string(),
            None,
            json!({"bundle_sha256": "ab".repeat(32)}),
        )
        .await
        .expect("append");
    assert_eq!(export.action, AuditAction::Export);
    assert_eq!(export.seq, entry.seq + 1);
    assert_eq!(export.prev_hash, entry.hash);

    // Visible in the trail as written; the chain verifies.
    let auditor = member(Role::Auditor, t);
    let trail = lab
        .svc
        .audit_trail(&auditor, t, None, 100)
        .await
        .expect("trail");
    assert_eq!(trail.items, vec![entry.clone(), export.clone()]);
    let verified = lab
        .svc
        .verify_audit_chain(&auditor, t, &[])
        .await
        .expect("verify");
    assert_eq!(verified.first_bad_seq, None);
    assert_eq!(verified.entries_checked, 2);

    // What isn't a step of a request is refused and changes nothing.
    let refused: [(String, Option<String>, Value); 6] = [
        ("  ".into(), None, json!({})),
        (request.to_string(), Some("   ".into()), json!({})),
        (request.to_string(), None, json!(["not", "an", "object"])),
        (request.to_string(), None, json!({"kind": "tenant_export"})),
        (request.to_string(), None, json!({"ratio": 0.5})),
        (
            request.to_string(),
            None,
            json!({"blob": "x".repeat(17 * 1024)}),
        ),
    ];
    for (target, reason, details) in refused {
        let outcome = lab
            .svc
            .record_disclosure_audit(
                &handler,
                t,
                DisclosureAuditAction::Disclosure,
                target,
                reason,
                details,
            )
            .await;
        assert_eq!(code(outcome), ErrorCode::InvalidInput);
    }
    assert_eq!(env.audit_entries(t).await.len(), 2);
}

async fn disclosure_evidence_is_signed_with_the_tenants_manifest_key(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let t = lab.tenant(bpo, "acme").await;
    let u = lab.tenant(bpo, "other").await;
    let request = Uuid::new_v4();
    let fields = object(json!({
        "request_id": request,
        "files": [{"name": "recording-1.wav", "sha256": "cd".repeat(32), "size": 1234}],
        "note": "é",
    }));
    let signed = lab
        .svc
        .sign_disclosure_evidence(t, "disclosure_bundle_manifest", 1, fields.clone())
        .await
        .expect("sign");
    let published = lab.svc.manifest_public_key(t).await.expect("key");
    assert_eq!(signed.public_key, published);
    assert!(verifies(&published, &signed.body, &signed.signature));
    let theirs = lab.svc.manifest_public_key(u).await.expect("key");
    assert!(!verifies(&theirs, &signed.body, &signed.signature));
    let tampered = signed.body.replace("1234", "1235");
    assert!(!verifies(&published, &tampered, &signed.signature));
    // Canonical JSON of the fields plus kind, version and tenant id.
    let mut expected = fields;
    expected.insert("kind".into(), json!("disclosure_bundle_manifest"));
    expected.insert("version".into(), json!(1));
    expected.insert("tenant_id".into(), json!(t.0.to_string()));
    assert_eq!(
        serde_json::from_str::<Value>(&signed.body).expect("json"),
        Value::Object(expected)
    );
    assert!(
        signed.body.starts_with(r#"{"files":[{"name""#),
        "{}",
        signed.body
    );
    assert!(!signed.body.contains(": "), "{}", signed.body);

    // Only disclosure evidence: never a deletion certificate, a manifest or
    // a body naming its own kind, version or tenant.
    for kind in [
        "deletion_certificate",
        "daily_manifest",
        "tenant_offboarding",
        "disclosure_",
        "Disclosure_reply",
        "disclosure reply",
    ] {
        let outcome = lab
            .svc
            .sign_disclosure_evidence(t, kind, 1, Map::new())
            .await;
        assert_eq!(code(outcome), ErrorCode::InvalidInput, "{kind}");
    }
    for key in ["kind", "version", "tenant_id"] {
        let outcome = lab
            .svc
            .sign_disclosure_evidence(t, "disclosure_reply", 1, object(json!({key: "x"})))
            .await;
        assert_eq!(code(outcome), ErrorCode::InvalidInput, "{key}");
    }
    // Without manifest keys there is nothing to sign with.
    let outcome = env
        .svc
        .sign_disclosure_evidence(t, "disclosure_reply", 1, Map::new())
        .await;
    assert_eq!(code(outcome), ErrorCode::Unavailable);
}

async fn certificates_signed_before_version_2_still_verify(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);
    // A certificate signed by the code before: version 1, no
    // held_by_request, stored as it was signed.
    let id = Uuid::new_v4();
    let keys = ManifestKeys::new(MANIFEST_SECRET.to_vec());
    let old = evidence::sign(
        &keys,
        t,
        evidence::DELETION_CERTIFICATE,
        1,
        object(json!({
            "certificate_id": id.to_string(),
            "started_at": "2023-12-15T22:13:20.000000Z",
            "finished_at": "2023-12-15T22:13:20.000000Z",
            "deleted": [],
            "held_back": [],
            "failed": [],
        })),
    );
    let insert = Query::insert()
        .into_table(Alias::new("deletion_certificates"))
        .columns(
            [
                "tenant_id",
                "id",
                "started_at",
                "finished_at",
                "held_back",
                "failed",
                "finished",
                "body",
                "signature",
            ]
            .map(Alias::new),
        )
        .values_panic([
            t.0.into(),
            id.into(),
            days(30).into(),
            days(30).into(),
            "[]".into(),
            "[]".into(),
            true.into(),
            old.body.clone().into(),
            old.signature.clone().into(),
        ])
        .to_owned();
    env.db
        .execute(&insert)
        .await
        .expect("insert old certificate");
    // And a new one.
    let r = lab.record(&env, call(t, 0, E164, OTHER)).await;
    lab.set_clock(days(31));
    let new = lab
        .svc
        .delete_recording(&officer, t, r, DeletionReason::UserRequest, "dup".into())
        .await
        .expect("delete");

    let public = lab.svc.manifest_public_key(t).await.expect("key");
    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("certificates");
    let old_listed = listed.iter().find(|c| c.id == id).expect("old one listed");
    assert_eq!(old_listed.body.as_deref(), Some(old.body.as_str()));
    assert_eq!(
        old_listed.signature.as_deref(),
        Some(old.signature.as_str())
    );
    assert!(verifies(&public, &old.body, &old.signature));
    assert!(old_listed.held_by_request.is_empty());
    assert_eq!(old_listed.request_id, None);
    let new_listed = listed.iter().find(|c| c.id == new.id).expect("new one");
    let body: Value =
        serde_json::from_str(new_listed.body.as_deref().expect("signed")).expect("json");
    assert_eq!(body["version"], 2);
    assert_eq!(body["held_by_request"], json!([]));
    assert!(verifies(
        &public,
        new_listed.body.as_deref().expect("signed"),
        new_listed.signature.as_deref().expect("signed")
    ));
}

/// Every machine call of `ops::subject` on `tenant`, by name, with its
/// error code (`None`: it answered).
async fn every_call(
    svc: &MetadataService,
    tenant: TenantId,
) -> Vec<(&'static str, Option<ErrorCode>)> {
    fn outcome<T>(result: ApiResult<T>) -> Option<ErrorCode> {
        result.err().map(|err| err.code)
    }
    let actor = member(Role::ComplianceOfficer, tenant);
    let request = Uuid::new_v4();
    let ids = vec![RecordingId::new()];
    vec![
        (
            "index_subject_numbers",
            outcome(svc.index_subject_numbers(tenant, vec![E164.into()]).await),
        ),
        ("subject_tenant", outcome(svc.subject_tenant(tenant).await)),
        (
            "find_subject_recordings",
            outcome(
                svc.find_subject_recordings(tenant, vec![E164.into()], None, None)
                    .await,
            ),
        ),
        (
            "subject_recordings",
            outcome(svc.subject_recordings(tenant, Vec::new()).await),
        ),
        (
            "preserve_for_request",
            outcome(svc.preserve_for_request(tenant, request, Vec::new()).await),
        ),
        (
            "restrict_recordings",
            outcome(
                svc.restrict_recordings(&actor, tenant, request, Vec::new(), false, "x".into())
                    .await,
            ),
        ),
        (
            "erase_for_request",
            outcome(svc.erase_for_request(&actor, tenant, request, ids).await),
        ),
        (
            "record_disclosure_audit",
            outcome(
                svc.record_disclosure_audit(
                    &actor,
                    tenant,
                    DisclosureAuditAction::Disclosure,
                    request.to_string(),
                    None,
                    json!({}),
                )
                .await,
            ),
        ),
        (
            "sign_disclosure_evidence",
            outcome(
                svc.sign_disclosure_evidence(tenant, "disclosure_reply", 1, Map::new())
                    .await,
            ),
        ),
    ]
}

async fn machine_calls_refuse_unknown_and_offboarded_tenants(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    lab.record(&env, call(t, 0, E164, OTHER)).await;
    for (name, outcome) in every_call(&lab.svc, TenantId::new()).await {
        assert_eq!(outcome, Some(ErrorCode::NotFound), "{name}");
    }
    // The live tenant answers (erasing an unknown id is NotFound).
    for (name, outcome) in every_call(&lab.svc, t).await {
        let expected = (name == "erase_for_request").then_some(ErrorCode::NotFound);
        assert_eq!(outcome, expected, "{name}");
    }
    lab.svc.export_tenant(&platform(), t).await.expect("export");
    lab.svc
        .offboard_tenant(&platform(), t, &t.to_string())
        .await
        .expect("offboard");
    for (name, outcome) in every_call(&lab.svc, t).await {
        assert_eq!(outcome, Some(ErrorCode::TenantOffboarded), "{name}");
    }
    assert_eq!(env.count("recording_restrictions").await, 0);
}

async fn machine_calls_never_reach_another_tenants_recordings(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let t = lab.tenant(bpo, "acme").await;
    let u = lab.tenant(bpo, "other").await;
    let handler_t = member(Role::ComplianceOfficer, t);
    let handler_u = member(Role::ComplianceOfficer, u);
    let ours = lab.record(&env, call(t, 0, E164, OTHER)).await;
    let theirs = lab.record(&env, call(u, 0, E164, OTHER)).await;
    // One request id in both tenants (ids are the disclosure service's).
    let request = Uuid::new_v4();
    lab.svc
        .preserve_for_request(u, request, vec![theirs])
        .await
        .expect("preserve in u");
    lab.svc
        .restrict_recordings(&handler_u, u, request, vec![theirs], true, "art. 18".into())
        .await
        .expect("restrict in u");
    let trail_u = env.audit_entries(u).await;

    // From t, u's recording is not found, whatever the call.
    assert_eq!(
        code(lab.svc.subject_recordings(t, vec![theirs]).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            lab.svc
                .preserve_for_request(t, request, vec![ours, theirs])
                .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            lab.svc
                .restrict_recordings(&handler_t, t, request, vec![theirs], true, "x".into())
                .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            lab.svc
                .erase_for_request(&handler_t, t, request, vec![theirs])
                .await
        ),
        ErrorCode::NotFound
    );
    // Releasing and lifting the same request id in t touch t's rows only.
    lab.svc
        .preserve_for_request(t, request, Vec::new())
        .await
        .expect("release in t");
    lab.svc
        .restrict_recordings(&handler_t, t, request, vec![theirs], false, "x".into())
        .await
        .expect("lift in t");
    lab.svc
        .restrict_recordings(&handler_t, t, request, Vec::new(), false, "x".into())
        .await
        .expect("lift all in t");
    // u's subject is not t's.
    let found = lab
        .svc
        .find_subject_recordings(t, vec![E164.into()], None, None)
        .await
        .expect("find");
    assert_eq!(
        found.iter().map(|r| r.recording.id).collect::<Vec<_>>(),
        vec![ours]
    );

    // u is as it was: preserved, restricted, readable, trail unchanged.
    assert_eq!(env.audit_entries(u).await, trail_u);
    let views = lab
        .svc
        .subject_recordings(u, vec![theirs])
        .await
        .expect("get in u");
    assert!(views[0].restricted);
    lab.set_clock(days(31));
    let run = lab.run(u).await;
    assert!(run.deleted.is_empty());
    assert_eq!(run.held_by_request.len(), 1);
    lab.assert_readable(u, theirs).await;
}

on_both_backends!(
    disclosure_steps_land_in_the_tenants_audit_chain,
    disclosure_evidence_is_signed_with_the_tenants_manifest_key,
    certificates_signed_before_version_2_still_verify,
    machine_calls_refuse_unknown_and_offboarded_tenants,
    machine_calls_never_reach_another_tenants_recordings,
);
