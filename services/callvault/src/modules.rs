//! Each module built from the configuration and what the process shares:
//! the only place that knows both the configuration's keys and the
//! services' settings.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use callvault_billing::module::{BillingDependencies, BillingSettings};
use callvault_disclosure::AudioSource;
use callvault_disclosure::module::{DisclosureDependencies, DisclosureSettings};
use callvault_gateway::module::GatewayDependencies;
use callvault_gateway::{AuthConfig, JwksSource, PlaybackLinks, TokenVerifier, UserPseudonyms};
use callvault_ingestion::RecordingSink;
use callvault_ingestion::module::{IngestionDependencies, IngestionSettings};
use callvault_ingestion::remote_sink::RemoteStorageSink;
use callvault_metadata::module::{MetadataDependencies, MetadataSettings};
use callvault_metadata::{Clock, ManifestKeys, PiiKeys};
use callvault_runtime::Module;
use callvault_storage::module::{StorageDependencies, StorageSettings};
use callvault_webhooks::module::{WebhooksDependencies, WebhooksSettings};
use tracing::warn;

use crate::Target;
use crate::adapters::{KeyProviderTenantKeys, RemoteAudio, StorageSink, StoreAudio};
use crate::backends::blob_store;
use crate::config::Config;
use crate::process::Process;
use crate::token::{audience, issuer};

pub async fn start(target: Target, process: &mut Process) -> anyhow::Result<Module> {
    match target {
        Target::Storage => storage(process).await,
        Target::Metadata => metadata(process).await,
        Target::Ingestion => ingestion(process).await,
        Target::Gateway => gateway(process).await,
        Target::Disclosure => disclosure(process).await,
        Target::Billing => billing(process).await,
        Target::Webhooks => webhooks(process).await,
        Target::All => anyhow::bail!("`all` is not a module"),
    }
}

async fn storage(process: &mut Process) -> anyhow::Result<Module> {
    let config = &process.config;
    let settings = StorageSettings {
        database_url: config.database_url("storage"),
        sweep_interval: Duration::from_secs(config.storage.sweep_interval_secs),
        sweep_grace: Duration::from_secs(config.storage.sweep_grace_secs),
        scrub_interval: Duration::from_secs(config.storage.scrub_interval_secs),
        scrub_share_percent: config.storage.scrub_share_percent,
    };
    let deps = StorageDependencies {
        blobs: blob_store(config).await?,
        keys: process.keys()?,
        signer: process.signer.clone(),
        bus: process.bus.clone(),
    };
    let started = callvault_storage::module::start(settings, deps).await?;
    process.store = Some(started.store);
    Ok(started.module)
}

async fn metadata(process: &mut Process) -> anyhow::Result<Module> {
    let config = &process.config;
    let settings = MetadataSettings {
        database_url: config.database_url("metadata"),
        deletion_interval: Duration::from_secs(config.lifecycle.deletion_interval_secs),
        clock: lifecycle_clock(config),
        catalogue_key_cache: Duration::from_secs(config.keys.catalogue_key_cache_secs),
    };
    let deps = MetadataDependencies {
        keys: Arc::new(KeyProviderTenantKeys(process.keys()?)),
        key_provider: process.keys()?,
        pii: PiiKeys::new(process.secrets.pii),
        manifest: ManifestKeys::new(process.secrets.manifest_signing.clone()),
        bus: process.bus.clone(),
        rpc: process.rpc.clone(),
    };
    callvault_metadata::module::start(settings, deps).await
}

async fn disclosure(process: &mut Process) -> anyhow::Result<Module> {
    let config = &process.config;
    // In the storage process, from its store; elsewhere over HTTP, with
    // signed playback URLs.
    let audio: Arc<dyn AudioSource> = match &process.store {
        Some(store) => Arc::new(StoreAudio(store.clone())),
        None => Arc::new(RemoteAudio::new(
            config.storage_url(),
            process.signer.clone(),
            reqwest::Client::new(),
        )),
    };
    let settings = DisclosureSettings {
        database_url: config.database_url("disclosure"),
        timer_interval: Duration::from_secs(config.disclosure.timer_interval_secs),
        clock: lifecycle_clock(config),
    };
    let deps = DisclosureDependencies {
        bus: process.bus.clone(),
        rpc: process.rpc.clone(),
        keys: process.keys()?,
        blobs: blob_store(config).await?,
        audio,
        signer: process.signer.clone(),
    };
    callvault_disclosure::module::start(settings, deps).await
}

async fn billing(process: &mut Process) -> anyhow::Result<Module> {
    let config = &process.config;
    let settings = BillingSettings {
        database_url: config.database_url("billing"),
        timer_interval: Duration::from_secs(config.billing.timer_interval_secs),
        grace: Duration::from_secs(config.billing.grace_hours.saturating_mul(3600)),
        clock: lifecycle_clock(config),
        invoice_font: config.billing.invoice_font_path.clone(),
    };
    let deps = BillingDependencies {
        bus: process.bus.clone(),
        rpc: process.rpc.clone(),
    };
    callvault_billing::module::start(settings, deps).await
}

