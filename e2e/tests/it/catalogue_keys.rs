//! The catalogue's phone numbers under the tenant's own key, through the
//! real binary (embedded, local keyring): a search by number works after a
//! key rotation, and once the tenant's master key is shredded from the
//! keyring every search of its recordings answers `TENANT_KEY_UNUSABLE`,
//! while the tenant next door is unaffected and can't reach the other's.

use callvault_e2e::{Callvault, graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard, search_until, upload};

const CALLER: &str = "+819022223333";

/// Removes `key_ref` from the keyring file, as the keyring itself writes
/// (a new file renamed over the old one).
fn shred(cv: &Callvault, key_ref: &str) {
    let path = cv.data_dir.path().join("data").join("keyring.json");
    let mut file: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read keyring")).expect("json");
    let removed = file["keys"].as_object_mut().expect("keys").remove(key_ref);
    assert!(removed.is_some(), "{key_ref} is in the keyring");
    let tmp = path.with_extension("shredding");
    std::fs::write(&tmp, serde_json::to_vec(&file).expect("json")).expect("write");
    std::fs::rename(&tmp, &path).expect("replace keyring");
}

#[tokio::test]
async fn phone_searches_follow_the_tenants_master_key() {
    // No cache: the key's state shows on the next request.
    let cv = Callvault::start_with(&[("CALLVAULT_KEYS__CATALOGUE_KEY_CACHE_SECS", "0")]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo = create_bpo(&cv, &client, &admin, "Keys BPO").await;
    let a = onboard(&cv, &client, &admin, &bpo, "Bank A").await;
    let b = onboard(&cv, &client, &admin, &bpo, "Bank B").await;
    let token = |tenant: &str, role: &str| {
        cv.admin_token(&[
            "--role",
            role,
            "--tenant",
            tenant,
            "--subject",
            "qa@example.com",
        ])
    };
    let (sup_a, sup_b) = (token(&a.id, "supervisor"), token(&b.id, "supervisor"));
    for (tenant, id) in [(&a, "keys-a"), (&b, "keys-b")] {
        let response = upload(
            &cv,
            &client,
            &tenant.key,
            &call(id, CALLER, "agent-1"),
            &mulaw_wav(2, 31),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let by_phone = json!({ "phoneNumber": "090-2222-3333" });
    search_until(&cv, &client, &sup_a, &a.id, by_phone.clone(), 1).await;

    // A rotation re-wraps the catalogue key: the number is still found.
    let change = "mutation($t: UUID!) { changeTenantKey(tenantId: $t, input: {mode: MANAGED, reason: \"rotation\"}) { keyRef } }";
    let changed = graphql(
        &client,
        &cv.base_url,
        &token(&a.id, "tenant_admin"),
        change,
        json!({ "t": a.id }),
    )
    .await
    .expect("rotate");
    let key_ref = changed["changeTenantKey"]["keyRef"]
        .as_str()
        .expect("key ref")
        .to_owned();
    let found = search_until(&cv, &client, &sup_a, &a.id, by_phone.clone(), 1).await;
    assert_eq!(found[0]["callerNumber"], CALLER);

    // The tenant's key shredded: its numbers are gone with it.
    shred(&cv, &key_ref);
    let search = "query($t: UUID!, $f: RecordingFilter) { recordings(tenantId: $t, filter: $f) { edges { node { id callerNumber } } } }";
    for filter in [by_phone.clone(), json!({})] {
        let outcome = graphql(
            &client,
            &cv.base_url,
            &sup_a,
            search,
            json!({ "t": a.id, "f": filter }),
        )
        .await;
        assert_eq!(outcome, Err("TENANT_KEY_UNUSABLE".to_owned()), "{filter}");
    }
    // B still finds its own, and A's token can't reach B's.
    let found = search_until(&cv, &client, &sup_b, &b.id, by_phone.clone(), 1).await;
    assert_eq!(found[0]["callerNumber"], CALLER);
    let across = graphql(
        &client,
        &cv.base_url,
        &sup_a,
        search,
        json!({ "t": b.id, "f": by_phone }),
    )
    .await;
    assert_eq!(across, Err("FORBIDDEN".to_owned()));
    // No phone number reached the log.
    let logs = cv.log_text();
    for needle in ["22223333", "2222-3333"] {
        assert!(!logs.contains(needle), "{needle} in the log");
    }
}
