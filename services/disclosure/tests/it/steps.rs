//! The lifecycle: identity checks, out-of-order steps, four eyes, the
//! privacy notice before approval, extensions, refusal and withdrawal —
//! each step in the tenant's audit chain.

use callvault_contracts::Role;
use callvault_contracts::disclosure_api::{
    DisclosureRequest, DisclosureSettings, IdentityMethod, Refusal, RefusalGround, Regime,
    RequestKind, RequestState,
};
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::disclosure::{
    ApproveRequest, AskForIdentity, ExtendDeadline, RecordIdentityAttempt, RefuseRequest,
    ReopenRequest, SendBackRequest, SetDisclosureSettings, SubmitForApproval, WithdrawRequest,
};
use callvault_contracts::ops::lifecycle::{AuditTrail, VerifyAuditChain};
use callvault_contracts::{Actor, TenantId};
use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use crate::lab::{Lab, approver, code, member, officer};

on_both_backends!(
    identity_verified_at_the_second_attempt_moves_to_review,
    three_failed_identity_checks_refuse_and_an_officer_can_reopen,
    steps_out_of_order_are_refused_and_change_nothing,
    the_preparer_cannot_approve_their_own_review,
    approval_needs_the_privacy_notice,
    a_gdpr_deadline_extends_once_within_the_first_month,
    refusal_and_withdrawal_end_an_open_request,
    every_step_is_in_the_audit_chain,
);

pub async fn identity(lab: &Lab, tenant: TenantId, id: Uuid, verified: bool) -> DisclosureRequest {
    lab.rpc
        .call(RecordIdentityAttempt {
            actor: officer(tenant),
            tenant,
            id,
            method: IdentityMethod::CallBack,
            verified,
        })
        .await
        .expect("identity attempt")
}

pub async fn ask(lab: &Lab, tenant: TenantId, id: Uuid) -> DisclosureRequest {
    lab.rpc
        .call(AskForIdentity {
            actor: officer(tenant),
            tenant,
            id,
            reason: None,
        })
        .await
        .expect("asked for identity")
}

pub async fn submit(lab: &Lab, actor: Actor, tenant: TenantId, id: Uuid) -> DisclosureRequest {
    lab.rpc
        .call(SubmitForApproval { actor, tenant, id })
        .await
        .expect("submitted")
}

async fn identity_verified_at_the_second_attempt_moves_to_review(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    ask(lab, tenant.id, request.id).await;
    // The proof arrives five days later: under GDPR the clock stood still.
    lab.set_clock(lab.now() + Duration::days(5));
    let after_first = identity(lab, tenant.id, request.id, false).await;
    assert_eq!(after_first.state, RequestState::AwaitingIdentity);
    let verified = identity(lab, tenant.id, request.id, true).await;
    assert_eq!(verified.state, RequestState::InReview);
    assert_eq!(verified.identity_attempts.len(), 2);
    assert_eq!(verified.deadline.clock_stopped_days, 5);
    assert_eq!(
        verified.deadline.original_due_date,
        NaiveDate::from_ymd_opt(2026, 5, 7).expect("date")
    );
    // 3 May + 5 days = 8 May, a Friday.
    assert_eq!(
        verified.deadline.due_date,
        NaiveDate::from_ymd_opt(2026, 5, 8).expect("date")
    );
}

