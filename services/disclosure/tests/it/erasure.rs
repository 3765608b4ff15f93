//! What a request does to recordings through the metadata service:
//! preservation while it is open, erasure (with what the law keeps) and
//! restriction.

use callvault_contracts::Role;
use callvault_contracts::disclosure_api::{DisclosureRequest, Regime, RequestKind, RequestState};
use callvault_contracts::lifecycle_api::{
    Access, DeletionReason, HoldScope, NewLegalHold, NewRetentionRule, RetentionMatch,
};
use callvault_contracts::metadata_api::{ApiResult, ErrorCode, Recording, Tenant};
use callvault_contracts::ops::disclosure::{
    ApproveRequest, DeliverRequest, LiftRestriction, WithdrawRequest,
};
use callvault_contracts::ops::lifecycle::{
    AuthorizePlayback, CreateRetentionRule, ListDeletionCertificates, PlaceHold, RunDeletion,
};
use callvault_contracts::ops::subject::RetainedBecause;
use callvault_contracts::{RecordingId, TenantId};
use callvault_storage::StorageError;
use chrono::Duration;
use uuid::Uuid;

use crate::lab::{Call, Lab, approver, code, member, officer};
use crate::steps::{identity, submit};

on_both_backends!(
    an_open_request_preserves_a_due_call_until_it_ends,
    erasure_shreds_what_it_may_and_lists_what_the_law_keeps,
    restriction_refuses_playback_but_to_compliance_with_a_reason,
);

async fn run_deletion(
    lab: &Lab,
    tenant: TenantId,
) -> callvault_contracts::lifecycle_api::DeletionCertificate {
    lab.rpc
        .call(RunDeletion {
            actor: officer(tenant),
            tenant,
        })
        .await
        .expect("deletion run")
}

async fn shredded(lab: &Lab, tenant: TenantId, id: RecordingId) -> bool {
    matches!(
        lab.store.read(tenant, id, None).await,
        Err(StorageError::Shredded { .. })
    )
}

/// Verified, reviewed by the officer, approved by the approver, delivered.
async fn through_to_delivery(lab: &Lab, tenant: &Tenant, request: Uuid) -> DisclosureRequest {
    identity(lab, tenant.id, request, true).await;
    submit(lab, officer(tenant.id), tenant.id, request).await;
    lab.rpc
        .call(ApproveRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request,
        })
        .await
        .expect("approved");
    lab.rpc
        .call(DeliverRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request,
        })
        .await
        .expect("delivered")
}

async fn play(
    lab: &Lab,
    role: Role,
    tenant: TenantId,
    id: RecordingId,
    reason: Option<&str>,
) -> ApiResult<Recording> {
    lab.rpc
        .call(AuthorizePlayback {
            actor: member(role, tenant, "player"),
            tenant,
            recording: id,
            access: Access::Playback,
            reason: reason.map(str::to_owned),
        })
        .await
}

async fn an_open_request_preserves_a_due_call_until_it_ends(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    // Kept 365 days: due in twelve hours.
    let due = lab
        .record(
            &tenant,
            Call::from_subject(lab.now() - Duration::days(365) + Duration::hours(12)),
        )
        .await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    lab.set_clock(lab.now() + Duration::days(1));
    let certificate = run_deletion(lab, tenant.id).await;
    assert!(certificate.deleted.is_empty());
    assert_eq!(certificate.held_by_request.len(), 1);
    assert_eq!(certificate.held_by_request[0].recording_id, due);
    assert_eq!(certificate.held_by_request[0].request_id, request.id);
    assert!(!shredded(lab, tenant.id, due).await);

    let withdrawn = lab
        .rpc
        .call(WithdrawRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            reason: "withdrawn by the requester".into(),
        })
        .await
        .expect("withdrawn");
    assert_eq!(withdrawn.state, RequestState::Withdrawn);
    let certificate = run_deletion(lab, tenant.id).await;
    assert_eq!(certificate.deleted.len(), 1);
    assert!(shredded(lab, tenant.id, due).await);
}

