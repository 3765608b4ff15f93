//! Deletion: the retention run, user and erasure deletes and the worker,
//! shredding through the real storage service; tombstones, certificates,
//! holds that block, failures that retry, claims, isolation and roles.

pub mod lab;

use std::collections::BTreeSet;

use callvault_contracts::lifecycle_api::{AuditAction, DeletionReason, HoldScope, NewLegalHold};
use callvault_contracts::metadata_api::{ErrorCode, RecordingFilter};
use callvault_contracts::{Actor, RecordingId, Role, TenantId};
use chrono::Duration;
use sea_orm::ConnectionTrait;

use self::lab::{Lab, catalogued, deleted_ids, failing_storage, sorted};
use crate::support::{Env, at, bpo_admin, code, event, member, platform};

fn days(n: i64) -> chrono::DateTime<chrono::Utc> {
    at(0) + Duration::days(n)
}

async fn delete(
    lab: &Lab,
    actor: &Actor,
    tenant: TenantId,
    id: RecordingId,
    reason: DeletionReason,
    note: &str,
) -> callvault_contracts::metadata_api::ApiResult<
    callvault_contracts::lifecycle_api::DeletionCertificate,
> {
    lab.svc
        .delete_recording(actor, tenant, id, reason, note.to_string())
        .await
}

async fn retention_run_shreds_due_recordings_except_held(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);
    let mut tagged = event(t, 0);
    tagged.call.tags = vec!["vip".into()];
    let r1 = lab.record(&env, tagged).await;
    let r2 = lab.record(&env, event(t, 100)).await;
    let r3 = lab.record(&env, event(t, 200)).await;
    // Started on day 10: due on day 40.
    let fresh = lab.record(&env, event(t, 10 * 86_400)).await;
    let hold = lab
        .hold(&officer, t, HoldScope::Recordings { ids: vec![r2] })
        .await;

    lab.set_clock(days(31));
    let cert = lab.run(t).await;
    assert_eq!(cert.tenant_id, t);
    assert_eq!(deleted_ids(&cert), sorted(vec![r1, r3]));
    assert_eq!(cert.held_back, vec![r2]);
    assert!(cert.failed.is_empty());
    assert_eq!((cert.started_at, cert.finished_at), (days(31), days(31)));
    for tombstone in &cert.deleted {
        assert_eq!(tombstone.tenant_id, t);
        assert_eq!(tombstone.reason, DeletionReason::Retention);
        assert_eq!(tombstone.policy, "tenant default (30 days)");
        assert_eq!(tombstone.deleted_by, officer.subject);
        assert_eq!(tombstone.deleted_at, days(31));
    }

    // The bytes are gone for good; the catalogue entry and its tags too.
    lab.assert_shredded(t, r1).await;
    lab.assert_shredded(t, r3).await;
    lab.assert_readable(t, r2).await;
    lab.assert_readable(t, fresh).await;
    let admin = member(Role::TenantAdmin, t);
    assert_eq!(
        code(lab.svc.get_recording(&admin, t, r1).await),
        ErrorCode::NotFound
    );
    assert!(!catalogued(&lab.svc, t, r3).await);
    assert!(catalogued(&lab.svc, t, r2).await);
    assert!(catalogued(&lab.svc, t, fresh).await);
    assert_eq!(
        lab.rows_for("recording_tags", "recording_id", r1.0).await,
        0
    );

    // The tombstones hold no personal data: no numbers, agent, queue, tags.
    let rows = env
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            env.db.get_database_backend(),
            "SELECT * FROM recording_tombstones",
        ))
        .await
        .expect("tombstones");
    assert_eq!(rows.len(), 2);
    let columns: BTreeSet<String> = rows[0].column_names().into_iter().collect();
    let expected: BTreeSet<String> = [
        "tenant_id",
        "recording_id",
        "ingested_at",
        "sha256",
        "deleted_at",
        "reason",
        "policy",
        "deleted_by",
        "certificate_id",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(columns, expected);

    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("certificates");
    assert_eq!(listed, vec![cert.clone()]);

    // Each deletion is in the audit trail with its certificate and policy.
    let trail = lab
        .svc
        .audit_trail(&officer, t, None, 100)
        .await
        .expect("audit trail");
    let mut targets = Vec::new();
    for entry in trail
        .items
        .iter()
        .filter(|e| e.action == AuditAction::Deletion)
    {
        assert_eq!(entry.actor, officer.subject);
        assert_eq!(entry.reason.as_deref(), Some("retention"));
        assert_eq!(entry.details["policy"], "tenant default (30 days)");
        assert_eq!(entry.details["certificate_id"], cert.id.to_string());
        targets.push(entry.target.clone().expect("target"));
    }
    targets.sort();
    let mut expected_targets = vec![r1.to_string(), r3.to_string()];
    expected_targets.sort();
    assert_eq!(targets, expected_targets);

    // Nothing new is due; the held one stays held until released.
    lab.set_clock(days(31) + Duration::minutes(1));
    let again = lab.run(t).await;
    assert!(again.deleted.is_empty());
    assert_eq!(again.held_back, vec![r2]);
    lab.svc
        .release_hold(&officer, t, hold.id, "case closed".into())
        .await
        .expect("release");
    lab.set_clock(days(31) + Duration::minutes(2));
    let last = lab.run(t).await;
    assert_eq!(deleted_ids(&last), vec![r2]);
    assert!(last.held_back.is_empty());
    lab.assert_shredded(t, r2).await;
    lab.assert_readable(t, fresh).await;
    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("certificates");
    assert_eq!(listed, vec![last, again, cert], "newest first");
}

