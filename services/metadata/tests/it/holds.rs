//! Legal holds: explicit and by case filter (present and future calls),
//! placing, listing, releasing, bad input, tenant isolation and roles. What
//! a hold blocks is shown through real deletion runs.

use callvault_contracts::call::Direction;
use callvault_contracts::lifecycle_api::{AuditAction, HoldScope, LegalHold, NewLegalHold};
use callvault_contracts::metadata_api::{ErrorCode, RecordingFilter};
use callvault_contracts::{Actor, RecordingId, Role, TenantId};
use chrono::Duration;
use uuid::Uuid;

use crate::deletion::lab::{Lab, catalogued, deleted_ids, sorted};
use crate::support::{Env, at, bpo_admin, code, event, member, platform};

fn new_hold(case_name: &str, reason: &str, scope: HoldScope) -> NewLegalHold {
    NewLegalHold {
        case_name: case_name.into(),
        reason: reason.into(),
        scope,
    }
}

fn ids(ids: &[RecordingId]) -> HoldScope {
    HoldScope::Recordings { ids: ids.to_vec() }
}

async fn list(lab: &Lab, actor: &Actor, tenant: TenantId) -> Vec<LegalHold> {
    lab.svc.list_holds(actor, tenant).await.expect("list holds")
}

async fn place_list_and_release_an_explicit_hold(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let admin = member(Role::TenantAdmin, t);
    let officer = member(Role::ComplianceOfficer, t);
    let r1 = lab.record(&env, event(t, 0)).await;
    let r2 = lab.record(&env, event(t, 100)).await;

    let h1 = lab
        .svc
        .place_hold(
            &admin,
            t,
            new_hold(
                "  Smith v. Acme ",
                "preserve for discovery",
                ids(&[r2, r1, r2]),
            ),
        )
        .await
        .expect("place");
    assert_eq!(h1.tenant_id, t);
    assert_eq!(h1.case_name, "Smith v. Acme");
    assert_eq!(h1.reason, "preserve for discovery");
    assert_eq!(
        h1.scope,
        ids(&sorted(vec![r1, r2])),
        "distinct, in id order"
    );
    assert_eq!(h1.placed_by, admin.subject);
    assert_eq!(h1.placed_at, at(0));
    assert_eq!((h1.released_by.clone(), h1.released_at), (None, None));

    lab.set_clock(at(60));
    let unrelated = RecordingFilter {
        queue: Some("support".into()),
        ..Default::default()
    };
    let h2 = lab
        .svc
        .place_hold(
            &officer,
            t,
            new_hold(
                "Regulator inquiry",
                "FSA letter",
                HoldScope::Filter { filter: unrelated },
            ),
        )
        .await
        .expect("place filter hold");
    assert_eq!(list(&lab, &officer, t).await, vec![h2.clone(), h1.clone()]);

    lab.set_clock(at(120));
    let released = lab
        .svc
        .release_hold(&officer, t, h1.id, " case settled ".into())
        .await
        .expect("release");
    assert_eq!(released.released_by, Some(officer.subject.clone()));
    assert_eq!(released.released_at, Some(at(120)));
    assert_eq!(released.release_reason.as_deref(), Some("case settled"));
    assert_eq!(released.scope, h1.scope);

    // The first release stays the record.
    lab.set_clock(at(180));
    assert_eq!(
        code(lab.svc.release_hold(&admin, t, h1.id, "again".into()).await),
        ErrorCode::Conflict
    );
    assert_eq!(
        code(
            lab.svc
                .release_hold(&admin, t, Uuid::new_v4(), "r".into())
                .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(list(&lab, &admin, t).await, vec![h2.clone(), released]);

    let trail = lab
        .svc
        .audit_trail(&officer, t, None, 100)
        .await
        .expect("audit trail");
    let entries: Vec<_> = trail
        .items
        .iter()
        .filter(|e| {
            matches!(
                e.action,
                AuditAction::HoldPlaced | AuditAction::HoldReleased
            )
        })
        .map(|e| (e.action, e.target.clone(), e.details["count"].clone()))
        .collect();
    assert_eq!(
        entries,
        vec![
            (AuditAction::HoldPlaced, Some(h1.id.to_string()), 2.into()),
            (
                AuditAction::HoldPlaced,
                Some(h2.id.to_string()),
                serde_json::Value::Null
            ),
            (AuditAction::HoldReleased, Some(h1.id.to_string()), 2.into()),
        ]
    );

    // Released, the hold no longer keeps the calls.
    lab.set_clock(at(0) + Duration::days(31));
    let cert = lab.run(t).await;
    assert_eq!(deleted_ids(&cert), sorted(vec![r1, r2]));
    assert!(cert.held_back.is_empty());
}

async fn a_case_filter_covers_present_and_future_calls(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);

    let mut e = event(t, 0);
    e.call.tags = vec!["vip".into(), "complaint".into()];
    let complaint = lab.record(&env, e).await;
    let mut e = event(t, 10);
    e.call.queue = Some("support".into());
    e.call.tags = vec!["complaint".into()];
    let other_queue = lab.record(&env, e).await;
    let mut e = event(t, 20);
    e.call.callee_number = "+81 90 1111 2222".into();
    let by_phone = lab.record(&env, e).await;
    let mut e = event(t, 30);
    e.call.direction = Direction::Outbound;
    e.audio.duration_ms = 3_000;
    let short_outbound = lab.record(&env, e).await;
    let mut e = event(t, 40);
    e.call.direction = Direction::Outbound;
    let long_outbound = lab.record(&env, e).await;
    let mut e = event(t, 600);
    e.call.agent = Some("agent-9".into());
    let agent_in_window = lab.record(&env, e).await;
    let mut e = event(t, 800);
    e.call.agent = Some("agent-9".into());
    let agent_late = lab.record(&env, e).await;
    let mut e = event(t, 900);
    e.call.notice_played = Some(true);
    let noticed = lab.record(&env, e).await;
    let mut e = event(t, 910);
    e.call.attributes = [("product".into(), "securities".into())].into();
    let securities = lab.record(&env, e).await;
    let mut e = event(t, 920);
    e.call.attributes = [("product".into(), "fx".into())].into();
    let fx = lab.record(&env, e).await;

    let filters = [
        RecordingFilter {
            queue: Some("sales".into()),
            tags: vec!["complaint".into()],
            ..Default::default()
        },
        RecordingFilter {
            phone_number: Some(" +81 90-1111-2222 ".into()),
            ..Default::default()
        },
        RecordingFilter {
            direction: Some(Direction::Outbound),
            min_duration_ms: Some(1_000),
            max_duration_ms: Some(5_000),
            ..Default::default()
        },
        RecordingFilter {
            agent: Some("agent-9".into()),
            started_after: Some(at(500)),
            started_before: Some(at(800)),
            ..Default::default()
        },
        RecordingFilter {
            notice_played: Some(true),
            ..Default::default()
        },
        RecordingFilter {
            attributes: [("product".into(), "securities".into())].into(),
            ..Default::default()
        },
    ];
    let mut holds = Vec::new();
    for filter in filters {
        holds.push(lab.hold(&officer, t, HoldScope::Filter { filter }).await);
    }
    // The number comes back as given (trimmed) to those who may list holds,
    // but is never stored or audited in the clear.
    let listed = list(&lab, &officer, t).await;
    let phone_hold = listed
        .iter()
        .find(|h| h.id == holds[1].id)
        .expect("phone hold listed");
    match &phone_hold.scope {
        HoldScope::Filter { filter } => {
            assert_eq!(filter.phone_number.as_deref(), Some("+81 90-1111-2222"));
        }
        other => panic!("expected a filter hold, got {other:?}"),
    }
    let raw = env.raw_contents("legal_holds").await;
    // Not a shorter piece: four digits turn up in hex ciphertext by chance.
    for needle in ["90-1111-2222", "819011112222", "9011112222"] {
        assert!(
            !raw.contains(needle),
            "hold table holds {needle} in the clear"
        );
    }
    let trail = lab
        .svc
        .audit_trail(&officer, t, None, 100)
        .await
        .expect("audit trail");
    let audited = serde_json::to_string(&trail).expect("json");
    assert!(!audited.contains("1111"), "phone number in the audit trail");

    // A call matching a case, recorded after the hold, is covered too.
    let mut e = event(t, 1_000);
    e.call.tags = vec!["complaint".into()];
    let later = lab.record(&env, e).await;

    lab.set_clock(at(0) + Duration::days(31));
    let cert = lab.run(t).await;
    let held = sorted(vec![
        complaint,
        by_phone,
        short_outbound,
        agent_in_window,
        noticed,
        securities,
        later,
    ]);
    assert_eq!(sorted(cert.held_back.clone()), held);
    assert_eq!(
        deleted_ids(&cert),
        sorted(vec![other_queue, long_outbound, agent_late, fx])
    );
    for id in held {
        assert!(catalogued(&lab.svc, t, id).await);
        lab.assert_readable(t, id).await;
    }
    lab.assert_shredded(t, other_queue).await;
}

async fn bad_hold_input_changes_nothing(env: Env) {
    let lab = Lab::new(&env).await;
    let x = env.bpo("bpo").await;
    let t = lab.tenant(x, "acme").await;
    let other = lab.tenant(x, "other").await;
    let admin = member(Role::TenantAdmin, t);
    let r = lab.record(&env, event(t, 0)).await;
    let foreign = lab.record(&env, event(other, 0)).await;

    let filter = |f: RecordingFilter| HoldScope::Filter { filter: f };
    let too_many: Vec<RecordingId> = (0..1001).map(|_| RecordingId::new()).collect();
    let invalid = [
        new_hold("  ", "reason", ids(&[r])),
        new_hold(&"c".repeat(201), "reason", ids(&[r])),
        new_hold("case", " ", ids(&[r])),
        new_hold("case", &"r".repeat(2001), ids(&[r])),
        new_hold("case\u{1b}", "reason", ids(&[r])),
        new_hold("case", "reason", ids(&[])),
        new_hold("case", "reason", ids(&too_many)),
        new_hold(
            "case",
            "reason",
            filter(RecordingFilter {
                started_after: Some(at(10)),
                started_before: Some(at(0)),
                ..Default::default()
            }),
        ),
        new_hold(
            "case",
            "reason",
            filter(RecordingFilter {
                min_duration_ms: Some(10),
                max_duration_ms: Some(5),
                ..Default::default()
            }),
        ),
        new_hold(
            "case",
            "reason",
            filter(RecordingFilter {
                phone_number: Some("anonymous".into()),
                ..Default::default()
            }),
        ),
        new_hold(
            "case",
            "reason",
            filter(RecordingFilter {
                agent: Some("  ".into()),
                ..Default::default()
            }),
        ),
    ];
    for hold in invalid {
        let shown = format!("{:?}", hold.scope)
            .chars()
            .take(80)
            .collect::<String>();
        assert_eq!(
            code(lab.svc.place_hold(&admin, t, hold).await),
            ErrorCode::InvalidInput,
            "{shown}"
        );
    }
    // One unknown (or another tenant's) id refuses the whole hold.
    for listed in [vec![r, RecordingId::new()], vec![r, foreign]] {
        assert_eq!(
            code(
                lab.svc
                    .place_hold(&admin, t, new_hold("case", "reason", ids(&listed)))
                    .await
            ),
            ErrorCode::NotFound
        );
    }
    assert_eq!(env.count("legal_holds").await, 0);
    assert_eq!(env.count("legal_hold_recordings").await, 0);
    assert!(list(&lab, &admin, t).await.is_empty());

    let hold = lab.hold(&admin, t, ids(&[r])).await;
    for reason in ["", "  ", &"r".repeat(2001)] {
        assert_eq!(
            code(
                lab.svc
                    .release_hold(&admin, t, hold.id, reason.into())
                    .await
            ),
            ErrorCode::InvalidInput
        );
    }
    assert_eq!(list(&lab, &admin, t).await, vec![hold]);
}

async fn another_tenant_cannot_see_place_or_release_holds(env: Env) {
    let lab = Lab::new(&env).await;
    let x = env.bpo("bpo").await;
    let a = lab.tenant(x, "a").await;
    let b = lab.tenant(x, "b").await;
    let ra = lab.record(&env, event(a, 0)).await;
    let admin_a = member(Role::TenantAdmin, a);
    let hold = lab.hold(&admin_a, a, ids(&[ra])).await;

    for role in [Role::TenantAdmin, Role::ComplianceOfficer] {
        let other = member(role, b);
        assert_eq!(
            code(lab.svc.list_holds(&other, a).await),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(
                lab.svc
                    .place_hold(&other, a, new_hold("c", "r", ids(&[ra])))
                    .await
            ),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(lab.svc.release_hold(&other, a, hold.id, "r".into()).await),
            ErrorCode::Forbidden
        );
        // Through its own tenant, A's hold and recording don't exist.
        assert_eq!(
            code(lab.svc.release_hold(&other, b, hold.id, "r".into()).await),
            ErrorCode::NotFound
        );
        assert_eq!(
            code(
                lab.svc
                    .place_hold(&other, b, new_hold("c", "r", ids(&[ra])))
                    .await
            ),
            ErrorCode::NotFound
        );
        assert!(list(&lab, &other, b).await.is_empty());
    }
    assert_eq!(list(&lab, &admin_a, a).await, vec![hold]);
}

async fn only_tenant_admins_and_compliance_officers_manage_holds(env: Env) {
    let lab = Lab::new(&env).await;
    let x = env.bpo("bpo").await;
    let t = lab.tenant(x, "acme").await;
    let r = lab.record(&env, event(t, 0)).await;
    let hold = lab.hold(&member(Role::TenantAdmin, t), t, ids(&[r])).await;
    let refused = [
        platform(),
        bpo_admin(x),
        member(Role::Supervisor, t),
        member(Role::Agent, t),
        member(Role::Auditor, t),
    ];
    for actor in &refused {
        let role = actor.role;
        assert_eq!(
            code(lab.svc.list_holds(actor, t).await),
            ErrorCode::Forbidden,
            "{role:?}"
        );
        assert_eq!(
            code(
                lab.svc
                    .place_hold(actor, t, new_hold("c", "r", ids(&[r])))
                    .await
            ),
            ErrorCode::Forbidden,
            "{role:?}"
        );
        assert_eq!(
            code(lab.svc.release_hold(actor, t, hold.id, "r".into()).await),
            ErrorCode::Forbidden,
            "{role:?}"
        );
    }
    assert_eq!(env.count("legal_holds").await, 1);
    let officer = member(Role::ComplianceOfficer, t);
    assert_eq!(list(&lab, &officer, t).await, vec![hold.clone()]);
    let second = lab.hold(&officer, t, ids(&[r])).await;
    lab.svc
        .release_hold(&officer, t, hold.id, "done".into())
        .await
        .expect("officer releases");
    lab.svc
        .release_hold(&member(Role::TenantAdmin, t), t, second.id, "done".into())
        .await
        .expect("admin releases");
}

on_both_backends!(
    place_list_and_release_an_explicit_hold,
    a_case_filter_covers_present_and_future_calls,
    bad_hold_input_changes_nothing,
    another_tenant_cannot_see_place_or_release_holds,
    only_tenant_admins_and_compliance_officers_manage_holds,
    holds_and_certificates_are_announced,
);

/// The tenant's `E` events waiting in the metadata outbox, oldest first.
async fn outbox_events<E>(env: &Env, tenant: TenantId) -> Vec<E>
where
    E: callvault_contracts::events::Event + serde::de::DeserializeOwned + serde::Serialize,
{
    use sea_orm::{ConnectionTrait, Statement};
    let backend = env.db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT payload FROM outbox WHERE topic = $1 ORDER BY created_at"
        }
        _ => "SELECT payload FROM outbox WHERE topic = ? ORDER BY created_at",
    };
    let rows = env
        .db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [E::TOPIC.into()],
        ))
        .await
        .expect("read outbox");
    rows.iter()
        .map(|row| {
            let payload: String = row.try_get("", "payload").expect("payload");
            let message: callvault_bus::Message =
                serde_json::from_str(&payload).expect("a message");
            message.decode::<E>().expect("the event")
        })
        .filter(|event: &E| {
            serde_json::to_value(event).expect("json")["tenant_id"] == tenant.0.to_string()
        })
        .collect()
}

