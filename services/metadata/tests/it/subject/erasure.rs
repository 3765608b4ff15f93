//! An erasure request carried out: held and statutory recordings kept
//! (restricted), the rest crypto-shredded under a certificate naming the
//! request; calling again reports the same and finishes what a failure
//! left.

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_contracts::lifecycle_api::{Access, AuditAction, DeletionReason, HoldScope};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::subject::{RetainedBecause, RetainedRecording};
use callvault_contracts::{RecordingId, Role};
use chrono::Duration;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{E164, OTHER, call, days, statutory_rule};
use crate::deletion::lab::{Lab, catalogued, failing_storage};
use crate::support::{Env, at, code, member};

fn verifies(public_key: &str, body: &str, signature: &str) -> bool {
    let public = BASE64.decode(public_key).expect("public key base64");
    let signature = BASE64.decode(signature).expect("signature base64");
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(body.as_bytes(), &signature)
        .is_ok()
}

async fn erasure_keeps_held_and_statutory_recordings_and_shreds_the_rest(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let t = lab.tenant(bpo, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);
    let handler = member(Role::ComplianceOfficer, t);
    let rule = lab
        .svc
        .create_retention_rule(&officer, t, statutory_rule())
        .await
        .expect("statutory rule");
    let held = lab.record(&env, call(t, 0, E164, OTHER)).await;
    let mut trading = call(t, 100, E164, OTHER);
    trading.call.queue = Some("trading".into());
    let statutory = lab.record(&env, trading).await;
    let first = lab.record(&env, call(t, 200, E164, OTHER)).await;
    let second = lab.record(&env, call(t, 300, OTHER, E164)).await;
    let hold = lab
        .hold(&officer, t, HoldScope::Recordings { ids: vec![held] })
        .await;
    let request = Uuid::new_v4();
    // The request preserved them while it was open: that doesn't stop its
    // own erasure.
    let all = vec![held, statutory, first, second];
    lab.svc
        .preserve_for_request(t, request, all.clone())
        .await
        .expect("preserve");
    // An unknown id refuses the call before anything is done.
    let outcome = lab
        .svc
        .erase_for_request(&handler, t, request, vec![first, RecordingId::new()])
        .await;
    assert_eq!(code(outcome), ErrorCode::NotFound);
    lab.assert_readable(t, first).await;

    lab.set_clock(days(1));
    let result = lab
        .svc
        .erase_for_request(&handler, t, request, all.clone())
        .await
        .expect("erase");
    assert_eq!(result.erased, vec![first, second]);
    let retention = match &result.retained[1].because {
        RetainedBecause::Statutory { retention } => retention.clone(),
        other => panic!("statutory expected, got {other:?}"),
    };
    assert_eq!(retention.rule_id, rule.id);
    assert_eq!(Some(retention.legal_basis.clone()), rule.legal_basis);
    assert_eq!(
        result.retained,
        vec![
            RetainedRecording {
                recording_id: held,
                because: RetainedBecause::LegalHold {
                    holds: vec![hold.id]
                },
                retain_until: days(30),
            },
            RetainedRecording {
                recording_id: statutory,
                because: RetainedBecause::Statutory { retention },
                retain_until: at(100) + Duration::days(3650),
            },
        ]
    );
    lab.assert_shredded(t, first).await;
    lab.assert_shredded(t, second).await;
    lab.assert_readable(t, held).await;
    lab.assert_readable(t, statutory).await;
    assert!(!catalogued(&lab.svc, t, first).await);

    // The certificate names the request, signed.
    let certificate_id = result.certificate_id.expect("a certificate");
    let certificates = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("certificates");
    assert_eq!(certificates.len(), 1);
    let certificate = &certificates[0];
    assert_eq!(certificate.id, certificate_id);
    assert_eq!(certificate.request_id, Some(request));
    assert_eq!(certificate.held_back, vec![]);
    let mut deleted: Vec<RecordingId> =
        certificate.deleted.iter().map(|t| t.recording_id).collect();
    deleted.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(deleted, expected);
    for tombstone in &certificate.deleted {
        assert_eq!(tombstone.reason, DeletionReason::Erasure);
        assert_eq!(tombstone.deleted_by, handler.subject);
        assert!(tombstone.policy.contains(&request.to_string()));
    }
    let body = certificate.body.as_deref().expect("signed");
    let public = lab.svc.manifest_public_key(t).await.expect("key");
    assert!(verifies(
        &public,
        body,
        certificate.signature.as_deref().expect("signed")
    ));
    let content: Value = serde_json::from_str(body).expect("json");
    assert_eq!(content["request_id"], json!(request.to_string()));
    assert_eq!(content["version"], json!(2));
    assert!(
        content["deleted"]
            .as_array()
            .expect("deleted")
            .iter()
            .all(|d| d["reason"] == "erasure")
    );

    // The kept ones are restricted by the request, each an audit entry.
    let kept = lab
        .svc
        .subject_recordings(t, vec![held, statutory])
        .await
        .expect("kept");
    assert!(kept.iter().all(|r| r.restricted));
    let admin = member(Role::TenantAdmin, t);
    let outcome = lab
        .svc
        .authorize_playback(&admin, t, held, Access::Playback, None)
        .await;
    assert_eq!(code(outcome), ErrorCode::RecordingRestricted);
    let restrictions = env.audit_of(t, AuditAction::Disclosure).await;
    let targets: Vec<_> = restrictions
        .iter()
        .map(|e| e.target.clone().unwrap_or_default())
        .collect();
    assert_eq!(targets, vec![held.to_string(), statutory.to_string()]);
    assert!(
        restrictions
            .iter()
            .all(|e| e.details == json!({"request_id": request.to_string(), "restricted": true}))
    );
    let deletions = env.audit_of(t, AuditAction::Deletion).await;
    assert_eq!(deletions.len(), 2);
    assert!(
        deletions
            .iter()
            .all(|e| e.details["request_id"] == json!(request.to_string())
                && e.reason.as_deref() == Some("erasure"))
    );

    // Again: the same answer, nothing more done.
    let trail = env.audit_entries(t).await.len();
    let again = lab
        .svc
        .erase_for_request(&handler, t, request, all.clone())
        .await
        .expect("erase again");
    assert_eq!(again, result);
    assert_eq!(env.count("deletion_certificates").await, 1);
    assert_eq!(env.audit_entries(t).await.len(), trail);

    // Once the hold and the preservation are released and it is due, the
    // retention run deletes the held one; its restriction goes with it.
    lab.svc
        .release_hold(&officer, t, hold.id, "case closed".into())
        .await
        .expect("release");
    // The request closed: it preserves nothing any more.
    lab.svc
        .preserve_for_request(t, request, Vec::new())
        .await
        .expect("release the preservation");
    lab.set_clock(days(31));
    let run = lab.run(t).await;
    assert_eq!(
        run.deleted
            .iter()
            .map(|t| t.recording_id)
            .collect::<Vec<_>>(),
        vec![held]
    );
    assert_eq!(env.count("recording_restrictions").await, 1);
    let auditor = member(Role::Auditor, t);
    let verified = lab
        .svc
        .verify_audit_chain(&auditor, t, &[])
        .await
        .expect("verify");
    assert_eq!(verified.first_bad_seq, None);
}