async fn user_and_erasure_deletes_shred_one_recording(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let admin = member(Role::TenantAdmin, t);
    let officer = member(Role::ComplianceOfficer, t);
    let r1 = lab.record(&env, event(t, 0)).await;
    let r2 = lab.record(&env, event(t, 100)).await;

    // Bad input changes nothing.
    for (reason, note) in [
        (DeletionReason::Retention, "the worker's job"),
        (DeletionReason::UserRequest, "   "),
        (DeletionReason::UserRequest, &"x".repeat(2001)),
        (DeletionReason::Erasure, "bell \u{7}"),
    ] {
        assert_eq!(
            code(delete(&lab, &admin, t, r1, reason, note).await),
            ErrorCode::InvalidInput,
            "{reason:?} {note:?}"
        );
    }
    assert_eq!(
        code(
            delete(
                &lab,
                &admin,
                t,
                RecordingId::new(),
                DeletionReason::UserRequest,
                "n"
            )
            .await
        ),
        ErrorCode::NotFound
    );
    assert!(catalogued(&lab.svc, t, r1).await);
    lab.assert_readable(t, r1).await;
    assert_eq!(env.count("recording_tombstones").await, 0);
    assert_eq!(env.count("deletion_certificates").await, 0);

    let note = "customer asked on the phone, ticket 991";
    let cert = delete(&lab, &admin, t, r1, DeletionReason::UserRequest, note)
        .await
        .expect("user delete");
    assert_eq!(deleted_ids(&cert), vec![r1]);
    assert!(cert.held_back.is_empty() && cert.failed.is_empty());
    let tombstone = &cert.deleted[0];
    assert_eq!(tombstone.reason, DeletionReason::UserRequest);
    assert_eq!(tombstone.policy, note);
    assert_eq!(tombstone.deleted_by, admin.subject);
    lab.assert_shredded(t, r1).await;
    assert!(!catalogued(&lab.svc, t, r1).await);
    lab.assert_readable(t, r2).await;

    let erased = delete(
        &lab,
        &officer,
        t,
        r2,
        DeletionReason::Erasure,
        "GDPR art. 17 #12",
    )
    .await
    .expect("erasure");
    assert_eq!(deleted_ids(&erased), vec![r2]);
    assert_eq!(erased.deleted[0].reason, DeletionReason::Erasure);
    lab.assert_shredded(t, r2).await;

    // Deleted is deleted: a second request finds nothing.
    assert_eq!(
        code(delete(&lab, &admin, t, r1, DeletionReason::UserRequest, "again").await),
        ErrorCode::NotFound
    );
    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("certificates");
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&cert) && listed.contains(&erased));
}

