//! KmsKeyProvider against the fake KMS: key state, real rotation and an
//! unreachable endpoint, which moto can't show.

use callvault_keys::kms::{KmsKeyProvider, client_for};
use callvault_keys::{EncryptionContext, KeyError, KeyProvider, KeyRef};

use crate::conformance;
use crate::fake_kms::FakeKms;

fn provider(fake: &FakeKms) -> KmsKeyProvider {
    KmsKeyProvider::new(client_for(Some(&fake.endpoint()), "us-east-1"))
}

fn assert_disabled<T: std::fmt::Debug>(result: Result<T, KeyError>, what: &str) {
    match result {
        Err(KeyError::Disabled(_)) => {}
        other => panic!("{what}: expected Disabled, got {other:?}"),
    }
}

#[tokio::test]
async fn kms_on_fake_conforms() {
    let fake = FakeKms::start().await;
    conformance::run_suite(&provider(&fake)).await;
}

#[tokio::test]
async fn disabled_key_refuses_until_enabled() {
    let fake = FakeKms::start().await;
    let provider = provider(&fake);
    let key = provider
        .create_tenant_key("acme")
        .await
        .expect("create key");
    let other = provider
        .create_tenant_key("globex")
        .await
        .expect("create key");
    let ctx = EncryptionContext::for_recording("acme", "rec-1");
    let (data_key, wrapped) = provider
        .generate_data_key(&key, &ctx)
        .await
        .expect("generate");

    let client = provider.client();
    client
        .disable_key()
        .key_id(&key.0)
        .send()
        .await
        .expect("disable key");
    assert_disabled(provider.generate_data_key(&key, &ctx).await, "generate");
    assert_disabled(provider.decrypt(&wrapped, &ctx).await, "decrypt");
    assert_disabled(provider.check_key(&key).await, "check_key");
    assert_disabled(
        provider.rewrap(&wrapped, &ctx, &other).await,
        "rewrap from it",
    );
    assert_disabled(provider.rotate(&key).await, "rotate");

    client
        .enable_key()
        .key_id(&key.0)
        .send()
        .await
        .expect("enable key");
    provider
        .check_key(&key)
        .await
        .expect("check_key after enable");
    let unwrapped = provider
        .decrypt(&wrapped, &ctx)
        .await
        .expect("decrypt after enable");
    assert_eq!(unwrapped.as_bytes(), data_key.as_bytes());
}

#[tokio::test]
async fn key_pending_deletion_is_disabled() {
    let fake = FakeKms::start().await;
    let provider = provider(&fake);
    let key = provider
        .create_tenant_key("acme")
        .await
        .expect("create key");
    let ctx = EncryptionContext::for_recording("acme", "rec-1");
    let (_, wrapped) = provider
        .generate_data_key(&key, &ctx)
        .await
        .expect("generate");

    provider
        .client()
        .schedule_key_deletion()
        .key_id(&key.0)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("schedule deletion");
    assert_disabled(provider.check_key(&key).await, "check_key");
    assert_disabled(provider.decrypt(&wrapped, &ctx).await, "decrypt");
    // Onboarding again finds the alias and returns it; check_key tells
    // the caller it can't be used.
    assert_eq!(
        provider
            .create_tenant_key("acme")
            .await
            .expect("create again"),
        key
    );
}

#[tokio::test]
async fn stopped_endpoint_is_unavailable() {
    let fake = FakeKms::start().await;
    let provider = provider(&fake);
    let key = provider
        .create_tenant_key("acme")
        .await
        .expect("create key");
    let ctx = EncryptionContext::for_recording("acme", "rec-1");
    let (_, wrapped) = provider
        .generate_data_key(&key, &ctx)
        .await
        .expect("generate");
    fake.stop().await;

    for (what, result) in [
        (
            "generate",
            provider.generate_data_key(&key, &ctx).await.map(|_| ()),
        ),
        (
            "decrypt",
            provider.decrypt(&wrapped, &ctx).await.map(|_| ()),
        ),
        ("check_key", provider.check_key(&key).await),
        (
            "create_tenant_key",
            provider.create_tenant_key("globex").await.map(|_| ()),
        ),
    ] {
        match result {
            Err(KeyError::Unavailable(message)) => {
                assert!(!message.contains(&format!("{:?}", &wrapped.ciphertext[..4])));
            }
            other => panic!("{what}: expected Unavailable, got {other:?}"),
        }
    }
    // Never listened at all: same answer.
    let nowhere = KmsKeyProvider::new(client_for(Some("http://127.0.0.1:1"), "us-east-1"));
    match nowhere
        .check_key(&KeyRef("alias/anything".to_owned()))
        .await
    {
        Err(KeyError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_onboarding_agrees_on_one_key() {
    let fake = FakeKms::start().await;
    let provider = provider(&fake);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.create_tenant_key("acme").await })
        })
        .collect();
    let mut keys = Vec::new();
    for task in tasks {
        keys.push(task.await.expect("task").expect("create key"));
    }
    assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");

    // Whichever key won the alias is the one every later call uses.
    let ctx = EncryptionContext::for_recording("acme", "rec-1");
    let (_, wrapped) = provider
        .generate_data_key(&keys[0], &ctx)
        .await
        .expect("generate");
    provider.decrypt(&wrapped, &ctx).await.expect("decrypt");
    provider.check_key(&keys[0]).await.expect("check_key");
}
