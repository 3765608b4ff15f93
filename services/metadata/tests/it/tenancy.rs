//! BPOs, onboarding and users.

use std::sync::atomic::Ordering;

use callvault_contracts::metadata_api::{ErrorCode, KeyMode, NewUser};
use callvault_contracts::{BpoId, Role, TenantId};

use crate::support::{Env, bpo_admin, code, member, onboard, platform};

async fn onboarding_flow(env: Env) {
    let svc = &env.svc;
    let bpo = svc
        .create_bpo(&platform(), "  Acme Contact  ".into())
        .await
        .expect("create bpo");
    assert_eq!(bpo.name, "Acme Contact");
    assert_eq!(
        svc.list_bpos(&platform()).await.expect("list"),
        vec![bpo.clone()]
    );

    // The BPO's admin onboards a managed-key tenant and an external-key one.
    let admin = svc
        .create_user(
            &platform(),
            NewUser {
                subject: "ops@acme.example".into(),
                role: Role::BpoAdmin,
                tenant_id: None,
                bpo_id: Some(bpo.id),
                agent_id: None,
            },
        )
        .await
        .expect("create bpo admin");
    let admin_actor = bpo_admin(admin.bpo_id.expect("bpo"));
    let managed = svc
        .onboard_tenant(&admin_actor, onboard(bpo.id, "Tenant One"))
        .await
        .expect("onboard managed");
    assert_eq!(managed.key_ref, format!("tenant/{}", managed.id));
    assert_eq!(managed.time_zone, "Asia/Tokyo");
    assert_eq!(managed.default_retention_days, 365);
    let arn = "arn:aws:kms:ap-northeast-1:123456789012:key/abcd".to_string();
    let external = svc
        .onboard_tenant(
            &admin_actor,
            callvault_contracts::metadata_api::NewTenant {
                key_mode: KeyMode::External {
                    key_arn: arn.clone(),
                },
                time_zone: "UTC".into(),
                ..onboard(bpo.id, "Tenant Two")
            },
        )
        .await
        .expect("onboard external");
    assert_eq!(external.key_ref, arn);

    assert_eq!(
        svc.get_tenant(&admin_actor, managed.id).await.expect("get"),
        managed
    );
    let mut listed = svc.list_tenants(&admin_actor, bpo.id).await.expect("list");
    let mut expected = vec![managed.clone(), external.clone()];
    listed.sort_by_key(|t| t.id);
    expected.sort_by_key(|t| t.id);
    assert_eq!(listed, expected);

    // The tenant's first admin, who creates an agent.
    let tenant_admin = svc
        .create_user(
            &admin_actor,
            NewUser {
                subject: "boss@one.example".into(),
                role: Role::TenantAdmin,
                tenant_id: Some(managed.id),
                bpo_id: None,
                agent_id: None,
            },
        )
        .await
        .expect("create tenant admin");
    let agent = svc
        .create_user(
            &member(Role::TenantAdmin, managed.id),
            NewUser {
                subject: "agent@one.example".into(),
                role: Role::Agent,
                tenant_id: Some(managed.id),
                bpo_id: None,
                agent_id: Some("agent-7".into()),
            },
        )
        .await
        .expect("create agent");
    let mut users = svc
        .list_users(&member(Role::TenantAdmin, managed.id), managed.id)
        .await
        .expect("list users");
    let mut expected = vec![tenant_admin, agent];
    users.sort_by_key(|u| u.id);
    expected.sort_by_key(|u| u.id);
    assert_eq!(users, expected);
    assert!(
        svc.list_users(&admin_actor, external.id)
            .await
            .expect("list")
            .is_empty()
    );
}

async fn key_failure_leaves_no_tenant(env: Env) {
    let bpo = env.bpo("bpo").await;
    env.keys.fail.store(true, Ordering::SeqCst);
    let err = env
        .svc
        .onboard_tenant(&platform(), onboard(bpo, "t"))
        .await
        .expect_err("key provider down");
    assert_eq!(err.code, ErrorCode::Unavailable);
    env.keys.fail.store(false, Ordering::SeqCst);
    let err = env
        .svc
        .onboard_tenant(
            &platform(),
            callvault_contracts::metadata_api::NewTenant {
                key_mode: KeyMode::External {
                    key_arn: "not-a-kms-key".into(),
                },
                ..onboard(bpo, "t")
            },
        )
        .await
        .expect_err("unusable external key");
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert_eq!(env.count("tenants").await, 0);
    assert!(
        env.svc
            .list_tenants(&platform(), bpo)
            .await
            .expect("list")
            .is_empty()
    );
}