async fn three_failed_identity_checks_refuse_and_an_officer_can_reopen(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Appi)
        .await;
    ask(lab, tenant.id, request.id).await;
    identity(lab, tenant.id, request.id, false).await;
    identity(lab, tenant.id, request.id, false).await;
    let refused = identity(lab, tenant.id, request.id, false).await;
    assert_eq!(refused.state, RequestState::Refused);
    let refusal = refused.refusal.expect("a refusal");
    assert_eq!(refusal.ground, RefusalGround::IdentityNotVerified);
    assert!(!refusal.complaint_notice.is_empty());
    // A fourth attempt is out of order.
    let result = lab
        .rpc
        .call(RecordIdentityAttempt {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            method: IdentityMethod::IdDocument,
            verified: true,
        })
        .await;
    assert_eq!(code(result), ErrorCode::Conflict);
    let empty_reason = lab
        .rpc
        .call(ReopenRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            reason: " ".into(),
        })
        .await;
    assert_eq!(code(empty_reason), ErrorCode::InvalidInput);
    let reopened = lab
        .rpc
        .call(ReopenRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            reason: "the requester sent a clearer copy".into(),
        })
        .await
        .expect("reopened");
    assert_eq!(reopened.state, RequestState::AwaitingIdentity);
    assert_eq!(reopened.refusal, None);
    let verified = identity(lab, tenant.id, request.id, true).await;
    assert_eq!(verified.state, RequestState::InReview);
}

