//! Tenant key changes: rotating the managed key, switching to the tenant's
//! own key and back, each with its audit entry and its `tenant.key_changed`
//! outbox message; refused keys and bad input changing nothing; who may
//! change a tenant's key, and that no one reaches another tenant's.

use std::sync::atomic::Ordering;

use callvault_bus::Message;
use callvault_contracts::events::{Event, TenantKeyChangedV1};
use callvault_contracts::lifecycle_api::{AuditAction, AuditEntry};
use callvault_contracts::metadata_api::{ApiResult, ErrorCode, KeyMode, Tenant};
use callvault_contracts::{Actor, Role, TenantId};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::support::{Env, bpo_admin, code, member, platform};

const OWN_KEY: &str = "arn:aws:kms:ap-northeast-1:111122223333:key/acme-own";

fn external(arn: &str) -> KeyMode {
    KeyMode::External {
        key_arn: arn.to_string(),
    }
}

async fn change(
    env: &Env,
    actor: &Actor,
    tenant: TenantId,
    mode: KeyMode,
    reason: &str,
) -> ApiResult<Tenant> {
    env.svc
        .change_tenant_key(actor, tenant, mode, reason.to_string())
        .await
}

/// The tenant's `tenant.key_changed` messages waiting in the outbox,
/// oldest first.
async fn key_events(env: &Env, tenant: TenantId) -> Vec<TenantKeyChangedV1> {
    let backend = env.db.get_database_backend();
    let rows = env
        .db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => {
                    "SELECT payload FROM outbox WHERE topic = $1 ORDER BY created_at"
                }
                _ => "SELECT payload FROM outbox WHERE topic = ? ORDER BY created_at",
            },
            [TenantKeyChangedV1::TOPIC.into()],
        ))
        .await
        .expect("read outbox");
    rows.iter()
        .map(|row| {
            let payload: String = row.try_get("", "payload").expect("payload");
            let message: Message = serde_json::from_str(&payload).expect("a message");
            message.decode::<TenantKeyChangedV1>().expect("the event")
        })
        .filter(|event| event.tenant_id == tenant)
        .collect()
}

async fn key_ref(env: &Env, tenant: TenantId) -> String {
    env.svc
        .get_tenant(&platform(), tenant)
        .await
        .expect("get tenant")
        .key_ref
}

async fn key_changes(env: &Env, tenant: TenantId) -> Vec<AuditEntry> {
    env.audit_of(tenant, AuditAction::KeyChange).await
}

async fn assert_chain_verifies(env: &Env, tenant: TenantId) {
    let verification = callvault_metadata::audit::verify(&env.db, tenant)
        .await
        .expect("verify");
    assert_eq!(verification.first_bad_seq, None, "{verification:?}");
}

async fn a_managed_rotation_is_audited_and_announced(env: Env) {
    let bpo = env.bpo("bpo").await;
    let t = env.tenant(bpo, "acme").await;
    let managed = t.key_ref.clone();
    let admin = Actor {
        origin: Some("203.0.113.7".into()),
        ..member(Role::TenantAdmin, t.id)
    };

    let changed = change(&env, &admin, t.id, KeyMode::Managed, "  annual rotation ")
        .await
        .expect("rotate");
    assert_eq!(changed, t, "a rotation keeps the tenant's key reference");
    assert_eq!(
        *env.keys.rotated.lock().expect("lock"),
        vec![managed.clone()]
    );

    let entries = key_changes(&env, t.id).await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.actor, admin.subject);
    assert_eq!(entry.role, "tenant_admin");
    assert_eq!(entry.origin.as_deref(), Some("203.0.113.7"));
    assert_eq!(entry.reason.as_deref(), Some("annual rotation"));
    assert_eq!(entry.target, Some(t.id.to_string()));
    assert_eq!(
        entry.details,
        json!({"mode": "managed", "from_key_ref": managed, "to_key_ref": managed})
    );

    let events = key_events(&env, t.id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].from_key_ref, managed);
    assert_eq!(events[0].to_key_ref, managed);
    assert_eq!(events[0].changed_at, entry.at, "one change, one time");
    assert_chain_verifies(&env, t.id).await;
}

