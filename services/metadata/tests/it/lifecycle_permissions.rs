//! Every cell of the lifecycle permission matrix (common to metadata and
//! gateway) for the retention and playback operations, the playback
//! reason a tenant can require, and the audit entries of playback and of
//! role changes.

use callvault_contracts::lifecycle_api::{
    Access, AuditAction, NewRetentionRule, RetentionMatch, TenantPolicy,
};
use callvault_contracts::metadata_api::{ApiResult, ErrorCode, NewUser};
use callvault_contracts::{Actor, RecordingId, Role};
use serde_json::json;

use crate::support::{Env, World, agent, bpo_admin, code, event, member, platform};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Forbidden,
    NotFound,
}
use Outcome::{Forbidden as F, NotFound as N, Ok as O};

fn outcome<T: std::fmt::Debug>(result: ApiResult<T>) -> Outcome {
    match result {
        Ok(_) => O,
        Err(err) if err.code == ErrorCode::Forbidden => F,
        Err(err) if err.code == ErrorCode::NotFound => N,
        Err(err) => panic!("unexpected error {err:?}"),
    }
}

/// The operations, in the order of the expectation rows below.
const OPERATIONS: [&str; 9] = [
    "get_policy",
    "set_policy",
    "list_retention_rules",
    "create_retention_rule",
    "delete_retention_rule",
    "recording_lifecycle (own call)",
    "recording_lifecycle (another agent's call)",
    "authorize_playback (own call)",
    "authorize_playback (another agent's call)",
];

/// Who, acting on tenant A, and what each operation must answer.
fn matrix(w: &World) -> Vec<(&'static str, Actor, [Outcome; 9])> {
    vec![
        ("platform_admin", platform(), [F, F, F, F, F, F, F, F, F]),
        (
            "bpo_admin (own bpo)",
            bpo_admin(w.x),
            [O, O, O, O, O, O, O, O, O],
        ),
        (
            "bpo_admin (other bpo)",
            bpo_admin(w.y),
            [F, F, F, F, F, F, F, F, F],
        ),
        (
            "tenant_admin",
            member(Role::TenantAdmin, w.a),
            [O, O, O, O, O, O, O, O, O],
        ),
        (
            "supervisor",
            member(Role::Supervisor, w.a),
            [F, F, F, F, F, O, O, O, O],
        ),
        (
            "compliance_officer",
            member(Role::ComplianceOfficer, w.a),
            [O, O, O, O, O, O, O, O, O],
        ),
        ("agent", agent(w.a, "agent-7"), [F, F, F, F, F, O, N, O, N]),
        (
            "auditor",
            member(Role::Auditor, w.a),
            [F, F, F, F, F, F, F, F, F],
        ),
        (
            "tenant_admin of tenant b",
            member(Role::TenantAdmin, w.b),
            [F, F, F, F, F, F, F, F, F],
        ),
        (
            "compliance_officer of tenant b",
            member(Role::ComplianceOfficer, w.b),
            [F, F, F, F, F, F, F, F, F],
        ),
        (
            "agent without agent id",
            Actor {
                subject: "agent-without-id".into(),
                agent_id: None,
                ..agent(w.a, "x")
            },
            [F; 9],
        ),
    ]
}

fn new_rule(name: &str) -> NewRetentionRule {
    NewRetentionRule {
        name: name.into(),
        matches: RetentionMatch {
            tags: vec!["never-on-a-call".into()],
            ..RetentionMatch::default()
        },
        retention_days: 400,
        overriding: false,
        legal_basis: None,
    }
}

