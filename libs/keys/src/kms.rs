//! The distributed mode's key provider: one AWS KMS key per tenant, named by
//! the alias `alias/callvault/tenant-<tenant>`. Data keys come from
//! `GenerateDataKey` with the recording's encryption context; KMS keeps the
//! master keys, so neither this process nor the database ever sees them.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyMetadata, KeySpec, KeyState, KeyUsageType, Tag};
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::{DataKey, EncryptionContext, KeyError, KeyProvider, KeyRef, WrappedKey};

/// A hung KMS call must surface as `Unavailable` (503, retry) rather than
/// hold an upload or a playback open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long KMS waits before deleting a key created by an onboarding that
/// lost a race for the alias.
const ORPHAN_KEY_DELETION_DAYS: i32 = 7;

/// The shortest pending window KMS allows for a key deletion: from the
/// schedule on the key refuses every use, and KMS deletes it after.
const MIN_DELETION_WINDOW_DAYS: i32 = 7;

/// A KMS client for a local peer (moto, a test fake, LocalStack): static
/// placeholder credentials, `endpoint` when given. Real AWS wants the
/// default credential chain: use [`client_from_env`].
pub fn client_for(endpoint: Option<&str>, region: &str) -> Client {
    let credentials = Credentials::new("test", "test", None, None, "static");
    let mut builder = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .timeout_config(timeouts());
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Client::from_conf(builder.build())
}

/// A KMS client for real AWS: credentials from the default chain
/// (environment, profile, web identity / IRSA, instance metadata), region
/// from `region` or the environment, optional `endpoint` (a VPC endpoint).
pub async fn client_from_env(endpoint: Option<&str>, region: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_kms::config::Builder::from(&shared).timeout_config(timeouts());
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Client::from_conf(builder.build())
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Key provider over AWS KMS. Cheap to clone (the client is shared).
#[derive(Clone, Debug)]
pub struct KmsKeyProvider {
    client: Client,
}

impl KmsKeyProvider {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn describe(&self, key: &str) -> Result<KeyMetadata, KeyError> {
        let output = self
            .client
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|error| map_error("describe key", key, error))?;
        output.key_metadata.ok_or_else(|| {
            KeyError::Other(format!("kms describe key returned no metadata for {key}"))
        })
    }
}