async fn steps_out_of_order_are_refused_and_change_nothing(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    let approve = lab
        .rpc
        .call(ApproveRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await;
    assert_eq!(code(approve), ErrorCode::Conflict);
    let submit = lab
        .rpc
        .call(SubmitForApproval {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await;
    assert_eq!(code(submit), ErrorCode::Conflict);
    let send_back = lab
        .rpc
        .call(SendBackRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request.id,
            reason: "redo".into(),
        })
        .await;
    assert_eq!(code(send_back), ErrorCode::Conflict);
    let unchanged = lab
        .rpc
        .call(callvault_contracts::ops::disclosure::GetDisclosureRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("read");
    assert_eq!(unchanged.state, RequestState::Received);
    assert_eq!(unchanged.transitions, request.transitions);
    assert_eq!(unchanged.updated_at, request.updated_at);
}

async fn the_preparer_cannot_approve_their_own_review(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let request = lab
        .request(&tenant, RequestKind::Erasure, Regime::Gdpr)
        .await;
    identity(lab, tenant.id, request.id, true).await;
    submit(lab, officer(tenant.id), tenant.id, request.id).await;
    let own = lab
        .rpc
        .call(ApproveRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await;
    assert_eq!(code(own), ErrorCode::Forbidden);
    let approved = lab
        .rpc
        .call(ApproveRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("four eyes");
    assert_eq!(approved.state, RequestState::Approved);
    assert_eq!(
        approved.prepared_by.as_deref(),
        Some(officer(tenant.id).subject.as_str())
    );
    assert_eq!(
        approved.approved_by.as_deref(),
        Some(approver(tenant.id).subject.as_str())
    );
}

async fn approval_needs_the_privacy_notice(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    lab.rpc
        .call(SetDisclosureSettings {
            actor: officer(tenant.id),
            tenant: tenant.id,
            settings: DisclosureSettings::default(),
        })
        .await
        .expect("settings cleared");
    let request = lab
        .request(&tenant, RequestKind::Erasure, Regime::Gdpr)
        .await;
    identity(lab, tenant.id, request.id, true).await;
    submit(lab, officer(tenant.id), tenant.id, request.id).await;
    let result = lab
        .rpc
        .call(ApproveRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await;
    assert_eq!(code(result), ErrorCode::Conflict);
}

async fn a_gdpr_deadline_extends_once_within_the_first_month(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    let extend = |months: u32, reasons: &str| {
        let (rpc, tenant, id, reasons) =
            (lab.rpc.clone(), tenant.id, request.id, reasons.to_owned());
        async move {
            rpc.call(ExtendDeadline {
                actor: officer(tenant),
                tenant,
                id,
                months,
                reasons,
            })
            .await
        }
    };
    assert_eq!(code(extend(3, "too long").await), ErrorCode::InvalidInput);
    assert_eq!(code(extend(2, "").await), ErrorCode::InvalidInput);
    let extended = extend(2, "two hundred recordings to review")
        .await
        .expect("extended");
    assert_eq!(extended.deadline.extended_by_months, Some(2));
    assert_eq!(
        extended.deadline.extension_reasons.as_deref(),
        Some("two hundred recordings to review")
    );
    // 3 May + 2 months = 3 July 2026, a Friday.
    assert_eq!(
        extended.deadline.due_date,
        NaiveDate::from_ymd_opt(2026, 7, 3).expect("date")
    );
    assert_eq!(code(extend(1, "again").await), ErrorCode::InvalidInput);

    // Past the first month, too late.
    let late = lab
        .request(&tenant, RequestKind::Erasure, Regime::Gdpr)
        .await;
    lab.set_clock(lab.now() + Duration::days(40));
    let result = lab
        .rpc
        .call(ExtendDeadline {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: late.id,
            months: 1,
            reasons: "late".into(),
        })
        .await;
    assert_eq!(code(result), ErrorCode::InvalidInput);
    // APPI has no extension.
    let appi = lab
        .request(&tenant, RequestKind::Access, Regime::Appi)
        .await;
    let result = lab
        .rpc
        .call(ExtendDeadline {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: appi.id,
            months: 1,
            reasons: "busy".into(),
        })
        .await;
    assert_eq!(code(result), ErrorCode::InvalidInput);
}

async fn refusal_and_withdrawal_end_an_open_request(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let refused = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    let blank = lab
        .rpc
        .call(RefuseRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: refused.id,
            refusal: Refusal {
                ground: RefusalGround::ManifestlyUnfoundedOrExcessive,
                text: "".into(),
                complaint_notice: "complain".into(),
            },
        })
        .await;
    assert_eq!(code(blank), ErrorCode::InvalidInput);
    let done = lab
        .rpc
        .call(RefuseRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: refused.id,
            refusal: Refusal {
                ground: RefusalGround::ManifestlyUnfoundedOrExcessive,
                text: "This is the fifth identical request this month.".into(),
                complaint_notice: "You may complain to the supervisory authority.".into(),
            },
        })
        .await
        .expect("refused");
    assert_eq!(done.state, RequestState::Refused);
    let withdrawn = lab
        .request(&tenant, RequestKind::Erasure, Regime::Gdpr)
        .await;
    let done = lab
        .rpc
        .call(WithdrawRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: withdrawn.id,
            reason: "the requester withdrew by email".into(),
        })
        .await
        .expect("withdrawn");
    assert_eq!(done.state, RequestState::Withdrawn);
    let again = lab
        .rpc
        .call(WithdrawRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: withdrawn.id,
            reason: "twice".into(),
        })
        .await;
    assert_eq!(code(again), ErrorCode::Conflict);
}

async fn every_step_is_in_the_audit_chain(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let request = lab
        .request(&tenant, RequestKind::Erasure, Regime::Gdpr)
        .await;
    ask(lab, tenant.id, request.id).await;
    identity(lab, tenant.id, request.id, true).await;
    submit(lab, officer(tenant.id), tenant.id, request.id).await;
    let compliance = member(Role::ComplianceOfficer, tenant.id, "reader");
    let trail = lab
        .rpc
        .call(AuditTrail {
            actor: compliance.clone(),
            tenant: tenant.id,
            after_seq: None,
            first: 100,
        })
        .await
        .expect("trail");
    let steps: Vec<_> = trail
        .items
        .iter()
        .filter(|entry| entry.action == AuditAction::Disclosure)
        .filter(|entry| entry.target.as_deref() == Some(request.id.to_string().as_str()))
        .map(|entry| {
            entry.details["step"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            "created",
            "asked_for_identity",
            "identity_attempt",
            "submitted"
        ]
    );
    let verification = lab
        .rpc
        .call(VerifyAuditChain {
            actor: compliance,
            tenant: tenant.id,
            kept_manifests: Vec::new(),
        })
        .await
        .expect("verified");
    assert_eq!(verification.first_bad_seq, None);
}