async fn deleting_a_held_recording_is_a_conflict(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let admin = member(Role::TenantAdmin, t);
    let r1 = lab.record(&env, event(t, 0)).await;
    let mut support = event(t, 100);
    support.call.queue = Some("support".into());
    let r2 = lab.record(&env, support).await;
    lab.hold(&admin, t, HoldScope::Recordings { ids: vec![r1] })
        .await;
    let by_queue = RecordingFilter {
        queue: Some("support".into()),
        ..Default::default()
    };
    lab.hold(&admin, t, HoldScope::Filter { filter: by_queue })
        .await;

    for id in [r1, r2] {
        let err = delete(&lab, &admin, t, id, DeletionReason::Erasure, "erase me")
            .await
            .expect_err("held");
        assert_eq!(err.code, ErrorCode::Conflict);
        assert_eq!(err.message, "recording is under legal hold");
        assert!(catalogued(&lab.svc, t, id).await);
        lab.assert_readable(t, id).await;
    }
    assert_eq!(env.count("recording_tombstones").await, 0);
    assert_eq!(env.count("deletion_certificates").await, 0);
    // The refused claim was rolled back: the recordings are not "being
    // deleted", so another hold on them is accepted.
    lab.hold(&admin, t, HoldScope::Recordings { ids: vec![r1, r2] })
        .await;
}

async fn a_failed_shred_keeps_the_recording_for_the_next_run(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);
    let r1 = lab.record(&env, event(t, 0)).await;
    let r2 = lab.record(&env, event(t, 100)).await;
    lab.set_clock(days(31));

    let failing = lab.service(Some(failing_storage().await));
    let cert = failing.run_deletion(&officer, t).await.expect("run");
    assert!(cert.deleted.is_empty());
    assert!(cert.held_back.is_empty());
    assert_eq!(sorted(cert.failed.clone()), sorted(vec![r1, r2]));
    for id in [r1, r2] {
        assert!(catalogued(&lab.svc, t, id).await);
        lab.assert_readable(t, id).await;
    }
    assert_eq!(env.count("recording_tombstones").await, 0);

    // The claims are kept (storage may still be shredding): a hold is
    // refused, and so is another deletion until the claims go stale.
    let err = lab
        .svc
        .place_hold(
            &officer,
            t,
            NewLegalHold {
                case_name: "Case 42".into(),
                reason: "litigation".into(),
                scope: HoldScope::Recordings { ids: vec![r1] },
            },
        )
        .await
        .expect_err("being deleted");
    assert_eq!(err.code, ErrorCode::Conflict);
    assert_eq!(
        code(
            failing
                .delete_recording(&officer, t, r1, DeletionReason::Erasure, "n".into())
                .await
        ),
        ErrorCode::Conflict
    );
    // Before they are stale, a run leaves them alone.
    lab.set_clock(days(31) + Duration::minutes(59));
    let early = lab.run(t).await;
    assert!(early.deleted.is_empty() && early.failed.is_empty());
    lab.assert_readable(t, r1).await;

    // Stale, a deletion takes r1's claim over; storage still down, it
    // fails again and keeps the new claim.
    lab.set_clock(days(31) + Duration::minutes(61));
    let err = failing
        .delete_recording(&officer, t, r1, DeletionReason::Erasure, "n".into())
        .await
        .expect_err("storage down");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert!(catalogued(&lab.svc, t, r1).await);

    // Once both claims are stale, the next run, storage healthy, deletes
    // both.
    lab.set_clock(days(31) + Duration::minutes(123));
    let next = lab.run(t).await;
    assert_eq!(deleted_ids(&next), sorted(vec![r1, r2]));
    assert!(next.failed.is_empty());
    lab.assert_shredded(t, r1).await;
    lab.assert_shredded(t, r2).await;
    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("certificates");
    assert_eq!(listed, vec![next, early, cert]);

    // Without a storage service there is no deletion at all.
    let r3 = lab.record(&env, event(t, 200)).await;
    let blind = lab.service(None);
    assert_eq!(
        code(blind.run_deletion(&officer, t).await),
        ErrorCode::Unavailable
    );
    assert_eq!(
        code(
            blind
                .delete_recording(&officer, t, r3, DeletionReason::Erasure, "n".into())
                .await
        ),
        ErrorCode::Unavailable
    );
    assert!(catalogued(&lab.svc, t, r3).await);
}

