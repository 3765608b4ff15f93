//! BPO admins and tenant admins stay within their own scope.

use callvault_contracts::metadata_api::{ErrorCode, NewUser};
use callvault_contracts::{Role, TenantId};

use crate::support::{Env, bpo_admin, code, member, onboard, platform};

/// A BPO admin reaches only its own BPO's tenants, whether they exist or not.
async fn bpo_admins_are_confined_to_their_bpo(env: Env) {
    let svc = &env.svc;
    let w = env.world().await;
    let x_admin = bpo_admin(w.x);
    assert_eq!(
        code(svc.onboard_tenant(&x_admin, onboard(w.y, "intruder")).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(svc.list_tenants(&x_admin, w.y).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(svc.get_tenant(&x_admin, w.c).await),
        ErrorCode::Forbidden
    );
    // An unknown tenant id answers like another BPO's: no probing.
    assert_eq!(
        code(svc.get_tenant(&x_admin, TenantId::new()).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(svc.get_tenant(&platform(), TenantId::new()).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(svc.list_users(&x_admin, w.c).await),
        ErrorCode::Forbidden
    );
    let supervisor_in_c = NewUser {
        subject: "spy@example.com".into(),
        role: Role::Supervisor,
        tenant_id: Some(w.c),
        bpo_id: None,
        agent_id: None,
    };
    assert_eq!(
        code(svc.create_user(&x_admin, supervisor_in_c).await),
        ErrorCode::Forbidden
    );
    let y_admin = NewUser {
        subject: "spy@example.com".into(),
        role: Role::BpoAdmin,
        tenant_id: None,
        bpo_id: Some(w.y),
        agent_id: None,
    };
    assert_eq!(
        code(svc.create_user(&x_admin, y_admin).await),
        ErrorCode::Forbidden
    );
    assert_eq!(env.count("tenants").await, 3);
    assert_eq!(env.count("users").await, 0);

    // Its own BPO: fine, and only its own tenants are listed.
    let mut listed: Vec<_> = svc
        .list_tenants(&x_admin, w.x)
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.id)
        .collect();
    let mut expected = vec![w.a, w.b];
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
}

/// Tenant B's admin can't read or change tenant A's users.
async fn tenant_admins_are_confined_to_their_tenant(env: Env) {
    let svc = &env.svc;
    let w = env.world().await;
    let b_admin = member(Role::TenantAdmin, w.b);
    assert_eq!(
        code(svc.list_users(&b_admin, w.a).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(svc.get_tenant(&b_admin, w.a).await),
        ErrorCode::Forbidden
    );
    let into_a = NewUser {
        subject: "mole@example.com".into(),
        role: Role::TenantAdmin,
        tenant_id: Some(w.a),
        bpo_id: None,
        agent_id: None,
    };
    assert_eq!(
        code(svc.create_user(&b_admin, into_a).await),
        ErrorCode::Forbidden
    );
    let promote = NewUser {
        subject: "mole@example.com".into(),
        role: Role::BpoAdmin,
        tenant_id: None,
        bpo_id: Some(w.x),
        agent_id: None,
    };
    assert_eq!(
        code(svc.create_user(&b_admin, promote).await),
        ErrorCode::Forbidden
    );
    assert_eq!(env.count("users").await, 0);
    assert_eq!(svc.get_tenant(&b_admin, w.b).await.expect("own").id, w.b);
}

on_both_backends!(
    bpo_admins_are_confined_to_their_bpo,
    tenant_admins_are_confined_to_their_tenant,
);
