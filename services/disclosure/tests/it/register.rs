//! The register and its CSV; the timer's deadline events, once each; the
//! APPI fee; officers adding and removing recordings; bundles shredded
//! after their retention.

use callvault_contracts::disclosure_api::{
    BundleState, DisclosureSettings, Fee, Regime, RequestKind, RequestState,
};
use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::ops::disclosure::{
    AddRequestRecording, ApproveRequest, DeliverRequest, GetDisclosureRegister,
    GetDisclosureRegisterCsv, GetDisclosureRequest, RecordFeePayment, RemoveRequestRecording,
    SetDisclosureSettings, WithdrawRequest,
};
use callvault_contracts::{RecordingId, Role};
use chrono::{Duration, NaiveDate};
use sea_orm::{ConnectionTrait, Statement};

use crate::access::wait_for_bundle;
use crate::lab::{Call, Lab, approver, code, complete_notice, member, officer};
use crate::steps::{identity, submit};

on_both_backends!(
    the_register_lists_every_request_with_its_outcome,
    the_timer_warns_once_before_and_once_after_the_deadline,
    an_appi_fee_must_be_paid_before_delivery,
    officers_add_and_remove_recordings_with_a_reason,
    a_delivered_bundle_is_shredded_after_its_retention,
    a_build_whose_lease_lapsed_is_taken_over_once,
);

async fn topics(lab: &Lab) -> Vec<String> {
    let backend = lab.disclosure_db.get_database_backend();
    let rows = lab
        .disclosure_db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT topic FROM outbox ORDER BY created_at".to_owned(),
        ))
        .await
        .expect("outbox");
    rows.iter()
        .map(|row| row.try_get::<String>("", "topic").expect("topic"))
        .collect()
}

async fn the_register_lists_every_request_with_its_outcome(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let answered = lab
        .request(&tenant, RequestKind::Erasure, Regime::Gdpr)
        .await;
    lab.rpc
        .call(WithdrawRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: answered.id,
            reason: "withdrawn".into(),
        })
        .await
        .expect("withdrawn");
    lab.set_clock(lab.now() + Duration::minutes(5));
    let late = lab
        .request(&tenant, RequestKind::Access, Regime::Appi)
        .await;
    lab.set_clock(lab.now() + Duration::days(30));
    let auditor = member(Role::Auditor, tenant.id, "auditor");
    let from = NaiveDate::from_ymd_opt(2026, 4, 1).expect("date");
    let to = NaiveDate::from_ymd_opt(2026, 4, 30).expect("date");
    let register = lab
        .rpc
        .call(GetDisclosureRegister {
            actor: auditor.clone(),
            tenant: tenant.id,
            from,
            to,
        })
        .await
        .expect("register");
    assert_eq!(register.len(), 2);
    assert!(
        topics(lab).await.contains(&"disclosure.closed".to_owned()),
        "withdrawal closes"
    );
    let first = &register[0];
    assert_eq!(first.request_id, answered.id);
    assert_eq!(first.outcome, "withdrawn");
    assert_eq!(first.on_time, Some(true));
    let second = &register[1];
    assert_eq!(second.request_id, late.id);
    assert_eq!(second.outcome, "open");
    assert_eq!(second.on_time, Some(false), "open past its deadline");
    let csv = lab
        .rpc
        .call(GetDisclosureRegisterCsv {
            actor: auditor.clone(),
            tenant: tenant.id,
            from,
            to,
        })
        .await
        .expect("csv");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "request_id,kind,regime,state,received_at,due_date,extended_by_months,answered_at,outcome,on_time"
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with(&answered.id.to_string()));
    assert!(lines[2].contains(",APPI,RECEIVED,"));
    let backwards = lab
        .rpc
        .call(GetDisclosureRegister {
            actor: auditor,
            tenant: tenant.id,
            from: to,
            to: from,
        })
        .await;
    assert_eq!(code(backwards), ErrorCode::InvalidInput);
}