async fn bad_tenancy_input_changes_nothing(env: Env) {
    let svc = &env.svc;
    let bpo = env.bpo("bpo").await;
    for name in ["", "   ", &"x".repeat(201)] {
        assert_eq!(
            code(svc.create_bpo(&platform(), name.to_string()).await),
            ErrorCode::InvalidInput
        );
    }
    let bad_onboardings = [
        callvault_contracts::metadata_api::NewTenant {
            name: " ".into(),
            ..onboard(bpo, "t")
        },
        callvault_contracts::metadata_api::NewTenant {
            name: "n".repeat(201),
            ..onboard(bpo, "t")
        },
        callvault_contracts::metadata_api::NewTenant {
            time_zone: "Tokyo".into(),
            ..onboard(bpo, "t")
        },
        callvault_contracts::metadata_api::NewTenant {
            time_zone: "+09:00".into(),
            ..onboard(bpo, "t")
        },
        callvault_contracts::metadata_api::NewTenant {
            time_zone: "Mars/Olympus".into(),
            ..onboard(bpo, "t")
        },
        callvault_contracts::metadata_api::NewTenant {
            default_retention_days: 0,
            ..onboard(bpo, "t")
        },
        callvault_contracts::metadata_api::NewTenant {
            default_retention_days: 36_501,
            ..onboard(bpo, "t")
        },
        callvault_contracts::metadata_api::NewTenant {
            key_mode: KeyMode::External {
                key_arn: "  ".into(),
            },
            ..onboard(bpo, "t")
        },
    ];
    for input in bad_onboardings {
        assert_eq!(
            code(svc.onboard_tenant(&platform(), input.clone()).await),
            ErrorCode::InvalidInput,
            "{input:?}"
        );
    }
    assert_eq!(
        code(
            svc.onboard_tenant(&platform(), onboard(BpoId::new(), "t"))
                .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(env.count("bpos").await, 1);
    assert_eq!(env.count("tenants").await, 0);

    let tenant = env.tenant(bpo, "t").await.id;
    let user = |role, tenant_id, bpo_id, agent_id: Option<&str>| NewUser {
        subject: "someone@example.com".into(),
        role,
        tenant_id,
        bpo_id,
        agent_id: agent_id.map(str::to_string),
    };
    let inconsistent = [
        user(Role::PlatformAdmin, Some(tenant), None, None),
        user(Role::PlatformAdmin, None, Some(bpo), None),
        user(Role::BpoAdmin, None, None, None),
        user(Role::BpoAdmin, Some(tenant), Some(bpo), None),
        user(Role::Supervisor, None, None, None),
        user(Role::Supervisor, Some(tenant), Some(bpo), None),
        user(Role::TenantAdmin, None, Some(bpo), None),
        user(Role::Agent, Some(tenant), None, None),
        user(Role::Agent, Some(tenant), None, Some("  ")),
        user(Role::Supervisor, Some(tenant), None, Some("agent-1")),
        NewUser {
            subject: " ".into(),
            ..user(Role::Supervisor, Some(tenant), None, None)
        },
    ];
    for input in inconsistent {
        assert_eq!(
            code(svc.create_user(&platform(), input.clone()).await),
            ErrorCode::InvalidInput,
            "{input:?}"
        );
    }
    assert_eq!(
        code(
            svc.create_user(
                &platform(),
                user(Role::Supervisor, Some(TenantId::new()), None, None)
            )
            .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            svc.create_user(
                &platform(),
                user(Role::BpoAdmin, None, Some(BpoId::new()), None)
            )
            .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(env.count("users").await, 0);
}

async fn duplicate_subject_is_a_conflict_within_its_scope(env: Env) {
    let svc = &env.svc;
    let bpo = env.bpo("bpo").await;
    let a = env.tenant(bpo, "a").await.id;
    let b = env.tenant(bpo, "b").await.id;
    let input = |tenant| NewUser {
        subject: "qa@example.com".into(),
        role: Role::Supervisor,
        tenant_id: Some(tenant),
        bpo_id: None,
        agent_id: None,
    };
    svc.create_user(&platform(), input(a)).await.expect("first");
    let err = svc
        .create_user(&platform(), input(a))
        .await
        .expect_err("duplicate");
    assert_eq!(err.code, ErrorCode::Conflict);
    // Even under another role, the same subject in the same tenant clashes.
    let err = svc
        .create_user(
            &platform(),
            NewUser {
                role: Role::Auditor,
                ..input(a)
            },
        )
        .await
        .expect_err("duplicate subject, other role");
    assert_eq!(err.code, ErrorCode::Conflict);
    // The same person may be a user of another tenant.
    svc.create_user(&platform(), input(b))
        .await
        .expect("other tenant");
    assert_eq!(env.count("users").await, 2);
}

on_both_backends!(
    onboarding_flow,
    key_failure_leaves_no_tenant,
    bad_tenancy_input_changes_nothing,
    duplicate_subject_is_a_conflict_within_its_scope,
);