async fn an_interrupted_erasure_is_finished_by_calling_again(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let handler = member(Role::ComplianceOfficer, t);
    let first = lab.record(&env, call(t, 0, E164, OTHER)).await;
    let second = lab.record(&env, call(t, 100, E164, OTHER)).await;
    let request = Uuid::new_v4();
    lab.set_clock(days(1));

    // Storage is down: nothing is shredded, the call says to retry.
    let down = lab.service(Some(failing_storage().await));
    let outcome = down
        .erase_for_request(&handler, t, request, vec![first, second])
        .await;
    assert_eq!(code(outcome), ErrorCode::Unavailable);
    lab.assert_readable(t, first).await;
    // Right after, the failed shreds' claims still stand: retry later.
    let outcome = lab
        .svc
        .erase_for_request(&handler, t, request, vec![first, second])
        .await;
    assert_eq!(code(outcome), ErrorCode::Unavailable);

    // Once the claims are stale, calling again finishes the job.
    lab.set_clock(days(1) + Duration::hours(2));
    let outcome = lab
        .svc
        .erase_for_request(&handler, t, request, vec![first, second])
        .await
        .expect("erase");
    assert_eq!(outcome.erased, vec![first, second]);
    assert!(outcome.retained.is_empty());
    lab.assert_shredded(t, first).await;
    lab.assert_shredded(t, second).await;
    let certificate = outcome.certificate_id.expect("certificate");
    let again = lab
        .svc
        .erase_for_request(&handler, t, request, vec![second, first])
        .await
        .expect("again");
    assert_eq!(again.erased, vec![second, first]);
    assert_eq!(again.certificate_id, Some(certificate));
    // A recording already deleted otherwise (here: by a user) is reported
    // erased too: nothing of it is left.
    let third = lab.record(&env, call(t, 200, E164, OTHER)).await;
    lab.svc
        .delete_recording(
            &handler,
            t,
            third,
            DeletionReason::UserRequest,
            "dup".into(),
        )
        .await
        .expect("delete");
    let outcome = lab
        .svc
        .erase_for_request(&handler, t, Uuid::new_v4(), vec![third])
        .await
        .expect("erase");
    assert_eq!(outcome.erased, vec![third]);
    assert_eq!(outcome.certificate_id, None);
}

on_both_backends!(
    erasure_keeps_held_and_statutory_recordings_and_shreds_the_rest,
    an_interrupted_erasure_is_finished_by_calling_again,
);