async fn the_timer_warns_once_before_and_once_after_the_deadline(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    // APPI: due Friday 17 April 2026.
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Appi)
        .await;
    assert_eq!(
        request.deadline.due_date,
        NaiveDate::from_ymd_opt(2026, 4, 17).expect("date")
    );
    assert_eq!(topics(lab).await, vec!["disclosure.request_created"]);
    let report = lab.disclosure.run_timer().await;
    assert_eq!((report.open, report.due_soon_sent), (1, 0));
    // Tuesday 14 April: three working days ahead.
    lab.set_clock(lab.now() + Duration::days(11));
    let report = lab.disclosure.run_timer().await;
    assert_eq!(report.due_soon_sent, 1);
    assert_eq!(lab.disclosure.run_timer().await.due_soon_sent, 0, "once");
    // Saturday 18 April: overdue.
    lab.set_clock(lab.now() + Duration::days(4));
    let report = lab.disclosure.run_timer().await;
    assert_eq!((report.overdue, report.overdue_sent), (1, 1));
    assert_eq!(lab.disclosure.run_timer().await.overdue_sent, 0, "once");
    // A GDPR request extended after its warning is warned about again.
    let gdpr = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    // Received Saturday 18 April, due Monday 18 May; Thursday 14 May is
    // two working days before.
    lab.set_clock(lab.now() + Duration::days(26));
    assert_eq!(lab.disclosure.run_timer().await.due_soon_sent, 1);
    lab.rpc
        .call(callvault_contracts::ops::disclosure::ExtendDeadline {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: gdpr.id,
            months: 1,
            reasons: "many recordings".into(),
        })
        .await
        .expect("extended");
    assert_eq!(
        lab.disclosure.run_timer().await.due_soon_sent,
        0,
        "not due soon any more"
    );
    assert_eq!(
        topics(lab).await,
        vec![
            "disclosure.request_created",
            "disclosure.due_soon",
            "disclosure.overdue",
            "disclosure.request_created",
            "disclosure.due_soon",
        ]
    );
    let metrics = callvault_telemetry::metrics::render();
    assert!(
        metrics.contains("callvault_disclosure_requests_overdue"),
        "{metrics}"
    );
}

