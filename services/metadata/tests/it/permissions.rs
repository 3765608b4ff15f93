//! The permission table (src/authz.rs, PERMISSIONS.md), row by row: every
//! operation tried by every kind of actor, against BPO X and its tenant A.

use callvault_contracts::metadata_api::{ErrorCode, NewUser, PageRequest, RecordingFilter};
use callvault_contracts::{Actor, RecordingId, Role};

use crate::support::{Env, World, bpo_admin, event, member, onboard, platform};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    CreateBpo,
    ListBpos,
    Onboard,
    GetTenant,
    ListTenants,
    CreateUser,
    ListUsers,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
    Search,
    GetRecording,
}

const ALL: [Op; 12] = [
    Op::CreateBpo,
    Op::ListBpos,
    Op::Onboard,
    Op::GetTenant,
    Op::ListTenants,
    Op::CreateUser,
    Op::ListUsers,
    Op::CreateApiKey,
    Op::ListApiKeys,
    Op::RevokeApiKey,
    Op::Search,
    Op::GetRecording,
];

const TENANT_READERS: [Op; 3] = [Op::GetTenant, Op::Search, Op::GetRecording];

async fn attempt(
    env: &Env,
    w: &World,
    recording: RecordingId,
    actor: &Actor,
    op: Op,
) -> Result<(), ErrorCode> {
    let svc = &env.svc;
    let unique = uuid::Uuid::new_v4();
    let outcome = match op {
        Op::CreateBpo => svc
            .create_bpo(actor, format!("bpo {unique}"))
            .await
            .map(drop),
        Op::ListBpos => svc.list_bpos(actor).await.map(drop),
        Op::Onboard => svc
            .onboard_tenant(actor, onboard(w.x, "new"))
            .await
            .map(drop),
        Op::GetTenant => svc.get_tenant(actor, w.a).await.map(drop),
        Op::ListTenants => svc.list_tenants(actor, w.x).await.map(drop),
        Op::CreateUser => {
            let input = NewUser {
                subject: format!("{unique}@example.com"),
                role: Role::Supervisor,
                tenant_id: Some(w.a),
                bpo_id: None,
                agent_id: None,
            };
            svc.create_user(actor, input).await.map(drop)
        }
        Op::ListUsers => svc.list_users(actor, w.a).await.map(drop),
        Op::CreateApiKey => svc
            .create_api_key(actor, w.a, "recorder".into())
            .await
            .map(drop),
        Op::ListApiKeys => svc.list_api_keys(actor, w.a).await.map(drop),
        Op::RevokeApiKey => {
            let key = svc
                .create_api_key(&member(Role::TenantAdmin, w.a), w.a, "to revoke".into())
                .await
                .expect("a key to revoke");
            svc.revoke_api_key(actor, w.a, key.key.id).await.map(drop)
        }
        Op::Search => {
            let page = PageRequest {
                first: 10,
                after: None,
            };
            svc.search_recordings(actor, w.a, RecordingFilter::default(), page)
                .await
                .map(drop)
        }
        Op::GetRecording => svc.get_recording(actor, w.a, recording).await.map(drop),
    };
    outcome.map_err(|err| err.code)
}

async fn row_counts(env: &Env) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["bpos", "tenants", "users", "recordings"] {
        counts.push(env.count(table).await);
    }
    counts.push(env.count("api_keys WHERE revoked_at IS NOT NULL").await);
    counts
}

async fn every_role_gets_exactly_its_permissions(env: Env) {
    let w = env.world().await;
    // Handled by agent-7, the agent id `member(Role::Agent, _)` carries.
    let recording = env.ingest(event(w.a, 0)).await;

    let no_bpo_admin = Actor {
        bpo_id: None,
        ..bpo_admin(w.x)
    };
    let tenantless_supervisor = Actor {
        tenant_id: None,
        ..member(Role::Supervisor, w.a)
    };
    let agent_without_id = Actor {
        agent_id: None,
        ..member(Role::Agent, w.a)
    };
    let table: Vec<(&str, Actor, Vec<Op>)> = vec![
        (
            "platform admin",
            platform(),
            vec![
                Op::CreateBpo,
                Op::ListBpos,
                Op::Onboard,
                Op::GetTenant,
                Op::ListTenants,
                Op::CreateUser,
                Op::ListUsers,
            ],
        ),
        (
            "bpo admin of x",
            bpo_admin(w.x),
            ALL.into_iter()
                .filter(|op| !matches!(op, Op::CreateBpo | Op::ListBpos))
                .collect(),
        ),
        (
            "tenant admin of a",
            member(Role::TenantAdmin, w.a),
            vec![
                Op::GetTenant,
                Op::CreateUser,
                Op::ListUsers,
                Op::CreateApiKey,
                Op::ListApiKeys,
                Op::RevokeApiKey,
                Op::Search,
                Op::GetRecording,
            ],
        ),
        (
            "supervisor of a",
            member(Role::Supervisor, w.a),
            TENANT_READERS.to_vec(),
        ),
        (
            "compliance officer of a",
            member(Role::ComplianceOfficer, w.a),
            TENANT_READERS.to_vec(),
        ),
        (
            "agent of a",
            member(Role::Agent, w.a),
            TENANT_READERS.to_vec(),
        ),
        (
            "auditor of a",
            member(Role::Auditor, w.a),
            vec![Op::GetTenant],
        ),
        // Other scopes reach nothing of X's or A's.
        ("bpo admin of y", bpo_admin(w.y), vec![]),
        ("tenant admin of b", member(Role::TenantAdmin, w.b), vec![]),
        ("supervisor of b", member(Role::Supervisor, w.b), vec![]),
        (
            "compliance officer of c",
            member(Role::ComplianceOfficer, w.c),
            vec![],
        ),
        ("agent-7 of b", member(Role::Agent, w.b), vec![]),
        // Incomplete scopes fail closed.
        ("bpo admin without bpo", no_bpo_admin, vec![]),
        ("supervisor without tenant", tenantless_supervisor, vec![]),
        (
            "agent without agent id",
            agent_without_id,
            vec![Op::GetTenant],
        ),
    ];

    for (who, actor, allowed) in table {
        for op in ALL {
            let before = row_counts(&env).await;
            let outcome = attempt(&env, &w, recording, &actor, op).await;
            if allowed.contains(&op) {
                assert_eq!(outcome, Ok(()), "{who} must be allowed {op:?}");
                continue;
            }
            assert_eq!(
                outcome,
                Err(ErrorCode::Forbidden),
                "{who} must be refused {op:?}"
            );
            // A refused call changed nothing: no row added, no key revoked.
            let after = row_counts(&env).await;
            assert_eq!(after, before, "{who} changed something with {op:?}");
        }
    }
}

on_both_backends!(every_role_gets_exactly_its_permissions);
