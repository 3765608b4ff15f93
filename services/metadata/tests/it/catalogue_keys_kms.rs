//! The catalogue keys through AWS KMS (moto, the real SDK on the real wire
//! protocol): wrapped under the tenant's managed key, then re-wrapped under
//! a key the tenant brings, its phone numbers readable and searchable
//! throughout. moto doesn't enforce a disabled key's state, so revocation
//! is shown with the local keyring (`catalogue_keys`) and, end to end, in
//! the e2e tests.

use std::sync::Arc;

use callvault_contracts::Role;
use callvault_contracts::metadata_api::{ErrorCode, KeyMode, PageRequest, RecordingFilter};
use callvault_keys::KeyProvider;
use callvault_keys::kms::{KmsKeyProvider, client_for};
use callvault_testkit::MotoServer;

use crate::catalogue_keys::{NUMBER, search_by_phone, stored_key};
use crate::support::{Env, code, event, member};

async fn own_key_arn(provider: &KmsKeyProvider) -> String {
    let alias = provider
        .create_tenant_key(&format!("own-{}", uuid::Uuid::new_v4().simple()))
        .await
        .expect("a key of the tenant's own");
    provider
        .client()
        .describe_key()
        .key_id(&alias.0)
        .send()
        .await
        .expect("describe key")
        .key_metadata
        .and_then(|metadata| metadata.arn)
        .expect("an arn")
}

async fn scenario(env: Env, provider: &KmsKeyProvider) {
    let w = env.world().await;
    let a = env.ingest(event(w.a, 0)).await;
    let (_, wrapped, master) = stored_key(&env, w.a).await.expect("a key");
    assert_eq!(master, format!("alias/callvault/tenant-{}", w.a));
    let found = search_by_phone(&env, w.a, NUMBER).await.expect("search");
    assert_eq!(
        found.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![a]
    );

    let arn = own_key_arn(provider).await;
    let admin = member(Role::TenantAdmin, w.a);
    env.svc
        .change_tenant_key(
            &admin,
            w.a,
            KeyMode::External {
                key_arn: arn.clone(),
            },
            "bring our own key".into(),
        )
        .await
        .expect("switch to the tenant's key");
    let (wrapped_ref, rewrapped, master) = stored_key(&env, w.a).await.expect("a key");
    assert_eq!(master, arn, "re-wrapped for the tenant's key");
    assert!(
        arn.ends_with(&wrapped_ref) || wrapped_ref == arn,
        "{wrapped_ref}"
    );
    assert_ne!(rewrapped, wrapped);
    let found = search_by_phone(&env, w.a, NUMBER).await.expect("search");
    assert_eq!(
        found.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![a]
    );
    assert_eq!(found.items[0].caller_number, "+1 201 555 0100");

    // Another tenant neither searches nor reads them.
    let page = PageRequest {
        first: 10,
        after: None,
    };
    let filter = RecordingFilter {
        phone_number: Some(NUMBER.into()),
        ..Default::default()
    };
    let across = env
        .svc
        .search_recordings(&member(Role::Supervisor, w.b), w.a, filter, page)
        .await;
    assert_eq!(code(across), ErrorCode::Forbidden);
    let none: Vec<_> = search_by_phone(&env, w.b, NUMBER)
        .await
        .expect("b's own search")
        .items;
    assert!(none.is_empty(), "b has no such recording");
}

#[tokio::test]
async fn kms_catalogue_keys_on_sqlite() {
    let moto = MotoServer::start();
    let provider = Arc::new(KmsKeyProvider::new(client_for(
        Some(&moto.endpoint()),
        "us-east-1",
    )));
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("metadata.db");
    let url = format!("sqlite://{}", path.display());
    let env = Env::with_provider(&url, Some(path), provider.clone() as Arc<dyn KeyProvider>).await;
    scenario(env, &provider).await;
}

#[tokio::test]
async fn kms_catalogue_keys_on_postgres() {
    let moto = MotoServer::start();
    let provider = Arc::new(KmsKeyProvider::new(client_for(
        Some(&moto.endpoint()),
        "us-east-1",
    )));
    callvault_testkit::with_pg_database(move |url| async move {
        let env = Env::with_provider(&url, None, provider.clone() as Arc<dyn KeyProvider>).await;
        let db = env.db.clone();
        scenario(env, &provider).await;
        db.close().await.expect("close postgres");
    })
    .await;
}