async fn an_appi_fee_must_be_paid_before_delivery(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    lab.rpc
        .call(SetDisclosureSettings {
            actor: officer(tenant.id),
            tenant: tenant.id,
            settings: DisclosureSettings {
                privacy: complete_notice(),
                appi_fee: Some(Fee {
                    amount: 1000,
                    currency: "JPY".into(),
                }),
                ..DisclosureSettings::default()
            },
        })
        .await
        .expect("fee published");
    lab.record(&tenant, Call::from_subject(lab.now() - Duration::days(1)))
        .await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Appi)
        .await;
    assert_eq!(request.fee.as_ref().map(|f| f.amount), Some(1000));
    let erasure = lab
        .request(&tenant, RequestKind::Erasure, Regime::Appi)
        .await;
    assert_eq!(erasure.fee, None, "erasure is free");
    identity(lab, tenant.id, request.id, true).await;
    submit(lab, officer(tenant.id), tenant.id, request.id).await;
    lab.rpc
        .call(ApproveRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("approved");
    wait_for_bundle(lab, tenant.id, request.id).await;
    let deliver = || {
        lab.rpc.call(DeliverRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
    };
    assert_eq!(code(deliver().await), ErrorCode::Conflict, "unpaid");
    lab.rpc
        .call(RecordFeePayment {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            paid: true,
        })
        .await
        .expect("paid");
    let delivered = deliver().await.expect("delivered once paid");
    assert_eq!(delivered.state, RequestState::Delivered);
    // Billing counts deliveries from this event.
    let delivered_events = topics(lab).await;
    assert_eq!(
        delivered_events
            .iter()
            .filter(|topic| *topic == "disclosure.delivered")
            .count(),
        1,
        "{delivered_events:?}"
    );
}

async fn officers_add_and_remove_recordings_with_a_reason(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    let matched = lab
        .record(&tenant, Call::from_subject(lab.now() - Duration::days(2)))
        .await;
    let mut from_elsewhere = Call::from_subject(lab.now() - Duration::days(1));
    from_elsewhere.caller = "+81 6 5555 0000";
    let elsewhere = lab.record(&tenant, from_elsewhere).await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    let add = |recording: RecordingId, reason: &str| {
        lab.rpc.call(AddRequestRecording {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            recording,
            reason: reason.to_owned(),
        })
    };
    assert_eq!(code(add(elsewhere, "").await), ErrorCode::InvalidInput);
    assert_eq!(
        code(add(RecordingId::new(), "unknown").await),
        ErrorCode::NotFound
    );
    let added = add(elsewhere, "called from the office line")
        .await
        .expect("added");
    assert_eq!(added.recordings.len(), 2);
    assert_eq!(code(add(elsewhere, "twice").await), ErrorCode::Conflict);
    let removed = lab
        .rpc
        .call(RemoveRequestRecording {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
            recording: matched,
            reason: "another person's call".into(),
        })
        .await
        .expect("removed");
    let entry = removed
        .recordings
        .iter()
        .find(|r| r.recording_id == matched)
        .expect("kept in the list");
    assert!(!entry.included);
    assert_eq!(entry.reason.as_deref(), Some("another person's call"));
}

async fn a_delivered_bundle_is_shredded_after_its_retention(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    lab.record(&tenant, Call::from_subject(lab.now() - Duration::days(1)))
        .await;
    let request = lab
        .request(&tenant, RequestKind::Portability, Regime::Gdpr)
        .await;
    identity(lab, tenant.id, request.id, true).await;
    submit(lab, officer(tenant.id), tenant.id, request.id).await;
    lab.rpc
        .call(ApproveRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("approved");
    let ready = wait_for_bundle(lab, tenant.id, request.id).await;
    let bundle = ready.bundle.expect("bundle");
    lab.rpc
        .call(DeliverRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("delivered");
    lab.set_clock(lab.now() + Duration::days(29));
    assert_eq!(lab.disclosure.run_timer().await.bundles_shredded, 0);
    lab.set_clock(lab.now() + Duration::days(2));
    assert_eq!(lab.disclosure.run_timer().await.bundles_shredded, 1);
    let after = lab
        .rpc
        .call(GetDisclosureRequest {
            actor: officer(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("read");
    assert_eq!(after.bundle.map(|b| b.state), Some(BundleState::Shredded));
    assert!(
        lab.disclosure
            .open_bundle(tenant.id, bundle.id)
            .await
            .is_err()
    );
    assert_eq!(
        files_under(&lab.bundles_dir),
        0,
        "the sealed object is gone"
    );
}

fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() { files_under(&path) } else { 1 }
        })
        .sum()
}

async fn a_build_whose_lease_lapsed_is_taken_over_once(lab: &Lab) {
    let tenant = lab.tenant(lab.bpo().await).await;
    lab.record(&tenant, Call::from_subject(lab.now() - Duration::days(1)))
        .await;
    let request = lab
        .request(&tenant, RequestKind::Access, Regime::Gdpr)
        .await;
    identity(lab, tenant.id, request.id, true).await;
    submit(lab, officer(tenant.id), tenant.id, request.id).await;
    lab.rpc
        .call(ApproveRequest {
            actor: approver(tenant.id),
            tenant: tenant.id,
            id: request.id,
        })
        .await
        .expect("approved");
    let ready = wait_for_bundle(lab, tenant.id, request.id).await;
    let bundle = ready.bundle.expect("bundle");
    // As a process that died mid-build leaves it: still building, its
    // lease held until a time that comes.
    let backend = lab.disclosure_db.get_database_backend();
    let crashed = |until: chrono::DateTime<chrono::Utc>| {
        Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => {
                    "UPDATE disclosure_bundles SET state = 'BUILDING', building_until = $1 WHERE id = $2"
                }
                _ => {
                    "UPDATE disclosure_bundles SET state = 'BUILDING', building_until = ? WHERE id = ?"
                }
            },
            [until.into(), bundle.id.into()],
        )
    };
    lab.disclosure_db
        .execute_raw(crashed(lab.now() + Duration::minutes(10)))
        .await
        .expect("crash");
    assert_eq!(
        lab.disclosure.run_timer().await.bundles_restarted,
        0,
        "lease held"
    );
    lab.disclosure_db
        .execute_raw(crashed(lab.now() - Duration::minutes(1)))
        .await
        .expect("lapse");
    assert_eq!(lab.disclosure.run_timer().await.bundles_restarted, 1);
    assert_eq!(
        lab.disclosure.run_timer().await.bundles_restarted,
        0,
        "taken once"
    );
    let rebuilt = wait_for_bundle(lab, tenant.id, request.id).await;
    assert_eq!(rebuilt.bundle.map(|b| b.id), Some(bundle.id));
    // A failed build is retried once its lease lapsed.
    let failed = Statement::from_sql_and_values(
        backend,
        match backend {
            sea_orm::DbBackend::Postgres => {
                "UPDATE disclosure_bundles SET state = 'FAILED', building_until = $1 WHERE id = $2"
            }
            _ => "UPDATE disclosure_bundles SET state = 'FAILED', building_until = ? WHERE id = ?",
        },
        [(lab.now() - Duration::minutes(1)).into(), bundle.id.into()],
    );
    lab.disclosure_db.execute_raw(failed).await.expect("failed");
    assert_eq!(lab.disclosure.run_timer().await.bundles_restarted, 1);
    wait_for_bundle(lab, tenant.id, request.id).await;
}
