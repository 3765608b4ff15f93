//! What every key provider must do, checked the same way against each
//! backend (local keyring, KMS on moto, KMS on the fake). A backend-specific
//! test only covers what the trait can't express.

use callvault_keys::{DataKey, EncryptionContext, KeyError, KeyProvider, KeyRef, WrappedKey};

/// A key name no backend has: a KMS alias that was never created is also a
/// name the local keyring has never seen.
const UNKNOWN_KEY: &str = "alias/callvault/tenant-never-onboarded";

/// Where a test peer is known to differ from real KMS. Each field is a
/// documented gap of that peer, never of the provider under test.
#[derive(Clone, Copy, Default)]
pub struct Quirks {
    /// moto answers a Decrypt whose KeyId doesn't match the blob with
    /// AccessDeniedException (real KMS: IncorrectKeyException), which the
    /// provider reports as NotFound. Still refused, under another name.
    pub foreign_key_is_not_found: bool,
    /// moto marks a key whose deletion is scheduled `PendingDeletion` (so
    /// `check_key` refuses it) but keeps decrypting and generating under it;
    /// real KMS refuses both with KMSInvalidStateException, as the fake
    /// does. With this set only the key's state is checked after destroy.
    pub pending_deletion_still_decrypts: bool,
}

pub async fn run_suite(provider: &dyn KeyProvider) {
    run_suite_with(provider, Quirks::default()).await;
}

pub async fn run_suite_with(provider: &dyn KeyProvider, quirks: Quirks) {
    round_trip(provider).await;
    context_is_bound(provider).await;
    altered_ciphertext_fails(provider).await;
    foreign_key_ref_fails(provider, quirks).await;
    rewrap_to_another_key(provider).await;
    rotate_keeps_old_keys_readable(provider).await;
    tenant_keys_are_idempotent_and_distinct(provider).await;
    unknown_key_is_not_found(provider).await;
    invalid_tenant_id_is_refused(provider).await;
    destroyed_key_unwraps_nothing(provider, quirks).await;
}

fn context(tenant: &str, recording: &str) -> EncryptionContext {
    EncryptionContext::for_recording(tenant, recording)
}

fn same_key(left: &DataKey, right: &DataKey) -> bool {
    left.as_bytes() == right.as_bytes()
}

fn assert_invalid_ciphertext(result: Result<DataKey, KeyError>, what: &str) {
    match result {
        Err(KeyError::InvalidCiphertext) => {}
        Err(other) => panic!("{what}: expected InvalidCiphertext, got {other:?}"),
        Ok(_) => panic!("{what}: expected InvalidCiphertext, but the key unwrapped"),
    }
}

async fn tenant_key(provider: &dyn KeyProvider, tenant: &str) -> KeyRef {
    provider
        .create_tenant_key(tenant)
        .await
        .unwrap_or_else(|error| panic!("create_tenant_key({tenant}): {error:?}"))
}

async fn generate(
    provider: &dyn KeyProvider,
    key: &KeyRef,
    context: &EncryptionContext,
) -> (DataKey, WrappedKey) {
    provider
        .generate_data_key(key, context)
        .await
        .unwrap_or_else(|error| panic!("generate_data_key({key:?}): {error:?}"))
}

async fn decrypt(
    provider: &dyn KeyProvider,
    wrapped: &WrappedKey,
    context: &EncryptionContext,
) -> DataKey {
    provider
        .decrypt(wrapped, context)
        .await
        .unwrap_or_else(|error| panic!("decrypt({wrapped:?}): {error:?}"))
}

async fn round_trip(provider: &dyn KeyProvider) {
    let key = tenant_key(provider, "acme").await;
    provider
        .check_key(&key)
        .await
        .expect("a fresh tenant key is usable");
    let ctx = context("acme", "rec-1");
    let (data_key, wrapped) = generate(provider, &key, &ctx).await;
    let unwrapped = decrypt(provider, &wrapped, &ctx).await;
    assert!(
        same_key(&data_key, &unwrapped),
        "round trip changed the key"
    );
    assert!(
        !wrapped
            .ciphertext
            .windows(32)
            .any(|w| w == data_key.as_bytes()),
        "the wrapped key contains the plaintext key"
    );
    let (other_key, _) = generate(provider, &key, &ctx).await;
    assert!(!same_key(&data_key, &other_key), "two data keys are equal");
}