async fn switching_to_the_tenants_own_key_and_back(env: Env) {
    let bpo = env.bpo("bpo").await;
    let t = env.tenant(bpo, "acme").await;
    let managed = t.key_ref.clone();
    let admin = bpo_admin(bpo);

    let changed = change(
        &env,
        &admin,
        t.id,
        external(&format!(" {OWN_KEY} ")),
        "BYOK",
    )
    .await
    .expect("switch to the tenant's key");
    assert_eq!(changed.key_ref, OWN_KEY);
    assert_eq!(key_ref(&env, t.id).await, OWN_KEY, "stored");
    assert!(
        env.keys.rotated.lock().expect("lock").is_empty(),
        "a switch rotates nothing"
    );

    // The same key again is no change.
    let again = change(&env, &admin, t.id, external(OWN_KEY), "again").await;
    assert_eq!(code(again), ErrorCode::InvalidInput);

    // Back to a managed key: a fresh version of the tenant's own managed
    // key, never a rotation of the key the tenant owns.
    let back = change(&env, &admin, t.id, KeyMode::Managed, "BYOK ended")
        .await
        .expect("back to managed");
    assert_eq!(back.key_ref, managed);
    assert_eq!(
        *env.keys.rotated.lock().expect("lock"),
        vec![managed.clone()]
    );

    let details: Vec<_> = key_changes(&env, t.id)
        .await
        .into_iter()
        .map(|entry| (entry.reason, entry.details))
        .collect();
    assert_eq!(
        details,
        vec![
            (
                Some("BYOK".to_string()),
                json!({"mode": "external", "from_key_ref": managed, "to_key_ref": OWN_KEY})
            ),
            (
                Some("BYOK ended".to_string()),
                json!({"mode": "managed", "from_key_ref": OWN_KEY, "to_key_ref": managed})
            ),
        ]
    );
    let moves: Vec<_> = key_events(&env, t.id)
        .await
        .into_iter()
        .map(|event| (event.from_key_ref, event.to_key_ref))
        .collect();
    assert_eq!(
        moves,
        vec![
            (managed.clone(), OWN_KEY.to_string()),
            (OWN_KEY.to_string(), managed.clone()),
        ]
    );
    assert_chain_verifies(&env, t.id).await;
}

async fn refused_keys_and_bad_input_change_nothing(env: Env) {
    let bpo = env.bpo("bpo").await;
    let t = env.tenant(bpo, "acme").await;
    let admin = member(Role::TenantAdmin, t.id);
    let long_arn = format!("arn:aws:kms:{}", "x".repeat(2048));
    let long_reason = "r".repeat(501);
    let cases = [
        ("a key the provider refuses", external("not-an-arn"), "byok"),
        ("an empty ARN", external("   "), "byok"),
        ("an ARN with spaces", external("arn:aws:kms: x"), "byok"),
        ("an ARN too long", external(&long_arn), "byok"),
        ("an empty reason", external(OWN_KEY), " \n "),
        ("a reason too long", KeyMode::Managed, &long_reason),
        ("a control character", KeyMode::Managed, "rotate\u{7}"),
    ];
    for (what, mode, reason) in cases {
        let refused = change(&env, &admin, t.id, mode, reason).await;
        assert_eq!(code(refused), ErrorCode::InvalidInput, "{what}");
    }
    // 500 characters is still a reason.
    let longest = change(&env, &admin, t.id, KeyMode::Managed, &"r".repeat(500)).await;
    assert!(longest.is_ok(), "{longest:?}");
    env.keys.rotated.lock().expect("lock").clear();

    // A provider that is down: neither a rotation nor a switch happens.
    env.keys.fail.store(true, Ordering::SeqCst);
    for mode in [KeyMode::Managed, external(OWN_KEY)] {
        let refused = change(&env, &admin, t.id, mode, "rotate").await;
        assert!(refused.is_err(), "{refused:?}");
    }
    env.keys.fail.store(false, Ordering::SeqCst);

    // Another tenant's key, by the reference it uses or by the platform's
    // names for managed keys, reads as any unusable key.
    let other = env.tenant(bpo, "globex").await;
    for (what, arn) in [
        ("another tenant's key", other.key_ref.clone()),
        (
            "a managed KMS alias",
            format!("alias/callvault/tenant-{}", other.id),
        ),
        (
            "a managed KMS alias ARN",
            format!(
                "arn:aws:kms:us-east-1:111122223333:alias/callvault/tenant-{}",
                other.id
            ),
        ),
        ("a local managed key", format!("tenant/{}", other.id)),
    ] {
        let refused = change(&env, &admin, t.id, external(&arn), "byok").await;
        assert_eq!(
            refused.map(|_| ()),
            Err(callvault_contracts::metadata_api::ApiError::invalid(
                "the key does not exist or is not usable"
            )),
            "{what}"
        );
    }

    assert_eq!(key_ref(&env, t.id).await, t.key_ref);
    assert!(env.keys.rotated.lock().expect("lock").is_empty());
    assert_eq!(key_changes(&env, t.id).await.len(), 1, "only the 500");
    assert_eq!(key_events(&env, t.id).await.len(), 1, "only the 500");
}

