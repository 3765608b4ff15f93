//! KmsKeyProvider against moto: the real AWS SDK on the real wire protocol.
//! moto doesn't enforce key state or rotate material (see fake_kms.rs), so
//! those behaviours are tested in kms_fake.rs.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use callvault_keys::kms::{KmsKeyProvider, client_for};
use callvault_keys::{KeyError, KeyProvider, KeyRef};
use callvault_testkit::MotoServer;

use crate::conformance;

fn provider(moto: &MotoServer) -> KmsKeyProvider {
    KmsKeyProvider::new(client_for(Some(&moto.endpoint()), "us-east-1"))
}

#[tokio::test]
async fn kms_on_moto_conforms() {
    let moto = MotoServer::start();
    let quirks = conformance::Quirks {
        foreign_key_is_not_found: true,
        pending_deletion_still_decrypts: true,
    };
    conformance::run_suite_with(&provider(&moto), quirks).await;
}

#[tokio::test]
async fn tenant_key_is_described_tagged_and_aliased() {
    let moto = MotoServer::start();
    let provider = provider(&moto);
    let key = provider
        .create_tenant_key("acme")
        .await
        .expect("create key");
    assert_eq!(key, KeyRef("alias/callvault/tenant-acme".to_owned()));

    let client = provider.client();
    let metadata = client
        .describe_key()
        .key_id(&key.0)
        .send()
        .await
        .expect("describe key")
        .key_metadata
        .expect("metadata");
    assert_eq!(metadata.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(metadata.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert!(
        metadata
            .description()
            .is_some_and(|text| text.contains("acme")),
        "description names the tenant: {:?}",
        metadata.description()
    );
    let tags = client
        .list_resource_tags()
        .key_id(metadata.key_id())
        .send()
        .await
        .expect("list tags");
    let tenant_tag = tags
        .tags()
        .iter()
        .find(|tag| tag.tag_key() == "tenant")
        .map(|tag| tag.tag_value());
    assert_eq!(tenant_tag, Some("acme"));
}

#[tokio::test]
async fn check_key_refuses_a_signing_key() {
    let moto = MotoServer::start();
    let provider = provider(&moto);
    let created = provider
        .client()
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("create signing key");
    let key_id = created.key_metadata.expect("metadata").key_id;
    match provider.check_key(&KeyRef(key_id)).await {
        Err(KeyError::Other(message)) => assert!(message.contains("symmetric"), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// `destroy_key` schedules the KMS key's deletion with the shortest window
/// KMS allows (7 days): the key is `PendingDeletion` at once and due to go
/// within the week.
#[tokio::test]
async fn destroy_key_schedules_deletion_in_the_minimum_window() {
    let moto = MotoServer::start();
    let provider = provider(&moto);
    let key = provider
        .create_tenant_key("leaving")
        .await
        .expect("create key");
    let before = std::time::SystemTime::now();
    provider.destroy_key(&key).await.expect("destroy key");
    let metadata = provider
        .client()
        .describe_key()
        .key_id(&key.0)
        .send()
        .await
        .expect("describe key")
        .key_metadata
        .expect("metadata");
    assert_eq!(
        metadata.key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );
    let deletion = metadata.deletion_date().expect("a deletion date");
    let seconds = deletion.secs()
        - before
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after epoch")
            .as_secs() as i64;
    let week = 7 * 86_400;
    assert!(
        (week - 120..=week + 120).contains(&seconds),
        "deletion due in {seconds}s, expected 7 days"
    );
    match provider.check_key(&key).await {
        Err(KeyError::Disabled(_)) => {}
        other => panic!("a key pending deletion: expected Disabled, got {other:?}"),
    }
}
