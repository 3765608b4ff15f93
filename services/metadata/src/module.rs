//! How the metadata service starts: its database, its operations on the
//! bus, the catalogue's consumer of `recording.ingested`, the deletion and
//! manifest timer, and its outbox relay.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use callvault_bus::outbox::OutboxRelay;
use callvault_bus::{Bus, RpcClient};
use callvault_contracts::events::{Event, RecordingIngestedV1, RecordingIntegrityFailedV1};
use callvault_contracts::metadata_api::TenantKeys;
use callvault_runtime::Module;
use tracing::{info, warn};

use crate::integrity::IntegrityConsumer;
use crate::{Clock, IngestedConsumer, ManifestKeys, MetadataService, PiiKeys};

/// The metadata module's settings.
pub struct MetadataSettings {
    pub database_url: String,
    /// How often due recordings are shredded and yesterday's manifests
    /// signed (zero: never).
    pub deletion_interval: Duration,
    /// What time it is for retention (drills move it forward).
    pub clock: Clock,
}

/// What the metadata module needs from the process.
pub struct MetadataDependencies {
    /// Tenants' master keys, from the key provider storage uses.
    pub keys: Arc<dyn TenantKeys>,
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
    let service = Arc::new(
        MetadataService::new(db.clone(), deps.keys, deps.pii.clone())
            .with_storage(deps.rpc)
            .with_manifest_keys(deps.manifest)
            .with_clock(settings.clock),
    );
    service
        .router()
        .serve(deps.bus.as_ref())
        .await
        .context("serving metadata operations")?;
    let consumer = Arc::new(IngestedConsumer::new(db.clone(), deps.pii));
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
    let relay = OutboxRelay::new(db.clone(), deps.bus).spawn();
    let module = Module::new("metadata")
        .with_outbox("metadata database", db, relay)
        .with_timer(settings.deletion_interval, move || {
            let service = service.clone();
            async move { lifecycle_pass(&service).await }
        });
    Ok(module)
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