async fn only_the_tenant_admin_and_its_bpo_admin_change_keys(env: Env) {
    let w = env.world().await;
    let a = key_ref(&env, w.a).await;
    let mut allowed = 0;
    let callers = [
        ("platform_admin", platform(), false),
        ("bpo_admin (own bpo)", bpo_admin(w.x), true),
        ("bpo_admin (other bpo)", bpo_admin(w.y), false),
        ("tenant_admin", member(Role::TenantAdmin, w.a), true),
        ("supervisor", member(Role::Supervisor, w.a), false),
        (
            "compliance_officer",
            member(Role::ComplianceOfficer, w.a),
            false,
        ),
        ("agent", member(Role::Agent, w.a), false),
        ("auditor", member(Role::Auditor, w.a), false),
        // Another tenant of the same BPO.
        ("tenant_admin of b", member(Role::TenantAdmin, w.b), false),
        ("tenant_admin of c", member(Role::TenantAdmin, w.c), false),
    ];
    for (who, actor, may) in callers {
        for mode in [KeyMode::Managed, external(OWN_KEY)] {
            let outcome = change(&env, &actor, w.a, mode.clone(), "rotate").await;
            if may {
                outcome.unwrap_or_else(|err| panic!("{who} {mode:?}: {err:?}"));
                allowed += 1;
                // Back onto the managed key, so the next switch is a change.
                change(&env, &actor, w.a, KeyMode::Managed, "reset")
                    .await
                    .expect("reset");
                allowed += 1;
            } else {
                assert_eq!(code(outcome), ErrorCode::Forbidden, "{who} {mode:?}");
            }
        }
    }
    assert_eq!(key_ref(&env, w.a).await, a);
    assert_eq!(key_changes(&env, w.a).await.len(), allowed);
    assert_eq!(key_events(&env, w.a).await.len(), allowed);

    // Another tenant's key: refused, and nothing of it changed.
    let b = key_ref(&env, w.b).await;
    for actor in [member(Role::TenantAdmin, w.a), bpo_admin(w.y)] {
        let outcome = change(&env, &actor, w.b, external(OWN_KEY), "take over").await;
        assert_eq!(code(outcome), ErrorCode::Forbidden);
    }
    assert_eq!(key_ref(&env, w.b).await, b);
    assert!(key_changes(&env, w.b).await.is_empty());
    assert!(key_events(&env, w.b).await.is_empty());

    // A tenant that does not exist: its own admin learns it is gone, no one
    // else learns anything.
    let gone = TenantId::new();
    let own_admin = member(Role::TenantAdmin, gone);
    let own = change(&env, &own_admin, gone, KeyMode::Managed, "x").await;
    assert_eq!(code(own), ErrorCode::NotFound);
    let other = change(&env, &bpo_admin(w.x), gone, KeyMode::Managed, "x").await;
    assert_eq!(code(other), ErrorCode::Forbidden);
}

on_both_backends!(
    a_managed_rotation_is_audited_and_announced,
    switching_to_the_tenants_own_key_and_back,
    refused_keys_and_bad_input_change_nothing,
    only_the_tenant_admin_and_its_bpo_admin_change_keys,
);