async fn context_is_bound(provider: &dyn KeyProvider) {
    let key = tenant_key(provider, "acme").await;
    let (_, wrapped) = generate(provider, &key, &context("acme", "rec-1")).await;
    let other_tenant = provider
        .decrypt(&wrapped, &context("globex", "rec-1"))
        .await;
    assert_invalid_ciphertext(other_tenant, "another tenant's context");
    let other_recording = provider.decrypt(&wrapped, &context("acme", "rec-2")).await;
    assert_invalid_ciphertext(other_recording, "another recording's context");
}

async fn altered_ciphertext_fails(provider: &dyn KeyProvider) {
    let key = tenant_key(provider, "acme").await;
    let ctx = context("acme", "rec-1");
    let (_, wrapped) = generate(provider, &key, &ctx).await;

    let mut flipped = wrapped.clone();
    if let Some(last) = flipped.ciphertext.last_mut() {
        *last ^= 0x01;
    }
    assert_invalid_ciphertext(provider.decrypt(&flipped, &ctx).await, "flipped tag bit");

    let mut truncated = wrapped.clone();
    truncated.ciphertext.pop();
    assert_invalid_ciphertext(provider.decrypt(&truncated, &ctx).await, "truncated blob");
}

async fn foreign_key_ref_fails(provider: &dyn KeyProvider, quirks: Quirks) {
    let acme = tenant_key(provider, "acme").await;
    let globex = tenant_key(provider, "globex").await;
    let ctx = context("acme", "rec-1");
    let (_, wrapped) = generate(provider, &acme, &ctx).await;
    let presented = WrappedKey {
        key_ref: globex,
        ciphertext: wrapped.ciphertext.clone(),
    };
    let result = provider.decrypt(&presented, &ctx).await;
    if quirks.foreign_key_is_not_found && matches!(result, Err(KeyError::NotFound(_))) {
        return;
    }
    assert_invalid_ciphertext(result, "acme's wrapped key presented under globex's key");
}

async fn rewrap_to_another_key(provider: &dyn KeyProvider) {
    let acme = tenant_key(provider, "acme").await;
    let replacement = tenant_key(provider, "acme-byok").await;
    let ctx = context("acme", "rec-1");
    let (data_key, wrapped) = generate(provider, &acme, &ctx).await;

    let rewrapped = provider
        .rewrap(&wrapped, &ctx, &replacement)
        .await
        .expect("rewrap to another key");
    assert_ne!(rewrapped.ciphertext, wrapped.ciphertext);
    assert!(same_key(
        &data_key,
        &decrypt(provider, &rewrapped, &ctx).await
    ));
    assert!(same_key(
        &data_key,
        &decrypt(provider, &wrapped, &ctx).await
    ));

    let wrong_context = provider
        .rewrap(&wrapped, &context("acme", "rec-2"), &replacement)
        .await;
    match wrong_context {
        Err(KeyError::InvalidCiphertext) => {}
        other => {
            panic!("rewrap under the wrong context: expected InvalidCiphertext, got {other:?}")
        }
    }
}

async fn rotate_keeps_old_keys_readable(provider: &dyn KeyProvider) {
    let key = tenant_key(provider, "rotating").await;
    let ctx = context("rotating", "rec-1");
    let (data_key, before) = generate(provider, &key, &ctx).await;

    provider.rotate(&key).await.expect("rotate");
    assert!(same_key(&data_key, &decrypt(provider, &before, &ctx).await));
    let (fresh_key, after) = generate(provider, &key, &ctx).await;
    assert!(same_key(&fresh_key, &decrypt(provider, &after, &ctx).await));

    let rewrapped = provider
        .rewrap(&before, &ctx, &key)
        .await
        .expect("rewrap onto the rotated key");
    assert!(same_key(
        &data_key,
        &decrypt(provider, &rewrapped, &ctx).await
    ));

    provider.rotate(&key).await.expect("second rotation");
    assert!(same_key(&data_key, &decrypt(provider, &before, &ctx).await));
    assert!(same_key(
        &data_key,
        &decrypt(provider, &rewrapped, &ctx).await
    ));
}