async fn erasure_shreds_what_it_may_and_lists_what_the_law_keeps(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let rule = lab
        .rpc
        .call(CreateRetentionRule {
            actor: officer(tenant.id),
            tenant: tenant.id,
            rule: NewRetentionRule {
                name: "securities orders".into(),
                matches: RetentionMatch {
                    queue: Some("trading".into()),
                    ..RetentionMatch::default()
                },
                retention_days: 3650,
                overriding: true,
                legal_basis: Some("FIEA record-keeping duty".into()),
            },
        })
        .await
        .expect("statutory rule");
    let erasable = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(20)))
        .await;
    let also_erasable = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(15)))
        .await;
    let held = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(10)))
        .await;
    let mut trading = Call::from_subject(lab.now() - Duration::days(5));
    trading.queue = "trading";
    let statutory = lab.record(&tenant, trading).await;
    let hold = lab
        .rpc
        .call(PlaceHold {
            actor: officer(tenant.id),
            tenant: tenant.id,
            hold: NewLegalHold {
                case_name: "Case 7".into(),
                reason: "litigation".into(),
                scope: HoldScope::Recordings { ids: vec![held] },
            },
        })
        .await
        .expect("hold");

    let request = lab
        .request(&tenant, RequestKind::Erasure, Regime::Gdpr)
        .await;
    let delivered = through_to_delivery(lab, &tenant, request.id).await;
    assert_eq!(delivered.state, RequestState::Delivered);
    let outcome = delivered.erasure.expect("an erasure outcome");
    let mut erased = outcome.erased.clone();
    erased.sort();
    let mut expected = vec![erasable, also_erasable];
    expected.sort();
    assert_eq!(erased, expected);
    assert_eq!(outcome.retained.len(), 2);
    for retained in &outcome.retained {
        match &retained.because {
            RetainedBecause::LegalHold { holds } => {
                assert_eq!(retained.recording_id, held);
                assert_eq!(holds, &vec![hold.id]);
            }
            RetainedBecause::Statutory { retention } => {
                assert_eq!(retained.recording_id, statutory);
                assert_eq!(retention.rule_id, rule.id);
                assert_eq!(retention.legal_basis, "FIEA record-keeping duty");
            }
        }
    }
    for id in [erasable, also_erasable] {
        assert!(shredded(lab, tenant.id, id).await, "{id} shredded");
    }
    for id in [held, statutory] {
        assert!(!shredded(lab, tenant.id, id).await, "{id} kept");
        let refused = play(lab, Role::Supervisor, tenant.id, id, Some("qa")).await;
        assert_eq!(
            code(refused),
            ErrorCode::RecordingRestricted,
            "{id} restricted"
        );
    }
    let certificates = lab
        .rpc
        .call(ListDeletionCertificates {
            actor: officer(tenant.id),
            tenant: tenant.id,
        })
        .await
        .expect("certificates");
    let certificate = certificates
        .iter()
        .find(|c| c.request_id == Some(request.id))
        .expect("a certificate naming the request");
    assert_eq!(certificate.deleted.len(), 2);
    assert!(
        certificate
            .deleted
            .iter()
            .all(|t| t.reason == DeletionReason::Erasure)
    );
}

async fn restriction_refuses_playback_but_to_compliance_with_a_reason(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let call = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(2)))
        .await;
    let request = lab
        .request(&tenant, RequestKind::Restriction, Regime::Gdpr)
        .await;
    assert!(
        play(lab, Role::Supervisor, tenant.id, call, None)
            .await
            .is_ok()
    );
    let delivered = through_to_delivery(lab, &tenant, request.id).await;
    assert!(delivered.restriction_active);
    for role in [Role::Supervisor, Role::TenantAdmin, Role::Agent] {
        let refused = play(lab, role, tenant.id, call, Some("coaching")).await;
        assert_eq!(code(refused), ErrorCode::RecordingRestricted, "{role:?}");
    }
    let no_reason = play(lab, Role::ComplianceOfficer, tenant.id, call, None).await;
    assert!(no_reason.is_err(), "a reason is required");
    play(
        lab,
        Role::ComplianceOfficer,
        tenant.id,
        call,
        Some("the subject's complaint"),
    )
    .await
    .expect("compliance plays with a reason");
    let empty = lab
        .rpc
        .call(LiftRestriction {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            reason: "".into(),
        })
        .await;
    assert_eq!(code(empty), ErrorCode::InvalidInput);
    let lifted = lab
        .rpc
        .call(LiftRestriction {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            reason: "accuracy confirmed".into(),
        })
        .await
        .expect("lifted");
    assert!(!lifted.restriction_active);
    play(lab, Role::Supervisor, tenant.id, call, None)
        .await
        .expect("playable again");
}