async fn webhooks(process: &mut Process) -> anyhow::Result<Module> {
    let config = &process.config;
    let settings = WebhooksSettings {
        database_url: config.database_url("webhooks"),
        worker_interval: Duration::from_secs(config.webhooks.worker_interval_secs),
        allow_networks: config.webhooks.allow_networks.clone(),
        delivery: callvault_webhooks::DeliveryOptions {
            per_endpoint_concurrency: usize::try_from(config.webhooks.per_endpoint_concurrency)
                .unwrap_or(usize::MAX)
                .max(1),
            ..Default::default()
        },
    };
    let deps = WebhooksDependencies {
        bus: process.bus.clone(),
        rpc: process.rpc.clone(),
        // Derived from the blind-index secret, as the gateway's pseudonym
        // key: every process has it and it never rotates.
        seal: callvault_webhooks::secret::SecretSeal::derive(&process.secrets.pii),
    };
    callvault_webhooks::module::start(settings, deps).await
}

async fn ingestion(process: &mut Process) -> anyhow::Result<Module> {
    let config = &process.config;
    // In the storage process, straight into its store; elsewhere over HTTP.
    let sink: Arc<dyn RecordingSink> = match &process.store {
        Some(store) => Arc::new(StorageSink(store.clone())),
        None => Arc::new(RemoteStorageSink::new(
            config.storage_url(),
            process.signer.clone(),
            reqwest::Client::new(),
        )),
    };
    let settings = IngestionSettings {
        database_url: config.database_url("ingestion"),
        stale_after: Duration::from_secs(config.ingestion.stale_after_secs),
        max_upload_bytes: config.ingestion.max_upload_bytes,
        reconcile_interval: Duration::from_secs(config.ingestion.reconcile_interval_secs),
        reconcile_grace: Duration::from_secs(config.ingestion.reconcile_grace_secs),
        staging_dir: config.data_dir.join("uploads"),
        resumable_expiry: Duration::from_secs(config.ingestion.resumable_expiry_secs),
    };
    let deps = IngestionDependencies {
        sink,
        bus: process.bus.clone(),
        rpc: process.rpc.clone(),
        staging_root: process.secrets.pii,
    };
    let started = callvault_ingestion::module::start(settings, deps).await?;
    process.readiness.uploads(started.state.metrics());
    Ok(started.module)
}

async fn gateway(process: &mut Process) -> anyhow::Result<Module> {
    let config = &process.config;
    let mut auth = AuthConfig::new(issuer(config), audience(config));
    auth.leeway_secs = config.auth.leeway_secs;
    auth.max_lifetime_secs = config.auth.max_token_lifetime_secs;
    // Locally signed tokens (`callvault admin token`) are for the embedded
    // mode: behind an identity provider they are accepted only when an
    // HS256 secret is configured on purpose.
    let hs256_configured =
        config.auth.hs256_secret.is_some() || config.auth.hs256_secret_file.is_some();
    let has_jwks = config.auth.jwks_url.is_some() || config.auth.jwks_file.is_some();
    if hs256_configured || !has_jwks {
        auth.hs256_secret = Some(process.secrets.jwt_hs256.clone());
    }
    auth.jwks = match (&config.auth.jwks_url, &config.auth.jwks_file) {
        (Some(url), _) => Some(JwksSource::Url(url.clone())),
        (None, Some(file)) => Some(JwksSource::File(file.clone())),
        (None, None) => None,
    };
    let verifier = Arc::new(TokenVerifier::new(auth).await.context("auth")?);
    let links = PlaybackLinks::new(
        process.signer.clone(),
        &config.storage_url(),
        callvault_gateway::DEFAULT_PLAYBACK_TTL_SECS,
    )?
    .with_bundle_base(&config.disclosure_url())?;
    Ok(callvault_gateway::module::start(GatewayDependencies {
        verifier,
        links,
        rpc: process.rpc.clone(),
        bus: process.bus.clone(),
        // A key of its own for `user.active`'s pseudonyms, derived from the
        // blind-index secret: every process has it and it never rotates,
        // so a person keeps one pseudonym across gateways and restarts.
        pseudonyms: UserPseudonyms::derive(&process.secrets.pii),
        introspection: config.auth.introspection,
    }))
}

/// The wall clock, moved forward by `lifecycle.clock_offset_secs` for
/// retention drills.
fn lifecycle_clock(config: &Config) -> Clock {
    let offset = chrono::Duration::seconds(config.lifecycle.clock_offset_secs);
    if !offset.is_zero() {
        warn!(
            offset_secs = config.lifecycle.clock_offset_secs,
            "lifecycle clock is offset: recordings will be deleted early (drills and tests only)"
        );
    }
    Arc::new(move || chrono::Utc::now() + offset)
}
