//! The catalogue's phone numbers under each tenant's own data key, wrapped
//! by its master key in a real key provider (the local keyring here, KMS on
//! moto in `catalogue_keys_kms`): sealed and indexed from that key, re-wrapped
//! on a key change, unreadable with `TENANT_KEY_UNUSABLE` once the master
//! key is gone, and moved there from the platform secret's format v1.

use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use aws_lc_rs::hmac;
use callvault_contracts::metadata_api::{
    ErrorCode, KeyMode, PageRequest, RecordingFilter, RecordingPage,
};
use callvault_contracts::{RecordingId, Role, TenantId};
use callvault_keys::{EncryptionContext, KeyRef, WrappedKey};
use sea_orm::{ConnectionTrait, Statement};

use crate::support::{Env, code, event, member};

pub(crate) const NUMBER: &str = "+12015550100";

struct Len32;

impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// The tenant's stored catalogue key: (wrapped_key_ref, wrapped_key,
/// master_key_ref).
pub(crate) async fn stored_key(env: &Env, tenant: TenantId) -> Option<(String, Vec<u8>, String)> {
    let backend = env.db.get_database_backend();
    let placeholder = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    let row = env
        .db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT wrapped_key_ref, wrapped_key, master_key_ref FROM catalogue_keys \
                 WHERE tenant_id = {placeholder}"
            ),
            [tenant.0.into()],
        ))
        .await
        .expect("select key")?;
    Some((
        row.try_get("", "wrapped_key_ref").expect("ref"),
        row.try_get("", "wrapped_key").expect("key"),
        row.try_get("", "master_key_ref").expect("master"),
    ))
}

/// A recording's stored (caller ciphertext, caller index).
pub(crate) async fn stored_caller(env: &Env, id: RecordingId) -> (Vec<u8>, Option<Vec<u8>>) {
    let backend = env.db.get_database_backend();
    let placeholder = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    let row = env
        .db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT caller_ciphertext, caller_index FROM recordings WHERE id = {placeholder}"
            ),
            [id.0.into()],
        ))
        .await
        .expect("select recording")
        .expect("a row");
    (
        row.try_get("", "caller_ciphertext").expect("ciphertext"),
        row.try_get("", "caller_index").expect("index"),
    )
}

/// The blind index of `e164` as an independent reader of the format
/// computes it: HKDF-SHA256 (salt `callvault/metadata/pii/v2`) of the
/// unwrapped data key into the tenant's index key, HMAC-SHA256, 16 bytes.
fn expected_index(data_key: &[u8], tenant: TenantId, e164: &str) -> Vec<u8> {
    let prk = Salt::new(HKDF_SHA256, b"callvault/metadata/pii/v2").extract(data_key);
    let info: [&[u8]; 4] = [
        b"callvault/metadata/",
        b"phone-blind-index",
        b"/tenant/",
        tenant.0.as_bytes(),
    ];
    let mut key = [0u8; 32];
    prk.expand(&info, Len32)
        .and_then(|okm| okm.fill(&mut key))
        .expect("hkdf");
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), e164.as_bytes());
    tag.as_ref()[..16].to_vec()
}

pub(crate) async fn search_by_phone(
    env: &Env,
    tenant: TenantId,
    number: &str,
) -> Result<RecordingPage, callvault_contracts::metadata_api::ApiError> {
    let filter = RecordingFilter {
        phone_number: Some(number.into()),
        ..Default::default()
    };
    let page = PageRequest {
        first: 100,
        after: None,
    };
    env.svc
        .search_recordings(&member(Role::Supervisor, tenant), tenant, filter, page)
        .await
}

/// Removes a master key from the local keyring file, as an operator
/// shredding it would (atomically, as the keyring itself writes).
pub(crate) fn shred_from_keyring(env: &Env, key_ref: &str) {
    let path = env.keyring_path.as_ref().expect("a local keyring");
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("read keyring")).expect("json");
    let removed = file["keys"].as_object_mut().expect("keys").remove(key_ref);
    assert!(removed.is_some(), "{key_ref} is in the keyring");
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(&file).expect("json")).expect("write keyring");
    std::fs::rename(&tmp, path).expect("replace keyring");
}

