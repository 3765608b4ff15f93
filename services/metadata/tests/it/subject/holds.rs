//! What a data-subject request holds: preserved recordings the retention
//! run keeps (and reports) until released, and restricted recordings
//! nobody plays but a compliance officer with a reason.

use callvault_contracts::lifecycle_api::{Access, AuditAction, DeletionReason, HeldByRequest};
use callvault_contracts::metadata_api::{ErrorCode, PageRequest, RecordingFilter};
use callvault_contracts::{Actor, RecordingId, Role};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{E164, OTHER, call, days};
use crate::deletion::lab::{Lab, catalogued, deleted_ids, sorted};
use crate::support::{Env, agent, bpo_admin, code, member};

async fn preservation_holds_due_recordings_back_until_released(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let t = lab.tenant(bpo, "acme").await;
    let u = lab.tenant(bpo, "other").await;
    let officer = member(Role::ComplianceOfficer, t);
    let kept = lab.record(&env, call(t, 0, E164, OTHER)).await;
    let also_kept = lab.record(&env, call(t, 50, E164, OTHER)).await;
    let due = lab.record(&env, call(t, 100, OTHER, OTHER)).await;
    let theirs = lab.record(&env, call(u, 0, E164, OTHER)).await;
    let (request, second) = (Uuid::new_v4(), Uuid::new_v4());

    lab.svc
        .preserve_for_request(t, request, vec![kept, also_kept, kept])
        .await
        .expect("preserve");
    // Replace semantics: the request now preserves `kept` alone.
    lab.svc
        .preserve_for_request(t, request, vec![kept])
        .await
        .expect("preserve again");
    lab.svc
        .preserve_for_request(t, second, vec![kept])
        .await
        .expect("a second request preserves it too");
    // An unknown id, or another tenant's, refuses the whole list and
    // changes nothing.
    for ids in [vec![due, theirs], vec![RecordingId::new()]] {
        assert_eq!(
            code(lab.svc.preserve_for_request(t, request, ids).await),
            ErrorCode::NotFound
        );
    }

    // Day 31: all three are due; the preserved one is held back and
    // reported with each request preserving it.
    lab.set_clock(days(31));
    let run = lab.run(t).await;
    assert_eq!(deleted_ids(&run), sorted(vec![also_kept, due]));
    let mut held = run.held_by_request.clone();
    held.sort_by_key(|h| h.request_id);
    let mut expected = vec![
        HeldByRequest {
            recording_id: kept,
            request_id: request,
        },
        HeldByRequest {
            recording_id: kept,
            request_id: second,
        },
    ];
    expected.sort_by_key(|h| h.request_id);
    assert_eq!(held, expected);
    assert!(run.held_back.is_empty());
    lab.assert_readable(t, kept).await;
    // The signed body carries it.
    let body: Value = serde_json::from_str(run.body.as_deref().expect("signed")).expect("json");
    assert_eq!(body["version"], 2);
    assert_eq!(body["held_by_request"].as_array().map(Vec::len), Some(2));
    assert!(
        body["held_by_request"].as_array().expect("list").contains(
            &json!({"recording_id": kept.0.to_string(), "request_id": request.to_string()})
        )
    );
    assert!(body.get("request_id").is_none());
    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("certificates");
    assert!(listed.contains(&run));
    // A user can't delete it either.
    let outcome = lab
        .svc
        .delete_recording(
            &officer,
            t,
            kept,
            DeletionReason::UserRequest,
            "tidy".into(),
        )
        .await;
    assert_eq!(code(outcome), ErrorCode::Conflict);

    // Released by one request: the other still preserves it.
    lab.svc
        .preserve_for_request(t, request, Vec::new())
        .await
        .expect("release");
    lab.set_clock(days(32));
    let run = lab.run(t).await;
    assert!(run.deleted.is_empty());
    assert_eq!(
        run.held_by_request,
        vec![HeldByRequest {
            recording_id: kept,
            request_id: second,
        }]
    );
    // Released by both: the first run after deletes it.
    lab.svc
        .preserve_for_request(t, second, Vec::new())
        .await
        .expect("release");
    lab.set_clock(days(33));
    let run = lab.run(t).await;
    assert_eq!(deleted_ids(&run), vec![kept]);
    assert!(run.held_by_request.is_empty());
    lab.assert_shredded(t, kept).await;
    // The other tenant's recording was never touched.
    lab.assert_readable(u, theirs).await;
    assert!(catalogued(&lab.svc, u, theirs).await);
    // Its preservation rows went with it.
    assert_eq!(env.count("request_preservations").await, 0);
}

/// Plays (or downloads) the recording of the actor's tenant as `actor`.
async fn play(
    lab: &Lab,
    actor: &Actor,
    id: RecordingId,
    access: Access,
    reason: Option<&str>,
) -> Result<(), ErrorCode> {
    let tenant = actor.tenant_id.expect("a tenant member");
    lab.svc
        .authorize_playback(actor, tenant, id, access, reason.map(String::from))
        .await
        .map(|_| ())
        .map_err(|err| err.code)
}

