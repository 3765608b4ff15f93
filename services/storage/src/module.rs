//! How the storage service starts: its records database and the relay of
//! its outbox, the store over the blob store and key provider the process
//! chose, its bus operations and consumer, the sweep and scrub timers and
//! the playback and upload routes.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use anyhow::Context;
use callvault_auth::signed_url::UrlSigner;
use callvault_blob::BlobStore;
use callvault_bus::Bus;
use callvault_bus::outbox::OutboxRelay;
use callvault_contracts::events::{Event, TenantKeyChangedV1};
use callvault_keys::KeyProvider;
use callvault_runtime::Module;
use tracing::warn;

use crate::operations::{KeyChangeConsumer, router};
use crate::playback::PlaybackState;
use crate::records::StorageRecords;
use crate::upload::UploadState;
use crate::{IntegrityAlarm, RecordingStore, Scrubber, records};

/// The storage module's settings.
pub struct StorageSettings {
    pub database_url: String,
    /// How often the sweep runs (zero: never).
    pub sweep_interval: Duration,
    /// The sweep only takes writes started this long ago.
    pub sweep_grace: Duration,
    /// How often the scrub runs (zero: never).
    pub scrub_interval: Duration,
    /// The share of the stored recordings each scrub reads whole, in %.
    pub scrub_share_percent: u8,
}

/// What the storage module needs from the process.
pub struct StorageDependencies {
    pub blobs: Arc<dyn BlobStore>,
    pub keys: Arc<dyn KeyProvider>,
    pub signer: UrlSigner,
    pub bus: Arc<dyn Bus>,
}

pub struct StartedStorage {
    pub module: Module,
    /// For services in the same process that store through it directly.
    pub store: Arc<RecordingStore>,
}

pub async fn start(
    settings: StorageSettings,
    deps: StorageDependencies,
) -> anyhow::Result<StartedStorage> {
    let db = records::connect(&settings.database_url)
        .await
        .context("storage database")?;
    crate::integrity::register_metrics();
    // Publishes what the store enqueues with its changes (recording.stored,
    // .discarded, .shredded) and what playback served (recording.served).
    let relay = OutboxRelay::new(db.clone(), deps.bus.clone()).spawn();
    let store = Arc::new(
        RecordingStore::new(deps.blobs, deps.keys, StorageRecords::new(db.clone()))
            .with_alarm(IntegrityAlarm::with_bus(deps.bus.clone()))
            .with_relay(relay.notifier()),
    );
    // The metadata service's deletions reach the store over the bus, in one
    // process as across several.
    router(&store)
        .serve(deps.bus.as_ref())
        .await
        .context("serving storage operations")?;
    deps.bus
        .subscribe(
            "storage",
            &[TenantKeyChangedV1::TOPIC],
            Arc::new(KeyChangeConsumer(store.clone())),
        )
        .await
        .context("subscribing to key changes")?;
    let sweeper = Arc::new(store.sweeper().with_grace(settings.sweep_grace));
    let scrubber = Arc::new(Scrubber::new(store.clone(), settings.scrub_share_percent));
    let playback = web::Data::new(PlaybackState {
        store: store.clone(),
        signer: deps.signer.clone(),
    });
    let upload = web::Data::new(UploadState {
        store: store.clone(),
        signer: deps.signer,
    });
    let module = Module::new("storage")
        .with_outbox("storage database", db, relay)
        // Removes objects stores killed mid-write left without their
        // record, and their half-written uploads.
        .with_timer(settings.sweep_interval, move || {
            let sweeper = sweeper.clone();
            async move {
                // A pass logs what it removed; a failed one is retried next time.
                if let Err(error) = sweeper.run().await {
                    warn!(code = error.code(), %error, "sweep stopped");
                }
            }
        })
        // Reads a share of the recordings whole, so damage is found before
        // anybody needs them; each damaged one is raised on the alarm.
        .with_timer(settings.scrub_interval, move || {
            let scrubber = scrubber.clone();
            async move {
                if let Err(error) = scrubber.run(chrono::Utc::now()).await {
                    warn!(code = error.code(), %error, "scrub stopped");
                }
            }
        })
        .with_http(move |config| {
            crate::playback::configure(playback.clone())(config);
            crate::upload::configure(upload.clone())(config);
        });
    Ok(StartedStorage { module, store })
}