/// Placing and releasing a hold, and a deletion that did something, are
/// announced through the outbox in their own transactions (webhooks carry
/// them): ids and counts, never the case name or reason.
async fn holds_and_certificates_are_announced(env: Env) {
    use callvault_contracts::events::{
        DeletionCertificateIssuedV1, LegalHoldPlacedV1, LegalHoldReleasedV1,
    };
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);
    let kept = lab.record(&env, event(t, 0)).await;
    let gone = lab.record(&env, event(t, 10)).await;

    let explicit = lab.hold(&officer, t, ids(&[kept])).await;
    let by_filter = lab
        .hold(
            &officer,
            t,
            HoldScope::Filter {
                filter: RecordingFilter {
                    queue: Some("nowhere".into()),
                    ..Default::default()
                },
            },
        )
        .await;
    let placed: Vec<LegalHoldPlacedV1> = outbox_events(&env, t).await;
    assert_eq!(placed.len(), 2);
    assert_eq!(
        (
            placed[0].hold_id,
            placed[0].recording_ids.clone(),
            placed[0].by_filter
        ),
        (explicit.id, vec![kept], false)
    );
    assert_eq!(
        (
            placed[1].hold_id,
            placed[1].recording_ids.clone(),
            placed[1].by_filter
        ),
        (by_filter.id, vec![], true)
    );
    assert_eq!(placed[0].placed_at, explicit.placed_at);

    // Nothing due yet: a run that touches nothing says nothing.
    lab.run(t).await;
    assert!(
        outbox_events::<DeletionCertificateIssuedV1>(&env, t)
            .await
            .is_empty()
    );

    lab.set_clock(at(0) + Duration::days(31));
    let cert = lab.run(t).await;
    assert_eq!(deleted_ids(&cert), vec![gone]);
    let issued: Vec<DeletionCertificateIssuedV1> = outbox_events(&env, t).await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].certificate_id, cert.id);
    assert_eq!(
        (issued[0].deleted, issued[0].held_back, issued[0].failed),
        (1, 1, 0)
    );

    let released = lab
        .svc
        .release_hold(&officer, t, explicit.id, "settled".into())
        .await
        .expect("release");
    let events: Vec<LegalHoldReleasedV1> = outbox_events(&env, t).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].hold_id, explicit.id);
    assert_eq!(Some(events[0].released_at), released.released_at);
    // A refused release announces nothing.
    let again = lab
        .svc
        .release_hold(&officer, t, explicit.id, "again".into())
        .await;
    assert_eq!(code(again), ErrorCode::Conflict);
    assert_eq!(outbox_events::<LegalHoldReleasedV1>(&env, t).await.len(), 1);

    // Another tenant's outbox view holds none of this tenant's events.
    let other = lab.tenant(env.bpo("other").await, "other").await;
    assert!(
        outbox_events::<LegalHoldPlacedV1>(&env, other)
            .await
            .is_empty()
    );
}