async fn claims_in_progress_are_left_alone_and_stale_ones_taken_over(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);
    let crashed = lab.record(&env, event(t, 0)).await;
    let busy = lab.record(&env, event(t, 100)).await;
    lab.set_clock(days(31));
    lab.claim(t, crashed, days(31) - Duration::hours(2)).await;
    lab.claim(t, busy, days(31) - Duration::minutes(10)).await;

    // A hold can't be placed on a recording being deleted.
    let err = lab
        .svc
        .place_hold(
            &officer,
            t,
            NewLegalHold {
                case_name: "late".into(),
                reason: "too late".into(),
                scope: HoldScope::Recordings { ids: vec![busy] },
            },
        )
        .await
        .expect_err("being deleted");
    assert_eq!(err.code, ErrorCode::Conflict);
    assert_eq!(env.count("legal_holds").await, 0);

    let cert = lab.run(t).await;
    assert_eq!(deleted_ids(&cert), vec![crashed]);
    assert!(cert.held_back.is_empty() && cert.failed.is_empty());
    lab.assert_shredded(t, crashed).await;
    assert!(catalogued(&lab.svc, t, busy).await);
    lab.assert_readable(t, busy).await;
    // Nor can a user delete it under the other worker's feet.
    assert_eq!(
        code(delete(&lab, &officer, t, busy, DeletionReason::Erasure, "n").await),
        ErrorCode::Conflict
    );
}

async fn another_tenant_cannot_delete_or_list_certificates(env: Env) {
    let lab = Lab::new(&env).await;
    let x = env.bpo("bpo x").await;
    let a = lab.tenant(x, "a").await;
    let b = lab.tenant(x, "b").await;
    let ra = lab.record(&env, event(a, 0)).await;
    let own = lab.record(&env, event(a, 50)).await;
    lab.set_clock(days(31));
    let admin_a = member(Role::TenantAdmin, a);
    let cert_a = delete(&lab, &admin_a, a, own, DeletionReason::UserRequest, "own")
        .await
        .expect("own delete");

    for role in [Role::TenantAdmin, Role::ComplianceOfficer] {
        let other = member(role, b);
        assert_eq!(
            code(delete(&lab, &other, a, ra, DeletionReason::Erasure, "n").await),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(delete(&lab, &other, b, ra, DeletionReason::Erasure, "n").await),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(lab.svc.run_deletion(&other, a).await),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(lab.svc.list_deletion_certificates(&other, a).await),
            ErrorCode::Forbidden
        );
    }
    // B's own run touches nothing of A's.
    let cert_b = lab.run(b).await;
    assert!(cert_b.deleted.is_empty() && cert_b.held_back.is_empty());
    assert!(catalogued(&lab.svc, a, ra).await);
    lab.assert_readable(a, ra).await;
    let officer_b = member(Role::ComplianceOfficer, b);
    let listed_b = lab
        .svc
        .list_deletion_certificates(&officer_b, b)
        .await
        .expect("b certificates");
    assert_eq!(listed_b, vec![cert_b]);
    let officer_a = member(Role::ComplianceOfficer, a);
    let listed_a = lab
        .svc
        .list_deletion_certificates(&officer_a, a)
        .await
        .expect("a certificates");
    assert_eq!(listed_a, vec![cert_a]);
}

async fn only_tenant_admins_and_compliance_officers_delete(env: Env) {
    let lab = Lab::new(&env).await;
    let x = env.bpo("bpo x").await;
    let t = lab.tenant(x, "acme").await;
    let r = lab.record(&env, event(t, 0)).await;
    lab.set_clock(days(31));
    let refused = [
        platform(),
        bpo_admin(x),
        member(Role::Supervisor, t),
        member(Role::Agent, t),
        member(Role::Auditor, t),
    ];
    for actor in &refused {
        assert_eq!(
            code(delete(&lab, actor, t, r, DeletionReason::UserRequest, "n").await),
            ErrorCode::Forbidden,
            "{:?}",
            actor.role
        );
        assert_eq!(
            code(lab.svc.run_deletion(actor, t).await),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(lab.svc.list_deletion_certificates(actor, t).await),
            ErrorCode::Forbidden
        );
    }
    assert!(catalogued(&lab.svc, t, r).await);
    lab.assert_readable(t, r).await;
    assert_eq!(env.count("deletion_certificates").await, 0);

    let admin = member(Role::TenantAdmin, t);
    let cert = lab.svc.run_deletion(&admin, t).await.expect("admin run");
    assert_eq!(deleted_ids(&cert), vec![r]);
    let officer = member(Role::ComplianceOfficer, t);
    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("officer lists");
    assert_eq!(listed, vec![cert]);
}