async fn every_cell_of_the_matrix(env: Env) {
    let w = env.world().await;
    let boss = member(Role::TenantAdmin, w.a);
    let own: RecordingId = env.ingest(event(w.a, 0)).await;
    let mut e = event(w.a, 10);
    e.call.agent = Some("agent-8".into());
    let others: RecordingId = env.ingest(e).await;

    for (who, actor, expected) in matrix(&w) {
        let days = 400 + u32::try_from(expected.len()).expect("small");
        let policy = TenantPolicy {
            default_retention_days: days,
            require_playback_reason: false,
        };
        let victim = env
            .svc
            .create_retention_rule(&boss, w.a, new_rule("to delete"))
            .await
            .expect("rule to delete");
        let got = [
            outcome(env.svc.get_policy(&actor, w.a).await),
            outcome(env.svc.set_policy(&actor, w.a, policy).await),
            outcome(env.svc.list_retention_rules(&actor, w.a).await),
            outcome(
                env.svc
                    .create_retention_rule(&actor, w.a, new_rule(who))
                    .await,
            ),
            outcome(env.svc.delete_retention_rule(&actor, w.a, victim.id).await),
            outcome(env.svc.recording_lifecycle(&actor, w.a, own).await),
            outcome(env.svc.recording_lifecycle(&actor, w.a, others).await),
            outcome(
                env.svc
                    .authorize_playback(&actor, w.a, own, Access::Playback, None)
                    .await,
            ),
            outcome(
                env.svc
                    .authorize_playback(&actor, w.a, others, Access::Playback, None)
                    .await,
            ),
        ];
        for ((operation, want), got) in OPERATIONS.iter().zip(expected).zip(got) {
            assert_eq!(got, want, "{who}: {operation}");
        }
        // A refused change left nothing behind.
        let rules = env
            .svc
            .list_retention_rules(&boss, w.a)
            .await
            .expect("list");
        assert_eq!(
            rules.iter().any(|r| r.name == who),
            expected[3] == O,
            "{who}"
        );
        assert_eq!(
            rules.iter().any(|r| r.id == victim.id),
            expected[4] != O,
            "{who}"
        );
        // Every row's subject is its own: its entries are exactly its
        // allowed playbacks.
        let playbacks = env.audit_of(w.a, AuditAction::Playback).await;
        let by_actor = playbacks
            .iter()
            .filter(|p| p.actor == actor.subject)
            .count();
        let allowed = expected[7..].iter().filter(|o| **o == O).count();
        assert_eq!(by_actor, allowed, "{who}: playback entries");
    }
}