async fn numbers_are_sealed_and_indexed_under_the_tenants_data_key(env: Env) {
    let w = env.world().await;
    let a = env.ingest(event(w.a, 0)).await;
    let b = env.ingest(event(w.b, 0)).await;
    let mut indexes = Vec::new();
    for (tenant, id) in [(w.a, a), (w.b, b)] {
        let (wrapped_ref, wrapped, master) = stored_key(&env, tenant).await.expect("a key");
        assert_eq!(master, format!("tenant/{tenant}"), "wrapped by its own key");
        let wrapped = WrappedKey {
            key_ref: KeyRef(wrapped_ref),
            ciphertext: wrapped,
        };
        let context = EncryptionContext::for_catalogue(&tenant.to_string());
        let data_key = env
            .keys
            .provider
            .decrypt(&wrapped, &context)
            .await
            .expect("unwraps under the tenant's context");
        let other = if tenant == w.a { w.b } else { w.a };
        assert!(
            env.keys
                .provider
                .decrypt(
                    &wrapped,
                    &EncryptionContext::for_catalogue(&other.to_string())
                )
                .await
                .is_err(),
            "bound to its tenant"
        );
        let (sealed, index) = stored_caller(&env, id).await;
        assert_eq!(sealed[0], 2, "format v2");
        assert_eq!(
            index.as_deref(),
            Some(expected_index(data_key.as_bytes(), tenant, NUMBER).as_slice()),
            "the index comes from the data key"
        );
        indexes.push(index);
    }
    assert_ne!(indexes[0], indexes[1], "two tenants' indexes are unrelated");
    // Each tenant finds its own recording by number, and only its own.
    let found = search_by_phone(&env, w.a, "+1 201-555-0100")
        .await
        .expect("search");
    assert_eq!(
        found.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![a]
    );
    assert_eq!(found.items[0].caller_number, "+1 201 555 0100");
    let filter = RecordingFilter {
        phone_number: Some(NUMBER.into()),
        ..Default::default()
    };
    let page = PageRequest {
        first: 10,
        after: None,
    };
    let across = env
        .svc
        .search_recordings(&member(Role::Supervisor, w.b), w.a, filter, page)
        .await;
    assert_eq!(
        code(across),
        ErrorCode::Forbidden,
        "another tenant's search"
    );
    let read = env
        .svc
        .get_recording(&member(Role::Supervisor, w.b), w.a, a)
        .await;
    assert!(read.is_err(), "another tenant's recording");
}

async fn a_shredded_master_key_fails_reads_and_searches_with_tenant_key_unusable(env: Env) {
    let w = env.world().await;
    let a = env.ingest(event(w.a, 0)).await;
    let b = env.ingest(event(w.b, 0)).await;
    shred_from_keyring(&env, &format!("tenant/{}", w.a));

    let supervisor = member(Role::Supervisor, w.a);
    assert_eq!(
        code(search_by_phone(&env, w.a, NUMBER).await),
        ErrorCode::TenantKeyUnusable
    );
    assert_eq!(
        code(env.svc.get_recording(&supervisor, w.a, a).await),
        ErrorCode::TenantKeyUnusable
    );
    let page = PageRequest {
        first: 10,
        after: None,
    };
    assert_eq!(
        code(
            env.svc
                .search_recordings(&supervisor, w.a, RecordingFilter::default(), page)
                .await
        ),
        ErrorCode::TenantKeyUnusable,
        "a search without a number still returns numbers"
    );
    // New recordings of the tenant aren't catalogued in the clear either.
    let message = callvault_bus::Message::new(&event(w.a, 100)).expect("message");
    use callvault_bus::EventHandler;
    assert!(env.consumer.handle(message).await.is_err());
    assert_eq!(env.count("recordings").await, 2);
    // The tenant next door is unaffected.
    let found = search_by_phone(&env, w.b, NUMBER).await.expect("search b");
    assert_eq!(
        found.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![b]
    );
    // A key change can't move a catalogue key nothing unwraps: refused,
    // and the tenant keeps its key reference.
    let admin = member(Role::TenantAdmin, w.a);
    let changed = env
        .svc
        .change_tenant_key(&admin, w.a, KeyMode::Managed, "re-key".into())
        .await;
    assert!(changed.is_err(), "{changed:?}");
    let (_, _, master) = stored_key(&env, w.a).await.expect("still there");
    assert_eq!(master, format!("tenant/{}", w.a));
}

