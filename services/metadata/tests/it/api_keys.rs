//! Recorder API keys: lifecycle, storage, isolation.

use callvault_contracts::metadata_api::ErrorCode;
use callvault_contracts::{Role, TenantId};
use sea_orm::{ConnectionTrait, Statement};

use crate::support::{Env, bpo_admin, code, member};

async fn create_verify_revoke(env: Env) {
    let w = env.world().await;
    let admin = member(Role::TenantAdmin, w.a);
    let created = env
        .svc
        .create_api_key(&admin, w.a, "  front door recorder ".into())
        .await
        .expect("create");
    assert_eq!(created.key.name, "front door recorder");
    assert!(created.secret.starts_with("cvk_"));
    assert_eq!(created.secret.len(), 4 + 43, "cvk_ + base64url of 32 bytes");
    assert_eq!(created.key.prefix, created.secret[..12]);
    assert_eq!(created.key.revoked_at, None);
    assert!(
        !format!("{created:?}").contains(&created.secret),
        "debug output leaks the secret"
    );

    let grant = env
        .svc
        .verify_api_key(&created.secret)
        .await
        .expect("verify");
    assert_eq!(grant.key_id, created.key.id);
    assert_eq!(grant.tenant_id, w.a);
    assert_eq!(grant.key_ref, format!("tenant/{}", w.a));

    assert_eq!(
        env.svc.list_api_keys(&admin, w.a).await.expect("list"),
        vec![created.key.clone()]
    );

    let revoked = env
        .svc
        .revoke_api_key(&admin, w.a, created.key.id)
        .await
        .expect("revoke");
    let revoked_at = revoked.revoked_at.expect("revoked");
    assert_eq!(
        code(env.svc.verify_api_key(&created.secret).await),
        ErrorCode::Unauthenticated
    );
    // Revoking again keeps the first time.
    let again = env
        .svc
        .revoke_api_key(&admin, w.a, created.key.id)
        .await
        .expect("revoke twice");
    assert_eq!(again.revoked_at, Some(revoked_at));
    assert_eq!(
        env.svc.list_api_keys(&admin, w.a).await.expect("list"),
        vec![revoked]
    );

    // A second key is unaffected by the first one's revocation.
    let second = env
        .svc
        .create_api_key(&bpo_admin(w.x), w.a, "second".into())
        .await
        .expect("create");
    assert_ne!(second.secret, created.secret);
    assert_eq!(
        env.svc
            .verify_api_key(&second.secret)
            .await
            .expect("verify")
            .key_id,
        second.key.id
    );
}

async fn unknown_secrets_are_unauthenticated(env: Env) {
    let w = env.world().await;
    let created = env
        .svc
        .create_api_key(&member(Role::TenantAdmin, w.a), w.a, "k".into())
        .await
        .expect("create");
    let mut tampered = created.secret.clone();
    tampered.pop();
    tampered.push(if created.secret.ends_with('A') {
        'B'
    } else {
        'A'
    });
    for secret in [
        String::new(),
        "cvk_".into(),
        tampered,
        created.secret.to_uppercase(),
        created.key.prefix.clone(),
        "x".repeat(10_000),
    ] {
        assert_eq!(
            code(env.svc.verify_api_key(&secret).await),
            ErrorCode::Unauthenticated
        );
    }
}

async fn secrets_are_stored_only_as_hashes(env: Env) {
    let w = env.world().await;
    let created = env
        .svc
        .create_api_key(&member(Role::TenantAdmin, w.a), w.a, "k".into())
        .await
        .expect("create");
    let row = env
        .db
        .query_one_raw(Statement::from_string(
            env.db.get_database_backend(),
            "SELECT secret_sha256, prefix, name FROM api_keys",
        ))
        .await
        .expect("read the row")
        .expect("one row");
    let stored_hash: String = row.try_get("", "secret_sha256").expect("hash");
    let expected = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        created.secret.as_bytes(),
    ));
    assert_eq!(stored_hash, expected);
    let random_part = &created.secret[12..];
    let raw = env.raw_contents("api_keys").await;
    assert!(
        raw.contains(&created.key.prefix) && raw.contains(&stored_hash),
        "the scan misses the row"
    );
    assert!(
        !raw.contains(random_part),
        "the secret is stored in plaintext"
    );
}

async fn api_keys_stay_in_their_tenant(env: Env) {
    let w = env.world().await;
    let a_admin = member(Role::TenantAdmin, w.a);
    let b_admin = member(Role::TenantAdmin, w.b);
    let a_key = env
        .svc
        .create_api_key(&a_admin, w.a, "a".into())
        .await
        .expect("create");
    env.svc
        .create_api_key(&b_admin, w.b, "b".into())
        .await
        .expect("create");

    // Tenant B's admin names tenant A: refused.
    assert_eq!(
        code(env.svc.list_api_keys(&b_admin, w.a).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(env.svc.create_api_key(&b_admin, w.a, "x".into()).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(env.svc.revoke_api_key(&b_admin, w.a, a_key.key.id).await),
        ErrorCode::Forbidden
    );
    // ... or names its own tenant with A's key id: no such key there.
    assert_eq!(
        code(env.svc.revoke_api_key(&b_admin, w.b, a_key.key.id).await),
        ErrorCode::NotFound
    );
    // Another BPO's admin is refused too.
    assert_eq!(
        code(env.svc.list_api_keys(&bpo_admin(w.y), w.a).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            env.svc
                .revoke_api_key(&bpo_admin(w.y), w.a, a_key.key.id)
                .await
        ),
        ErrorCode::Forbidden
    );

    let b_keys = env.svc.list_api_keys(&b_admin, w.b).await.expect("list");
    assert_eq!(b_keys.len(), 1);
    assert!(b_keys.iter().all(|k| k.tenant_id == w.b));
    // A's key is still valid after all that.
    assert_eq!(
        env.svc
            .verify_api_key(&a_key.secret)
            .await
            .expect("verify")
            .tenant_id,
        w.a
    );
}

async fn bad_api_key_input_changes_nothing(env: Env) {
    let w = env.world().await;
    let admin = member(Role::TenantAdmin, w.a);
    for name in ["", "  ", &"k".repeat(201)] {
        assert_eq!(
            code(env.svc.create_api_key(&admin, w.a, name.to_string()).await),
            ErrorCode::InvalidInput
        );
    }
    assert_eq!(
        code(
            env.svc
                .revoke_api_key(&admin, w.a, uuid::Uuid::new_v4())
                .await
        ),
        ErrorCode::NotFound
    );
    assert_eq!(
        code(
            env.svc
                .list_api_keys(&bpo_admin(w.x), TenantId::new())
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(env.count("api_keys").await, 0);
}

on_both_backends!(
    create_verify_revoke,
    unknown_secrets_are_unauthenticated,
    secrets_are_stored_only_as_hashes,
    api_keys_stay_in_their_tenant,
    bad_api_key_input_changes_nothing,
);