#[async_trait]
impl KeyProvider for KmsKeyProvider {
    async fn create_tenant_key(&self, tenant: &str) -> Result<KeyRef, KeyError> {
        crate::validate_tenant(tenant)?;
        let alias = format!("alias/callvault/tenant-{tenant}");
        match self.describe(&alias).await {
            Ok(_) => return Ok(KeyRef(alias)),
            Err(KeyError::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
        let tag = Tag::builder()
            .tag_key("tenant")
            .tag_value(tenant)
            .build()
            .map_err(|error| KeyError::Other(format!("cannot build the tenant tag: {error}")))?;
        let created = self
            .client
            .create_key()
            .description(format!("callvault data keys of tenant {tenant}"))
            .key_spec(KeySpec::SymmetricDefault)
            .key_usage(KeyUsageType::EncryptDecrypt)
            .tags(tag)
            .send()
            .await
            .map_err(|error| map_error("create key", &alias, error))?;
        let Some(key_id) = created.key_metadata.map(|metadata| metadata.key_id) else {
            return Err(KeyError::Other(
                "kms create key returned no key id".to_owned(),
            ));
        };
        let aliased = self
            .client
            .create_alias()
            .alias_name(&alias)
            .target_key_id(&key_id)
            .send()
            .await;
        match aliased {
            Ok(_) => info!(tenant = %tenant, key_id = %key_id, "created kms tenant key"),
            // Another onboarding of this tenant won: its key is the tenant's
            // key, and ours must not linger as an unnamed, billed key.
            Err(error) if error.code() == Some("AlreadyExistsException") => {
                warn!(tenant = %tenant, key_id = %key_id, "tenant alias created concurrently; scheduling deletion of the unused key");
                let scheduled = self
                    .client
                    .schedule_key_deletion()
                    .key_id(&key_id)
                    .pending_window_in_days(ORPHAN_KEY_DELETION_DAYS)
                    .send()
                    .await;
                if let Err(error) = scheduled {
                    warn!(key_id = %key_id, error = %DisplayErrorContext(&error), "cannot schedule deletion of the unused key");
                }
            }
            Err(error) => return Err(map_error("create alias", &alias, error)),
        }
        Ok(KeyRef(alias))
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        context: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), KeyError> {
        let mut output = self
            .client
            .generate_data_key()
            .key_id(&key.0)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(|error| map_error("generate data key", &key.0, error))?;
        let data_key = take_data_key(output.plaintext.take(), "generate data key")?;
        let Some(ciphertext) = output.ciphertext_blob.take() else {
            return Err(KeyError::Other(
                "kms generate data key returned no ciphertext".to_owned(),
            ));
        };
        // The key ARN names the exact key even if the alias is later moved.
        let key_ref = output.key_id.take().map_or_else(|| key.clone(), KeyRef);
        let wrapped = WrappedKey {
            key_ref,
            ciphertext: ciphertext.into_inner(),
        };
        Ok((data_key, wrapped))
    }

    async fn decrypt(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        // Naming the key makes KMS refuse a blob wrapped under any other key
        // (another tenant's) instead of decrypting whatever it was given.
        let mut output = self
            .client
            .decrypt()
            .key_id(&wrapped.key_ref.0)
            .ciphertext_blob(Blob::new(wrapped.ciphertext.clone()))
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(|error| map_error("decrypt", &wrapped.key_ref.0, error))?;
        take_data_key(output.plaintext.take(), "decrypt")
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
        new_key: &KeyRef,
    ) -> Result<WrappedKey, KeyError> {
        let kms_context = kms_context(context);
        let mut output = self
            .client
            .re_encrypt()
            .ciphertext_blob(Blob::new(wrapped.ciphertext.clone()))
            .source_key_id(&wrapped.key_ref.0)
            .set_source_encryption_context(Some(kms_context.clone()))
            .destination_key_id(&new_key.0)
            .set_destination_encryption_context(Some(kms_context))
            .send()
            .await
            .map_err(|error| {
                // KMS doesn't say which of the two keys it refused.
                let keys = format!("{} or {}", wrapped.key_ref.0, new_key.0);
                map_error("re-encrypt", &keys, error)
            })?;
        let Some(ciphertext) = output.ciphertext_blob.take() else {
            return Err(KeyError::Other(
                "kms re-encrypt returned no ciphertext".to_owned(),
            ));
        };
        let key_ref = output.key_id.take().map_or_else(|| new_key.clone(), KeyRef);
        Ok(WrappedKey {
            key_ref,
            ciphertext: ciphertext.into_inner(),
        })
    }

    async fn check_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        let metadata = self.describe(&key.0).await?;
        if metadata.key_state() != Some(&KeyState::Enabled) {
            let state = metadata
                .key_state()
                .map_or("unknown", |state| state.as_str());
            return Err(KeyError::Disabled(format!("{} (state {state})", key.0)));
        }
        if metadata.key_spec() != Some(&KeySpec::SymmetricDefault)
            || metadata.key_usage() != Some(&KeyUsageType::EncryptDecrypt)
        {
            return Err(KeyError::Other(format!(
                "kms key {} is not a symmetric encryption key",
                key.0
            )));
        }
        Ok(())
    }

    async fn rotate(&self, key: &KeyRef) -> Result<(), KeyError> {
        // RotateKeyOnDemand takes a key id or ARN, not an alias.
        let key_id = self.describe(&key.0).await?.key_id;
        self.client
            .rotate_key_on_demand()
            .key_id(&key_id)
            .send()
            .await
            .map_err(|error| map_error("rotate key on demand", &key.0, error))?;
        info!(key = %key.0, key_id = %key_id, "rotated kms key");
        Ok(())
    }

    async fn destroy_key(&self, key: &KeyRef) -> Result<(), KeyError> {
        // ScheduleKeyDeletion takes a key id or ARN, not an alias; the alias
        // goes with the key when KMS deletes it.
        let metadata = match self.describe(&key.0).await {
            Ok(metadata) => metadata,
            // Never created, or already deleted: nothing left to destroy.
            Err(KeyError::NotFound(_)) => return Ok(()),
            Err(error) => return Err(error),
        };
        if metadata.key_state() == Some(&KeyState::PendingDeletion) {
            return Ok(());
        }
        let key_id = metadata.key_id;
        let scheduled = self
            .client
            .schedule_key_deletion()
            .key_id(&key_id)
            .pending_window_in_days(MIN_DELETION_WINDOW_DAYS)
            .send()
            .await;
        match scheduled {
            Ok(_) => {}
            // Scheduled by a concurrent call since the describe.
            Err(error) if error.code() == Some("KMSInvalidStateException") => {}
            Err(error) => return Err(map_error("schedule key deletion", &key.0, error)),
        }
        info!(key = %key.0, key_id = %key_id, days = MIN_DELETION_WINDOW_DAYS, "kms key scheduled for deletion");
        Ok(())
    }
}

fn kms_context(context: &EncryptionContext) -> HashMap<String, String> {
    context
        .entries()
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Moves the plaintext out of the SDK's response into a `DataKey`, wiping
/// the intermediate buffer.
fn take_data_key(plaintext: Option<Blob>, operation: &str) -> Result<DataKey, KeyError> {
    let Some(plaintext) = plaintext else {
        return Err(KeyError::Other(format!(
            "kms {operation} returned no plaintext"
        )));
    };
    let bytes = Zeroizing::new(plaintext.into_inner());
    DataKey::from_slice(&bytes).ok_or_else(|| {
        KeyError::Other(format!(
            "kms {operation} returned a data key of the wrong size"
        ))
    })
}

/// Maps an SDK error onto the provider's error kinds. Messages name the
/// operation and the key, and carry KMS's own text, never key material.
fn map_error<E>(operation: &str, key: &str, error: SdkError<E, HttpResponse>) -> KeyError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = || format!("kms {operation}: {}", DisplayErrorContext(&error));
    match &error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            return KeyError::Unavailable(detail());
        }
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => {}
        _ => return KeyError::Other(detail()),
    }
    match error.code() {
        Some("NotFoundException") => KeyError::NotFound(key.to_owned()),
        // KMS answers AccessDenied both for a missing permission and for a
        // key it won't admit exists to this caller.
        Some("AccessDeniedException") => KeyError::NotFound(key.to_owned()),
        Some("DisabledException" | "KMSInvalidStateException") => {
            KeyError::Disabled(key.to_owned())
        }
        Some(
            "InvalidCiphertextException" | "IncorrectKeyException" | "InvalidKeyUsageException",
        ) => KeyError::InvalidCiphertext,
        Some(
            "KeyUnavailableException"
            | "DependencyTimeoutException"
            | "KMSInternalException"
            | "ThrottlingException",
        ) => KeyError::Unavailable(detail()),
        _ => {
            let server_side = error
                .raw_response()
                .is_some_and(|response| response.status().is_server_error());
            if server_side {
                return KeyError::Unavailable(detail());
            }
            KeyError::Other(detail())
        }
    }
}