async fn restriction_refuses_playback_but_to_a_compliance_officer_with_a_reason(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let t = lab.tenant(bpo, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);
    // Handled by agent-7 (support::event), so the agent may play it.
    let id = lab.record(&env, call(t, 0, E164, OTHER)).await;
    let free = lab.record(&env, call(t, 100, OTHER, OTHER)).await;
    let request = Uuid::new_v4();
    let handler = Actor {
        origin: Some("203.0.113.9".into()),
        ..officer.clone()
    };
    lab.svc
        .restrict_recordings(&handler, t, request, vec![id], true, "art. 18(1)(a)".into())
        .await
        .expect("restrict");
    // Restricting again changes nothing (and writes no second entry).
    lab.svc
        .restrict_recordings(&handler, t, request, vec![id], true, "art. 18(1)(a)".into())
        .await
        .expect("restrict again");

    let players = [
        member(Role::TenantAdmin, t),
        member(Role::Supervisor, t),
        agent(t, "agent-7"),
        officer.clone(),
    ];
    for actor in &players {
        for access in [Access::Playback, Access::Download] {
            assert_eq!(
                play(&lab, actor, id, access, Some("quality review")).await,
                if actor.role == Role::ComplianceOfficer {
                    Ok(())
                } else {
                    Err(ErrorCode::RecordingRestricted)
                },
                "{:?} {access:?}",
                actor.role
            );
            assert_eq!(play(&lab, actor, free, access, None).await, Ok(()));
        }
    }
    // The BPO admin plays its tenants' calls, but not this one.
    let admin = bpo_admin(bpo);
    let outcome = lab
        .svc
        .authorize_playback(&admin, t, id, Access::Playback, Some("review".into()))
        .await;
    assert_eq!(code(outcome), ErrorCode::RecordingRestricted);
    // A compliance officer without a reason (or a blank one) is refused.
    for reason in [None, Some("   ")] {
        assert_eq!(
            play(&lab, &officer, id, Access::Playback, reason).await,
            Err(ErrorCode::RecordingRestricted)
        );
    }
    // The auditor plays nothing, restricted or not.
    let auditor = member(Role::Auditor, t);
    for recording in [id, free] {
        assert_eq!(
            play(&lab, &auditor, recording, Access::Playback, Some("audit")).await,
            Err(ErrorCode::Forbidden)
        );
    }

    // Still listed, marked restricted.
    let admin_t = member(Role::TenantAdmin, t);
    let got = lab.svc.get_recording(&admin_t, t, id).await.expect("get");
    assert!(got.restricted);
    let page = lab
        .svc
        .search_recordings(
            &admin_t,
            t,
            RecordingFilter::default(),
            PageRequest {
                first: 10,
                after: None,
            },
        )
        .await
        .expect("search");
    let flags: Vec<(RecordingId, bool)> = page.items.iter().map(|r| (r.id, r.restricted)).collect();
    assert_eq!(flags, vec![(free, false), (id, true)]);

    // The trail: one restriction entry, the officer's playbacks marked.
    let entries = env.audit_of(t, AuditAction::Disclosure).await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.target.as_deref(), Some(id.to_string().as_str()));
    assert_eq!(entry.actor, officer.subject);
    assert_eq!(entry.origin.as_deref(), Some("203.0.113.9"));
    assert_eq!(entry.reason.as_deref(), Some("art. 18(1)(a)"));
    assert_eq!(
        entry.details,
        json!({"request_id": request.to_string(), "restricted": true})
    );
    let played = env.audit_of(t, AuditAction::Playback).await;
    let of_restricted: Vec<_> = played
        .iter()
        .filter(|e| e.target.as_deref() == Some(id.to_string().as_str()))
        .collect();
    assert_eq!(of_restricted.len(), 1);
    assert_eq!(of_restricted[0].details, json!({"restricted": true}));
    assert_eq!(of_restricted[0].reason.as_deref(), Some("quality review"));

    // Another request's lift leaves this restriction; the request's own
    // lift (all it restricts) ends it.
    lab.svc
        .restrict_recordings(
            &handler,
            t,
            Uuid::new_v4(),
            Vec::new(),
            false,
            "done".into(),
        )
        .await
        .expect("lift nothing");
    assert_eq!(
        play(&lab, &admin_t, id, Access::Playback, None).await,
        Err(ErrorCode::RecordingRestricted)
    );
    lab.svc
        .restrict_recordings(
            &handler,
            t,
            request,
            Vec::new(),
            false,
            "request closed".into(),
        )
        .await
        .expect("lift");
    for actor in &players {
        assert_eq!(play(&lab, actor, id, Access::Download, None).await, Ok(()));
    }
    assert!(
        !lab.svc
            .get_recording(&admin_t, t, id)
            .await
            .expect("get")
            .restricted
    );
    let entries = env.audit_of(t, AuditAction::Disclosure).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[1].details,
        json!({"request_id": request.to_string(), "restricted": false})
    );
    assert_eq!(entries[1].reason.as_deref(), Some("request closed"));

    // Bad input changes nothing.
    for (ids, reason) in [(vec![id], "  "), (Vec::new(), "why")] {
        let outcome = lab
            .svc
            .restrict_recordings(&handler, t, request, ids, true, reason.into())
            .await;
        assert_eq!(code(outcome), ErrorCode::InvalidInput);
    }
    let outcome = lab
        .svc
        .restrict_recordings(
            &handler,
            t,
            request,
            vec![id, RecordingId::new()],
            true,
            "x".into(),
        )
        .await;
    assert_eq!(code(outcome), ErrorCode::NotFound);
    assert!(
        !lab.svc
            .get_recording(&admin_t, t, id)
            .await
            .expect("get")
            .restricted
    );
    assert_eq!(env.audit_of(t, AuditAction::Disclosure).await.len(), 2);
}

on_both_backends!(
    preservation_holds_due_recordings_back_until_released,
    restriction_refuses_playback_but_to_a_compliance_officer_with_a_reason,
);