async fn tenant_keys_are_idempotent_and_distinct(provider: &dyn KeyProvider) {
    let first = tenant_key(provider, "idem").await;
    let second = tenant_key(provider, "idem").await;
    assert_eq!(first, second, "create_tenant_key is not idempotent");
    let other = tenant_key(provider, "idem-other").await;
    assert_ne!(first, other, "two tenants share a key");

    // Idempotent also means the same master key, not a fresh one under the
    // same name: a key wrapped before the second call still unwraps.
    let ctx = context("idem", "rec-1");
    let (data_key, wrapped) = generate(provider, &first, &ctx).await;
    tenant_key(provider, "idem").await;
    assert!(same_key(
        &data_key,
        &decrypt(provider, &wrapped, &ctx).await
    ));
}

async fn unknown_key_is_not_found(provider: &dyn KeyProvider) {
    let unknown = KeyRef(UNKNOWN_KEY.to_owned());
    let ctx = context("acme", "rec-1");
    match provider.generate_data_key(&unknown, &ctx).await {
        Err(KeyError::NotFound(_)) => {}
        other => panic!("generate under an unknown key: expected NotFound, got {other:?}"),
    }
    match provider.check_key(&unknown).await {
        Err(KeyError::NotFound(_)) => {}
        other => panic!("check_key of an unknown key: expected NotFound, got {other:?}"),
    }
    match provider.rotate(&unknown).await {
        Err(KeyError::NotFound(_)) => {}
        other => panic!("rotate of an unknown key: expected NotFound, got {other:?}"),
    }
}

async fn invalid_tenant_id_is_refused(provider: &dyn KeyProvider) {
    for tenant in ["", "a/b", "../etc", "tenant with spaces"] {
        match provider.create_tenant_key(tenant).await {
            Err(KeyError::Other(_)) => {}
            other => panic!("create_tenant_key({tenant:?}): expected an error, got {other:?}"),
        }
    }
}

/// A destroyed key (an offboarded tenant's) unwraps nothing wrapped under
/// it, before or after a rotation, wraps nothing new and rotates no more;
/// another tenant's key is untouched; destroying again, or a key never
/// created, succeeds (a resumed offboarding repeats it).
async fn destroyed_key_unwraps_nothing(provider: &dyn KeyProvider, quirks: Quirks) {
    let doomed = tenant_key(provider, "offboarded").await;
    let kept = tenant_key(provider, "staying").await;
    let ctx = context("offboarded", "rec-1");
    let kept_ctx = context("staying", "rec-1");
    let (_, before_rotation) = generate(provider, &doomed, &ctx).await;
    provider
        .rotate(&doomed)
        .await
        .expect("rotate before destroy");
    let (_, after_rotation) = generate(provider, &doomed, &ctx).await;
    let (kept_key, kept_wrapped) = generate(provider, &kept, &kept_ctx).await;

    provider
        .destroy_key(&doomed)
        .await
        .expect("destroy the tenant key");

    assert_gone(provider.check_key(&doomed).await, "check_key");
    if !quirks.pending_deletion_still_decrypts {
        assert_gone(
            provider.decrypt(&before_rotation, &ctx).await,
            "decrypt a key wrapped before the rotation",
        );
        assert_gone(
            provider.decrypt(&after_rotation, &ctx).await,
            "decrypt a key wrapped after the rotation",
        );
        assert_gone(
            provider.generate_data_key(&doomed, &ctx).await,
            "generate under the destroyed key",
        );
        assert_gone(
            provider.rewrap(&before_rotation, &ctx, &kept).await,
            "rewrap off the destroyed key",
        );
    }

    assert!(
        same_key(
            &kept_key,
            &decrypt(provider, &kept_wrapped, &kept_ctx).await
        ),
        "destroying one tenant's key touched another's"
    );
    provider
        .check_key(&kept)
        .await
        .expect("the other key is usable");

    provider
        .destroy_key(&doomed)
        .await
        .expect("destroying twice succeeds");
    provider
        .destroy_key(&KeyRef(UNKNOWN_KEY.to_owned()))
        .await
        .expect("destroying a key never created succeeds");
}

fn assert_gone<T: std::fmt::Debug>(result: Result<T, KeyError>, what: &str) {
    match result {
        Err(KeyError::NotFound(_) | KeyError::Disabled(_)) => {}
        other => panic!("{what} after destroy: expected NotFound or Disabled, got {other:?}"),
    }
}
