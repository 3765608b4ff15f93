//! How the ingestion service starts: its uploads database, its outbox
//! relay, the reconciler timer and the recorder upload route.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use anyhow::Context;
use callvault_bus::outbox::OutboxRelay;
use callvault_bus::{Bus, RpcClient};
use callvault_runtime::Module;

use crate::{IngestionState, RecordingSink};

/// The ingestion module's settings.
pub struct IngestionSettings {
    pub database_url: String,
    /// An upload silent this long is abandoned.
    pub stale_after: Duration,
    /// The largest upload accepted (413 above it).
    pub max_upload_bytes: u64,
    /// How often the reconciler runs (zero: never).
    pub reconcile_interval: Duration,
    /// The reconciler only looks at recordings stored this long ago.
    pub reconcile_grace: Duration,
}

/// What the ingestion module needs from the process.
pub struct IngestionDependencies {
    /// Where audio goes: the storage service in this process, or over HTTP.
    pub sink: Arc<dyn RecordingSink>,
    pub bus: Arc<dyn Bus>,
    /// Reaches the metadata service (API keys, the catalogue).
    pub rpc: RpcClient,
}

pub struct StartedIngestion {
    pub module: Module,
    pub state: web::Data<IngestionState>,
}

pub async fn start(
    settings: IngestionSettings,
    deps: IngestionDependencies,
) -> anyhow::Result<StartedIngestion> {
    let db = crate::connect(&settings.database_url)
        .await
        .context("ingestion database")?;
    let relay = OutboxRelay::new(db.clone(), deps.bus).spawn();
    let notifier = relay.notifier();
    let state = IngestionState::new(
        db.clone(),
        deps.rpc,
        deps.sink,
        Some(Arc::new(move || notifier.notify())),
    )
    .with_stale_after(settings.stale_after)
    .with_max_upload_bytes(settings.max_upload_bytes);
    let reconciler = Arc::new(state.reconciler().with_grace(settings.reconcile_grace));
    let state = web::Data::new(state);
    let routes = state.clone();
    let module = Module::new("ingestion")
        .with_outbox("ingestion database", db, relay)
        // Discards recordings storage holds that no upload will ever commit.
        .with_timer(settings.reconcile_interval, move || {
            let reconciler = reconciler.clone();
            async move {
                // The pass logs its own report, or why it stopped; the next
                // retries.
                let _outcome = reconciler.run().await;
            }
        })
        .with_http(move |config| crate::configure(routes.clone())(config));
    Ok(StartedIngestion { module, state })
}
