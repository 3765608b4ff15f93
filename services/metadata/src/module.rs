//! How the metadata service starts: its database, its operations on the
//! bus, the catalogue's consumer of `recording.ingested`, the deletion and
//! manifest timer, and its outbox relay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use callvault_bus::outbox::OutboxRelay;
use callvault_bus::{Bus, RpcClient};
use callvault_contracts::events::{Event, RecordingIngestedV1, RecordingIntegrityFailedV1};
use callvault_contracts::metadata_api::TenantKeys;
use callvault_keys::KeyProvider;
use callvault_runtime::Module;
use sea_orm::DatabaseConnection;
use tracing::{info, warn};

use crate::integrity::IntegrityConsumer;
use crate::pii_rekey::{DEFAULT_BATCH, rekey_catalogue};
use crate::{CatalogueKeys, Clock, IngestedConsumer, ManifestKeys, MetadataService, PiiKeys};

/// The metadata module's settings.
pub struct MetadataSettings {
    pub database_url: String,
    /// How often due recordings are shredded and yesterday's manifests
    /// signed (zero: never).
    pub deletion_interval: Duration,
    /// What time it is for retention (drills move it forward).
    pub clock: Clock,
    /// How long a tenant's unwrapped catalogue key is kept in memory: the
    /// longest a revoked master key still reads its phone numbers.
    pub catalogue_key_cache: Duration,
}

/// What the metadata module needs from the process.
pub struct MetadataDependencies {
    /// Tenants' master keys, from the key provider storage uses.
    pub keys: Arc<dyn TenantKeys>,
    /// The same provider, for the tenants' catalogue keys.
    pub key_provider: Arc<dyn KeyProvider>,
    /// The platform secret phone numbers were sealed with before they moved
    /// to the tenants' keys; read only to move what is left.
    pub pii: PiiKeys,
    pub manifest: ManifestKeys,
    pub bus: Arc<dyn Bus>,
    /// Reaches the storage service (shredding).
    pub rpc: RpcClient,
}

/// Starts the service; its consumer subscribes before its relay runs, so
/// nothing it publishes goes to a topic nobody listens to yet.
pub async fn start(
    settings: MetadataSettings,
    deps: MetadataDependencies,
) -> anyhow::Result<Module> {
    let db = crate::connect(&settings.database_url, &deps.pii)
        .await
        .context("metadata database")?;
    let catalogue_keys = CatalogueKeys::new(deps.key_provider)
        .with_legacy(deps.pii)
        .with_cache_ttl(settings.catalogue_key_cache);
    // Before anything is served: a search must not meet numbers still
    // indexed under the platform secret.
    let report = rekey_catalogue(&db, &catalogue_keys, DEFAULT_BATCH)
        .await
        .context("moving phone numbers to the tenants' keys")?;
    let rekey_pending = Arc::new(AtomicBool::new(!report.skipped_tenants.is_empty()));
    let service = Arc::new(
        MetadataService::new(db.clone(), deps.keys, catalogue_keys.clone())
            .with_storage(deps.rpc)
            .with_manifest_keys(deps.manifest)
            .with_clock(settings.clock),
    );
    service
        .router()
        .serve(deps.bus.as_ref())
        .await
        .context("serving metadata operations")?;
    let consumer = Arc::new(IngestedConsumer::new(db.clone(), catalogue_keys.clone()));
    deps.bus
        .subscribe("metadata", &[RecordingIngestedV1::TOPIC], consumer)
        .await
        .context("subscribing to recording.ingested")?;
    // Its own queue: a burst of integrity events never waits behind a
    // backlog of ingests, nor the other way round.
    deps.bus
        .subscribe(
            crate::integrity::CONSUMER,
            &[RecordingIntegrityFailedV1::TOPIC],
            Arc::new(IntegrityConsumer::new(db.clone())),
        )
        .await
        .context("subscribing to recording.integrity_failed")?;
    let db_for_rekey = db.clone();
    let relay = OutboxRelay::new(db.clone(), deps.bus).spawn();
    let module = Module::new("metadata")
        .with_outbox("metadata database", db, relay)
        .with_timer(settings.deletion_interval, move || {
            let service = service.clone();
            let rekey = (
                db_for_rekey.clone(),
                catalogue_keys.clone(),
                rekey_pending.clone(),
            );
            async move {
                lifecycle_pass(&service).await;
                rekey_leftovers(&rekey.0, &rekey.1, &rekey.2).await;
            }
        });
    Ok(module)
}

/// Moves the phone numbers of tenants whose key was unusable at start, once
/// it is usable again.
async fn rekey_leftovers(db: &DatabaseConnection, keys: &CatalogueKeys, pending: &AtomicBool) {
    if !pending.load(Ordering::Relaxed) {
        return;
    }
    match rekey_catalogue(db, keys, DEFAULT_BATCH).await {
        Ok(report) => pending.store(!report.skipped_tenants.is_empty(), Ordering::Relaxed),
        Err(err) => warn!(error = %err, "moving phone numbers to the tenants' keys failed"),
    }
}

/// Finishes interrupted offboardings, shreds what is due (except what is
/// on hold) and signs yesterday's manifests.
async fn lifecycle_pass(service: &MetadataService) {
    // An offboarding a crash interrupted is finished first: its tenant
    // stays frozen until then.
    service.resume_offboardings().await;
    // Each tenant's run logs its own outcome (certificate or error).
    service.run_due_deletions().await;
    match service.sign_yesterdays_manifests().await {
        Ok(signed) => info!(signed, "daily manifests signed"),
        Err(err) => warn!(code = err.code.as_str(), "signing daily manifests failed"),
    }
}