async fn a_tenant_can_require_a_playback_reason(env: Env) {
    let w = env.world().await;
    let boss = member(Role::ComplianceOfficer, w.a);
    let sup = Actor {
        origin: Some("198.51.100.4".into()),
        ..member(Role::Supervisor, w.a)
    };
    let recording = env.ingest(event(w.a, 0)).await;
    let b_recording = env.ingest(event(w.b, 0)).await;

    // Not required by default: no reason is fine, and is recorded as none.
    let played = env
        .svc
        .authorize_playback(&sup, w.a, recording, Access::Playback, None)
        .await
        .expect("playback without a reason");
    assert_eq!(played.id, recording);
    assert_eq!(
        played.caller_number, "+1 201 555 0100",
        "the same as get_recording"
    );

    env.svc
        .set_policy(
            &boss,
            w.a,
            TenantPolicy {
                default_retention_days: 365,
                require_playback_reason: true,
            },
        )
        .await
        .expect("require reasons");
    for reason in [None, Some(String::new()), Some("   \n ".into())] {
        let err = env
            .svc
            .authorize_playback(&sup, w.a, recording, Access::Playback, reason.clone())
            .await
            .expect_err("a reason is required");
        assert_eq!(err.code, ErrorCode::InvalidInput, "{reason:?}");
        assert_eq!(
            err.message,
            "a reason is required to play recordings of this tenant"
        );
    }
    assert_eq!(
        code(
            env.svc
                .authorize_playback(
                    &sup,
                    w.a,
                    recording,
                    Access::Playback,
                    Some("x".repeat(501))
                )
                .await
        ),
        ErrorCode::InvalidInput
    );
    assert_eq!(
        code(
            env.svc
                .authorize_playback(
                    &sup,
                    w.a,
                    recording,
                    Access::Playback,
                    Some("ticket\u{7}".into())
                )
                .await
        ),
        ErrorCode::InvalidInput
    );
    let reason = format!("  QA review ticket 4711{}", "!".repeat(470));
    env.svc
        .authorize_playback(&sup, w.a, recording, Access::Playback, Some(reason.clone()))
        .await
        .expect("playback with a reason");
    // Tenant B did not ask for reasons.
    env.svc
        .authorize_playback(
            &member(Role::Supervisor, w.b),
            w.b,
            b_recording,
            Access::Playback,
            None,
        )
        .await
        .expect("tenant b needs none");

    let playbacks = env.audit_of(w.a, AuditAction::Playback).await;
    assert_eq!(playbacks.len(), 2, "refused playbacks are not recorded");
    assert_eq!(playbacks[0].reason, None);
    let last = &playbacks[1];
    assert_eq!(last.target, Some(recording.to_string()));
    assert_eq!(last.reason.as_deref(), Some(reason.trim()));
    assert_eq!(last.actor, sup.subject);
    assert_eq!(last.role, "supervisor");
    assert_eq!(last.origin.as_deref(), Some("198.51.100.4"));
    assert!(
        env.audit_of(w.a, AuditAction::ViewRecording)
            .await
            .is_empty(),
        "a playback is one entry, not a view too"
    );
    assert_eq!(env.audit_of(w.b, AuditAction::Playback).await.len(), 1);

    // A download is the same check (a reason is required here too), and
    // its own kind of entry.
    assert_eq!(
        code(
            env.svc
                .authorize_playback(&sup, w.a, recording, Access::Download, None)
                .await
        ),
        ErrorCode::InvalidInput
    );
    env.svc
        .authorize_playback(
            &sup,
            w.a,
            recording,
            Access::Download,
            Some("case file".into()),
        )
        .await
        .expect("download with a reason");
    let downloads = env.audit_of(w.a, AuditAction::Download).await;
    assert_eq!(downloads.len(), 1);
    assert_eq!(downloads[0].target, Some(recording.to_string()));
    assert_eq!(downloads[0].reason.as_deref(), Some("case file"));
    assert_eq!(env.audit_of(w.a, AuditAction::Playback).await.len(), 2);
}

async fn creating_a_tenant_user_is_a_role_change(env: Env) {
    let w = env.world().await;
    let boss = member(Role::TenantAdmin, w.a);
    let user = env
        .svc
        .create_user(
            &boss,
            NewUser {
                subject: "jane.doe@example.com".into(),
                role: Role::ComplianceOfficer,
                tenant_id: Some(w.a),
                bpo_id: None,
                agent_id: None,
            },
        )
        .await
        .expect("create user");
    // A BPO admin belongs to no tenant: no tenant's trail records it.
    env.svc
        .create_user(
            &bpo_admin(w.x),
            NewUser {
                subject: "ops@example.com".into(),
                role: Role::BpoAdmin,
                tenant_id: None,
                bpo_id: Some(w.x),
                agent_id: None,
            },
        )
        .await
        .expect("create bpo admin");
    // A refused one leaves nothing.
    let refused = env
        .svc
        .create_user(
            &member(Role::Supervisor, w.a),
            NewUser {
                subject: "mallory".into(),
                role: Role::TenantAdmin,
                tenant_id: Some(w.a),
                bpo_id: None,
                agent_id: None,
            },
        )
        .await;
    assert_eq!(code(refused), ErrorCode::Forbidden);

    let changes = env.audit_of(w.a, AuditAction::RoleChange).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].target, Some(user.id.to_string()));
    assert_eq!(changes[0].actor, boss.subject);
    assert_eq!(
        changes[0].details,
        json!({"change": "user_created", "role": "compliance_officer"})
    );
    let trail = serde_json::to_string(&env.audit_entries(w.a).await).expect("json");
    assert!(!trail.contains("jane"), "the subject is not in the trail");
    for tenant in [w.b, w.c] {
        assert!(
            env.audit_of(tenant, AuditAction::RoleChange)
                .await
                .is_empty()
        );
    }
}

on_both_backends!(
    every_cell_of_the_matrix,
    a_tenant_can_require_a_playback_reason,
    creating_a_tenant_user_is_a_role_change,
);
