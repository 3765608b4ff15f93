//! The move from the platform secret's format v1 to the tenants' catalogue
//! keys, on rows the old code wrote (sealed by the independent v1 writer
//! of `phone_migration`): in batches, idempotent, a tenant whose key is
//! unusable left for a later pass, and searches and holds working on the
//! moved rows.

use callvault_contracts::metadata_api::{ErrorCode, PageRequest, RecordingFilter};
use callvault_contracts::{RecordingId, Role, TenantId};
use callvault_metadata::pii_rekey::{RekeyReport, rekey_catalogue};

use crate::catalogue_keys::{NUMBER, search_by_phone, shred_from_keyring, stored_caller};
use crate::phone_migration::{old_phone_hold, old_recording};
use crate::support::{Env, code, member};

async fn ids_by_phone(env: &Env, tenant: TenantId) -> Vec<RecordingId> {
    let mut ids: Vec<RecordingId> = search_by_phone(env, tenant, NUMBER)
        .await
        .expect("search")
        .items
        .into_iter()
        .map(|r| r.id)
        .collect();
    ids.sort_by_key(|id| id.0);
    ids
}

async fn v1_rows_move_to_the_tenants_keys_in_batches(env: Env) {
    let w = env.world().await;
    let mut a_rows = Vec::new();
    for _ in 0..7 {
        let id = old_recording(&env.db, w.a.0, NUMBER, "+12015550199").await;
        a_rows.push(RecordingId(id));
    }
    a_rows.sort_by_key(|id| id.0);
    let mut c_rows = Vec::new();
    for _ in 0..2 {
        c_rows.push(RecordingId(
            old_recording(&env.db, w.c.0, NUMBER, "+12015550199").await,
        ));
    }
    c_rows.sort_by_key(|id| id.0);
    let hold = old_phone_hold(&env.db, w.a.0, NUMBER).await;

    // Not moved yet: read under the tenant's key, the rows answer "try
    // again later", never the numbers through the old secret.
    let page = PageRequest {
        first: 100,
        after: None,
    };
    let unmoved = env
        .svc
        .search_recordings(
            &member(Role::Supervisor, w.a),
            w.a,
            RecordingFilter::default(),
            page,
        )
        .await;
    assert_eq!(code(unmoved), ErrorCode::Unavailable);

    // Tenant c's key is gone for now: c is left as it is.
    let keyring = env.keyring_path.clone().expect("a keyring");
    let saved = std::fs::read(&keyring).expect("keyring");
    shred_from_keyring(&env, &format!("tenant/{}", w.c));
    let report = rekey_catalogue(&env.db, &env.catalogue, 3)
        .await
        .expect("first pass");
    assert_eq!(
        report,
        RekeyReport {
            resealed: 8,
            skipped_tenants: vec![w.c],
        },
        "seven recordings in three batches and the hold"
    );
    for id in &a_rows {
        assert_eq!(stored_caller(&env, *id).await.0[0], 2, "{id:?} moved");
    }
    for id in &c_rows {
        assert_eq!(stored_caller(&env, *id).await.0[0], 1, "{id:?} left");
    }
    assert_eq!(ids_by_phone(&env, w.a).await, a_rows);
    let read = env
        .svc
        .get_recording(&member(Role::Supervisor, w.a), w.a, a_rows[0])
        .await
        .expect("read");
    assert_eq!(read.caller_number, NUMBER);
    // The hold by number still covers the tenant's calls.
    let lifecycle = env
        .svc
        .recording_lifecycle(&member(Role::ComplianceOfficer, w.a), w.a, a_rows[0])
        .await
        .expect("lifecycle");
    assert_eq!(lifecycle.holds, vec![hold]);

    // Again: nothing left to do but tenant c.
    let again = rekey_catalogue(&env.db, &env.catalogue, 3)
        .await
        .expect("second pass");
    assert_eq!(
        again,
        RekeyReport {
            resealed: 0,
            skipped_tenants: vec![w.c],
        }
    );

    // c's key back: the next pass moves its rows.
    let tmp = keyring.with_extension("restore");
    std::fs::write(&tmp, saved).expect("write keyring");
    std::fs::rename(&tmp, &keyring).expect("restore keyring");
    let last = rekey_catalogue(&env.db, &env.catalogue, 3)
        .await
        .expect("third pass");
    assert_eq!(
        last,
        RekeyReport {
            resealed: 2,
            skipped_tenants: vec![],
        }
    );
    assert_eq!(ids_by_phone(&env, w.c).await, c_rows);
    // Two tenants' indexes of one number are unrelated.
    assert_ne!(
        stored_caller(&env, a_rows[0]).await.1,
        stored_caller(&env, c_rows[0]).await.1
    );
}

on_both_backends!(v1_rows_move_to_the_tenants_keys_in_batches);