async fn a_key_rotation_rewraps_the_catalogue_key(env: Env) {
    let w = env.world().await;
    let a = env.ingest(event(w.a, 0)).await;
    let (_, before, _) = stored_key(&env, w.a).await.expect("a key");
    // The local keyring's wrapped keys start with the master key's version.
    assert_eq!(before[..4], 1u32.to_be_bytes());
    let admin = member(Role::TenantAdmin, w.a);
    env.svc
        .change_tenant_key(&admin, w.a, KeyMode::Managed, "annual rotation".into())
        .await
        .expect("rotate");
    let (_, after, master) = stored_key(&env, w.a).await.expect("a key");
    assert_eq!(after[..4], 2u32.to_be_bytes(), "under the new version");
    assert_eq!(master, format!("tenant/{}", w.a));
    let found = search_by_phone(&env, w.a, NUMBER).await.expect("search");
    assert_eq!(
        found.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![a]
    );
    assert_eq!(found.items[0].caller_number, "+1 201 555 0100");
}

/// Another tenant's wrapped key pasted into a tenant's row doesn't open:
/// the context names the tenant.
async fn a_wrapped_key_moved_to_another_tenant_does_not_open(env: Env) {
    let w = env.world().await;
    env.ingest(event(w.a, 0)).await;
    env.ingest(event(w.b, 0)).await;
    let (wrapped_ref, wrapped, _) = stored_key(&env, w.a).await.expect("a's key");
    let backend = env.db.get_database_backend();
    let (p1, p2, p3) = match backend {
        sea_orm::DbBackend::Postgres => ("$1", "$2", "$3"),
        _ => ("?", "?", "?"),
    };
    env.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE catalogue_keys SET wrapped_key_ref = {p1}, wrapped_key = {p2} \
                 WHERE tenant_id = {p3}"
            ),
            [wrapped_ref.into(), wrapped.into(), w.b.0.into()],
        ))
        .await
        .expect("swap keys");
    assert_eq!(
        code(search_by_phone(&env, w.b, NUMBER).await),
        ErrorCode::TenantKeyUnusable
    );
    search_by_phone(&env, w.a, NUMBER)
        .await
        .expect("a unaffected");
}

/// Offboarding's crypto-shred: with the wrapped key gone, the tenant's
/// stored numbers open under nothing, not even its master key.
async fn destroying_the_catalogue_key_shreds_the_numbers(env: Env) {
    let w = env.world().await;
    let a = env.ingest(event(w.a, 0)).await;
    env.ingest(event(w.b, 0)).await;
    assert!(env.catalogue.destroy(&env.db, w.a).await.expect("destroy"));
    assert!(stored_key(&env, w.a).await.is_none());
    assert!(!env.catalogue.destroy(&env.db, w.a).await.expect("again"));
    let read = env
        .svc
        .get_recording(&member(Role::Supervisor, w.a), w.a, a)
        .await;
    assert_eq!(
        code(read),
        ErrorCode::Internal,
        "sealed under a key that is gone"
    );
    search_by_phone(&env, w.b, NUMBER)
        .await
        .expect("b unaffected");
}

on_both_backends!(
    destroying_the_catalogue_key_shreds_the_numbers,
    numbers_are_sealed_and_indexed_under_the_tenants_data_key,
    a_shredded_master_key_fails_reads_and_searches_with_tenant_key_unusable,
    a_key_rotation_rewraps_the_catalogue_key,
    a_wrapped_key_moved_to_another_tenant_does_not_open,
);
