//! How the disclosure service starts: its database, its operations on the
//! bus, the bundle download route, the timer and the outbox relay.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use anyhow::Context;
use callvault_auth::signed_url::UrlSigner;
use callvault_blob::BlobStore;
use callvault_bus::outbox::OutboxRelay;
use callvault_bus::{Bus, RpcClient};
use callvault_keys::KeyProvider;
use callvault_runtime::Module;
use tracing::info;

use crate::bundle_job::{AudioSource, BundleBuilder};
use crate::http::DownloadState;
use crate::vault::BundleVault;
use crate::{Clock, DisclosureService};

pub struct DisclosureSettings {
    pub database_url: String,
    /// How often deadlines are watched, bundles shredded after their
    /// retention and interrupted work finished (zero: never).
    pub timer_interval: Duration,
    pub clock: Clock,
}

pub struct DisclosureDependencies {
    pub bus: Arc<dyn Bus>,
    /// Reaches the metadata service.
    pub rpc: RpcClient,
    /// The tenants' master keys (requests' personal data, bundles).
    pub keys: Arc<dyn KeyProvider>,
    /// Where bundles are kept: the recordings' blob store.
    pub blobs: Arc<dyn BlobStore>,
    /// Where the recordings' audio is read (the storage service).
    pub audio: Arc<dyn AudioSource>,
    /// Verifies the signed bundle download links the gateway hands out.
    pub signer: UrlSigner,
}

pub async fn start(
    settings: DisclosureSettings,
    deps: DisclosureDependencies,
) -> anyhow::Result<Module> {
    let db = crate::connect(&settings.database_url)
        .await
        .context("disclosure database")?;
    let vault = BundleVault::new(deps.blobs, deps.keys.clone());
    let builder = Arc::new(BundleBuilder::new(vault, deps.audio));
    let service = Arc::new(
        DisclosureService::new(db.clone(), deps.rpc, deps.keys)
            .with_bundles(builder)
            .with_clock(settings.clock),
    );
    service
        .router()
        .serve(deps.bus.as_ref())
        .await
        .context("serving disclosure operations")?;
    let relay = OutboxRelay::new(db.clone(), deps.bus).spawn();
    let download = web::Data::new(DownloadState {
        service: service.clone(),
        signer: deps.signer,
    });
    let module = Module::new("disclosure")
        .with_outbox("disclosure database", db, relay)
        .with_timer(settings.timer_interval, move || {
            let service = service.clone();
            async move {
                let report = service.run_timer().await;
                if report != crate::TimerReport::default() {
                    info!(?report, "disclosure timer pass");
                }
            }
        })
        .with_http(move |config| crate::http::configure(download.clone())(config));
    Ok(module)
}
