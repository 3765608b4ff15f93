//! How the ingestion service starts: its uploads database, its outbox
//! relay, the reconciler timer and the recorder upload route.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use anyhow::Context;
use callvault_bus::outbox::OutboxRelay;
use callvault_bus::{Bus, RpcClient};
use callvault_runtime::Module;

use crate::tus::Tus;
use crate::{IngestionState, RecordingSink};

/// How often expired resumable uploads are looked for: every minute, or
/// twice per expiry when that is shorter.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

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
    /// Where resumable uploads' sealed parts wait (on this process's data
    /// directory), and how long one may stay untouched before it expires.
    pub staging_dir: std::path::PathBuf,
    pub resumable_expiry: Duration,
}

/// What the ingestion module needs from the process.
pub struct IngestionDependencies {
    /// Where audio goes: the storage service in this process, or over HTTP.
    pub sink: Arc<dyn RecordingSink>,
    pub bus: Arc<dyn Bus>,
    /// Reaches the metadata service (API keys, the catalogue).
    pub rpc: RpcClient,
    /// Derives the keys resumable uploads are staged under
    /// (`secrets.pii`).
    pub staging_root: [u8; 32],
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
    .with_max_upload_bytes(settings.max_upload_bytes)
    .with_tus(Tus::new(
        settings.staging_dir,
        &deps.staging_root,
        settings.resumable_expiry,
    ));
    let reconciler = Arc::new(state.reconciler().with_grace(settings.reconcile_grace));
    let state = web::Data::new(state);
    let routes = state.clone();
    let sweep_every = SWEEP_EVERY
        .min(settings.resumable_expiry / 2)
        .max(Duration::from_secs(1));
    let sweeping = state.clone();
    let sweep_db = db.clone();
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
        // Removes resumable uploads nobody finished in time.
        .with_timer(sweep_every, move || {
            let state = sweeping.clone();
            let db = sweep_db.clone();
            async move {
                if let Some(tus) = state.tus()
                    && let Err(error) = tus.sweep(&db).await
                {
                    tracing::warn!(%error, "resumable upload sweep failed");
                }
            }
        })
        .with_http(move |config| crate::configure(routes.clone())(config));
    Ok(StartedIngestion { module, state })
}
