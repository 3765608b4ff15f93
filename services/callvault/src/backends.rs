//! The blob store and key provider the configuration names.

use std::sync::Arc;

use anyhow::Context;

use callvault_blob::BlobStore;
use callvault_keys::{KeyProvider, Traced};

use crate::config::{BlobBackend, Config, KeyProviderKind};

pub async fn blob_store(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    match config.blob.backend {
        BlobBackend::Fs => {
            let root = config
                .blob
                .fs_root
                .clone()
                .unwrap_or_else(|| config.data_dir.join("blobs"));
            Ok(Arc::new(callvault_blob::fs::FsBlobStore::new(root)))
        }
        BlobBackend::S3 => {
            let bucket = config
                .blob
                .s3_bucket
                .clone()
                .context("blob.s3_bucket is required with the s3 backend")?;
            let region = config
                .blob
                .s3_region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned());
            let client =
                callvault_blob::s3::client_for(config.blob.s3_endpoint.as_deref(), &region).await;
            Ok(Arc::new(callvault_blob::s3::S3BlobStore::new(
                client, bucket,
            )))
        }
    }
}

pub async fn key_provider(config: &Config) -> anyhow::Result<Arc<dyn KeyProvider>> {
    let provider: Arc<dyn KeyProvider> = match config.keys.provider {
        KeyProviderKind::Local => {
            let path = config
                .keys
                .keyring_file
                .clone()
                .unwrap_or_else(|| config.data_dir.join("keyring.json"));
            let keyring =
                callvault_keys::local::LocalKeyring::open(path).context("local keyring")?;
            Arc::new(keyring)
        }
        KeyProviderKind::Kms => {
            let client = callvault_keys::kms::client_from_env(
                config.keys.kms_endpoint.as_deref(),
                config.keys.kms_region.as_deref(),
            )
            .await;
            Arc::new(callvault_keys::kms::KmsKeyProvider::new(client))
        }
    };
    // Every key operation of the process is a span, whichever backend
    // answers it and whichever service asks.
    Ok(Arc::new(Traced::new(provider)))
}