async fn the_worker_runs_every_tenant_with_due_recordings(env: Env) {
    let lab = Lab::new(&env).await;
    let x = env.bpo("bpo x").await;
    let y = env.bpo("bpo y").await;
    let a = lab.tenant(x, "a").await;
    let b = lab.tenant(x, "b").await;
    let c = lab.tenant(y, "c").await;
    let ra1 = lab.record(&env, event(a, 0)).await;
    let ra2 = lab.record(&env, event(a, 100)).await;
    let rb = lab.record(&env, event(b, 0)).await;
    let rc = lab.record(&env, event(c, 10 * 86_400)).await;
    lab.hold(
        &member(Role::ComplianceOfficer, a),
        a,
        HoldScope::Recordings { ids: vec![ra2] },
    )
    .await;
    lab.set_clock(days(31));

    let results = lab.svc.run_due_deletions().await;
    let tenants: Vec<TenantId> = results.iter().map(|(t, _)| *t).collect();
    let mut expected = vec![a, b];
    expected.sort();
    let mut got = tenants.clone();
    got.sort();
    assert_eq!(got, expected, "only tenants with due recordings run");
    for (tenant, result) in results {
        let cert = result.expect("worker run");
        assert_eq!(cert.tenant_id, tenant);
        for tombstone in &cert.deleted {
            assert_eq!(tombstone.deleted_by, "system:retention");
            assert_eq!(tombstone.reason, DeletionReason::Retention);
        }
        if tenant == a {
            assert_eq!(deleted_ids(&cert), vec![ra1]);
            assert_eq!(cert.held_back, vec![ra2]);
        } else {
            assert_eq!(deleted_ids(&cert), vec![rb]);
        }
    }
    lab.assert_shredded(a, ra1).await;
    lab.assert_shredded(b, rb).await;
    lab.assert_readable(a, ra2).await;
    lab.assert_readable(c, rc).await;
    let officer_c = member(Role::ComplianceOfficer, c);
    let listed_c = lab
        .svc
        .list_deletion_certificates(&officer_c, c)
        .await
        .expect("c certificates");
    assert!(listed_c.is_empty(), "nothing due, no run, no certificate");
    let officer_a = member(Role::ComplianceOfficer, a);
    let trail = lab
        .svc
        .audit_trail(&officer_a, a, None, 100)
        .await
        .expect("audit trail");
    let deletion = trail
        .items
        .iter()
        .find(|e| e.action == AuditAction::Deletion)
        .expect("deletion audited");
    assert_eq!(deletion.actor, "system:retention");
    assert_eq!(deletion.target, Some(ra1.to_string()));

    // Next tick: only A still has a due (held) recording.
    lab.set_clock(days(31) + Duration::minutes(10));
    let again = lab.svc.run_due_deletions().await;
    assert_eq!(again.len(), 1);
    let (tenant, result) = &again[0];
    assert_eq!(*tenant, a);
    let cert = result.as_ref().expect("run");
    assert!(cert.deleted.is_empty());
    assert_eq!(cert.held_back, vec![ra2]);
    // …but the timer doesn't certify the same hold again every tick: only
    // the first run's certificate is stored.
    let listed_a = lab
        .svc
        .list_deletion_certificates(&officer_a, a)
        .await
        .expect("a certificates");
    assert_eq!(listed_a.len(), 1);
    assert_eq!(deleted_ids(&listed_a[0]), vec![ra1]);
}

on_both_backends!(
    retention_run_shreds_due_recordings_except_held,
    user_and_erasure_deletes_shred_one_recording,
    deleting_a_held_recording_is_a_conflict,
    a_failed_shred_keeps_the_recording_for_the_next_run,
    claims_in_progress_are_left_alone_and_stale_ones_taken_over,
    another_tenant_cannot_delete_or_list_certificates,
    only_tenant_admins_and_compliance_officers_delete,
    the_worker_runs_every_tenant_with_due_recordings,
);
