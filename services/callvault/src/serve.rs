//! Builds the services from the configuration and runs them: every one in
//! one process and one HTTP server (`--target all`, the embedded default),
//! or one per process (`--target storage|metadata|ingestion|gateway`),
//! which needs the RabbitMQ bus.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use callvault_auth::signed_url::UrlSigner;
use callvault_bus::Bus;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::lifecycle::serve_lifecycle;
use callvault_bus::metadata::{MetadataClient, serve_metadata};
use callvault_bus::outbox::{OutboxRelay, RelayHandle};
use callvault_bus::rabbitmq::{RabbitMqBus, RabbitMqOptions};
use callvault_bus::storage::{StorageClient, serve_storage};
use callvault_contracts::events::{Event, RecordingIngestedV1, TenantKeyChangedV1};
use callvault_contracts::metadata_api::MetadataApi;
use callvault_gateway::{AuthConfig, GatewayState, JwksSource, PlaybackLinks, TokenVerifier};
use callvault_ingestion::remote_sink::RemoteStorageSink;
use callvault_ingestion::{IngestionState, Reconciler, RecordingSink};
use callvault_metadata::{Clock, IngestedConsumer, ManifestKeys, MetadataService, PiiKeys};
use callvault_storage::playback::PlaybackState;
use callvault_storage::records::StorageRecords;
use callvault_storage::upload::UploadState;
use callvault_storage::{RecordingStore, Sweeper};
use tracing::{info, warn};

use crate::Target;
use crate::adapters::{KeyChangeConsumer, KeyProviderTenantKeys, StorageSink, StoreShredder};
use crate::backends::{blob_store, key_provider};
use crate::config::{BusKind, Config, read_secret};
use crate::readiness::Readiness;
use crate::secrets::Secrets;
use crate::token::{audience, issuer};

/// How long a caller waits for a service's reply on the bus.
pub(crate) const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// How long each consumer may take to finish its message at shutdown.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(30);

pub async fn migrate(config: &Config) -> Result<(), String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    callvault_storage::records::connect(&config.database_url("storage"))
        .await
        .map_err(|e| format!("storage database: {e}"))?;
    // The metadata migrations re-index phone numbers, which needs their key.
    let secrets = Secrets::load_or_generate(config).map_err(|e| e.to_string())?;
    callvault_metadata::connect(&config.database_url("metadata"), &PiiKeys::new(secrets.pii))
        .await
        .map_err(|e| format!("metadata database: {e}"))?;
    callvault_ingestion::connect(&config.database_url("ingestion"))
        .await
        .map_err(|e| format!("ingestion database: {e}"))?;
    println!("migrations applied");
    Ok(())
}

/// Everything the HTTP server mounts, and the background tasks to stop.
#[derive(Default)]
struct Mounted {
    gateway: Option<web::Data<GatewayState>>,
    ingestion: Option<web::Data<IngestionState>>,
    playback: Option<web::Data<PlaybackState>>,
    upload: Option<web::Data<UploadState>>,
    relays: Vec<RelayHandle>,
    /// Timers (the deletion worker, the reconciler, the sweep): aborted at
    /// shutdown, since a run interrupted between its steps is picked up by
    /// the next one.
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// Drained at shutdown: its consumers finish the message in hand.
    broker: Option<Arc<RabbitMqBus>>,
    readiness: Readiness,
}

fn runs(target: Target, service: Target) -> bool {
    target == Target::All || target == service
}

/// The bus, and the RabbitMQ handle behind it when there is one (for
/// `/readyz`).
pub(crate) async fn bus(
    config: &Config,
    target: Target,
) -> Result<(Arc<dyn Bus>, Option<Arc<RabbitMqBus>>), String> {
    match config.bus.kind {
        BusKind::InProcess if target == Target::All => Ok((Arc::new(InProcessBus::new()), None)),
        BusKind::InProcess => Err(format!(
            "--target {} runs one service per process, which needs bus.kind = \"rabbitmq\" \
             (CALLVAULT_BUS__KIND=rabbitmq CALLVAULT_BUS__URL=amqp://…)",
            target.name()
        )),
        BusKind::Rabbitmq => {
            let url = read_secret(&config.bus.url, &config.bus.url_file, "bus.url")
                .map_err(|e| e.to_string())?
                .ok_or("bus.url is required with the rabbitmq bus")?;
            let url = String::from_utf8(url).map_err(|_| "bus.url is not utf-8")?;
            let defaults = RabbitMqOptions::default();
            let prefix = &config.bus.name_prefix;
            let options = RabbitMqOptions {
                connection_name: format!("callvault-{}", target.name()),
                exchange: format!("{prefix}{}", defaults.exchange),
                dead_letter_exchange: format!("{prefix}{}", defaults.dead_letter_exchange),
                name_prefix: prefix.clone(),
                ..defaults
            };
            let bus = RabbitMqBus::connect(&url, options)
                .await
                .map_err(|e| format!("bus: {e}"))?;
            let bus = Arc::new(bus);
            Ok((bus.clone(), Some(bus)))
        }
    }
}

pub async fn serve(config: Config, target: Target) -> Result<(), String> {
    crate::telemetry::init();
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    let secrets = if target == Target::All {
        Secrets::load_or_generate(&config)
    } else {
        Secrets::require_configured(&config)
    }
    .map_err(|e| e.to_string())?;
    let (bus, broker) = bus(&config, target).await?;
    let mut mounted = Mounted::default();
    if let Some(broker) = broker {
        mounted.readiness.broker(broker.clone());
        mounted.broker = Some(broker);
    }
    let signer = UrlSigner::new(&secrets.url_signing).map_err(|e| e.to_string())?;

    // One key provider per process: the local keyring keeps its keys in
    // memory, so two instances over one file would not see each other's
    // new tenant keys (separate processes use KMS).
    let keys = if runs(target, Target::Storage) || runs(target, Target::Metadata) {
        Some(key_provider(&config).await?)
    } else {
        None
    };
    let store = if let (true, Some(keys)) = (runs(target, Target::Storage), keys.clone()) {
        let db = callvault_storage::records::connect(&config.database_url("storage"))
            .await
            .map_err(|e| format!("storage database: {e}"))?;
        let store = Arc::new(RecordingStore::new(
            blob_store(&config).await?,
            keys,
            StorageRecords::new(db.clone()),
        ));
        mounted.readiness.database("storage database", db);
        if config.storage.sweep_interval_secs > 0 {
            let sweeper = store
                .sweeper()
                .with_grace(Duration::from_secs(config.storage.sweep_grace_secs));
            mounted.workers.push(tokio::spawn(sweep_worker(
                sweeper,
                Duration::from_secs(config.storage.sweep_interval_secs),
            )));
        }
        mounted.playback = Some(web::Data::new(PlaybackState {
            store: store.clone(),
            signer: signer.clone(),
        }));
        mounted.upload = Some(web::Data::new(UploadState {
            store: store.clone(),
            signer: signer.clone(),
        }));
        // The metadata service's deletions reach the store over the bus, in
        // one process as across several.
        serve_storage(bus.as_ref(), Arc::new(StoreShredder(store.clone())))
            .await
            .map_err(|e| e.to_string())?;
        bus.subscribe(
            "storage",
            &[TenantKeyChangedV1::TOPIC],
            Arc::new(KeyChangeConsumer(store.clone())),
        )
        .await
        .map_err(|e| e.to_string())?;
        Some(store)
    } else {
        None
    };

    // Consumers subscribe before any outbox relay of this process runs, so
    // nothing is published to a topic nobody listens to yet. Across
    // processes, start metadata before ingestion for the same reason.
    if runs(target, Target::Metadata) {
        let pii = PiiKeys::new(secrets.pii);
        let db = callvault_metadata::connect(&config.database_url("metadata"), &pii)
            .await
            .map_err(|e| format!("metadata database: {e}"))?;
        let keys = keys.clone().ok_or("metadata needs a key provider")?;
        let keys = Arc::new(KeyProviderTenantKeys(keys));
        mounted
            .readiness
            .database_with_outbox("metadata database", db.clone());
        let shredder = Arc::new(StorageClient::new(bus.clone(), RPC_TIMEOUT));
        let metadata = Arc::new(
            MetadataService::new(db.clone(), keys, pii.clone())
                .with_shredder(shredder)
                .with_manifest_keys(ManifestKeys::new(secrets.manifest_signing.clone()))
                .with_clock(lifecycle_clock(&config)),
        );
        serve_metadata(bus.as_ref(), metadata.clone())
            .await
            .map_err(|e| e.to_string())?;
        serve_lifecycle(bus.as_ref(), metadata.clone())
            .await
            .map_err(|e| e.to_string())?;
        if config.lifecycle.deletion_interval_secs > 0 {
            mounted.workers.push(tokio::spawn(lifecycle_worker(
                metadata,
                Duration::from_secs(config.lifecycle.deletion_interval_secs),
            )));
        }
        let consumer = Arc::new(IngestedConsumer::new(db.clone(), pii));
        bus.subscribe("metadata", &[RecordingIngestedV1::TOPIC], consumer)
            .await
            .map_err(|e| e.to_string())?;
        mounted
            .relays
            .push(OutboxRelay::new(db, bus.clone()).spawn());
    }
    let metadata_client: Arc<dyn MetadataApi> =
        Arc::new(MetadataClient::new(bus.clone(), RPC_TIMEOUT));

    if runs(target, Target::Ingestion) {
        let db = callvault_ingestion::connect(&config.database_url("ingestion"))
            .await
            .map_err(|e| format!("ingestion database: {e}"))?;
        let sink: Arc<dyn RecordingSink> = match &store {
            Some(store) => Arc::new(StorageSink(store.clone())),
            None => Arc::new(RemoteStorageSink::new(
                config.storage_url(),
                signer.clone(),
                reqwest::Client::new(),
            )),
        };
        mounted
            .readiness
            .database_with_outbox("ingestion database", db.clone());
        let relay = OutboxRelay::new(db.clone(), bus.clone()).spawn();
        let notifier = relay.notifier();
        mounted.relays.push(relay);
        let ingestion = IngestionState::new(
            db,
            metadata_client.clone(),
            sink,
            Some(Arc::new(move || notifier.notify())),
        )
        .with_stale_after(Duration::from_secs(config.ingestion.stale_after_secs));
        if config.ingestion.reconcile_interval_secs > 0 {
            let reconciler = ingestion
                .reconciler()
                .with_grace(Duration::from_secs(config.ingestion.reconcile_grace_secs));
            mounted.workers.push(tokio::spawn(reconcile_worker(
                reconciler,
                Duration::from_secs(config.ingestion.reconcile_interval_secs),
            )));
        }
        mounted.readiness.uploads(ingestion.metrics());
        mounted.ingestion = Some(web::Data::new(ingestion));
    }

    if runs(target, Target::Gateway) {
        let mut auth = AuthConfig::new(issuer(&config), audience(&config));
        // Locally signed tokens (`callvault admin token`) are for the
        // embedded mode: behind an identity provider they are accepted only
        // when an HS256 secret is configured on purpose.
        let hs256_configured =
            config.auth.hs256_secret.is_some() || config.auth.hs256_secret_file.is_some();
        let has_jwks = config.auth.jwks_url.is_some() || config.auth.jwks_file.is_some();
        if hs256_configured || !has_jwks {
            auth.hs256_secret = Some(secrets.jwt_hs256.clone());
        }
        auth.jwks = match (&config.auth.jwks_url, &config.auth.jwks_file) {
            (Some(url), _) => Some(JwksSource::Url(url.clone())),
            (None, Some(file)) => Some(JwksSource::File(file.clone())),
            (None, None) => None,
        };
        let verifier = Arc::new(
            TokenVerifier::new(auth)
                .await
                .map_err(|e| format!("auth: {e}"))?,
        );
        let links = PlaybackLinks::new(
            signer,
            &config.storage_url(),
            callvault_gateway::DEFAULT_PLAYBACK_TTL_SECS,
        )
        .map_err(|e| e.to_string())?;
        mounted.gateway = Some(web::Data::new(GatewayState::new(
            verifier,
            metadata_client,
            Arc::new(callvault_bus::lifecycle::LifecycleClient::new(
                bus.clone(),
                RPC_TIMEOUT,
            )),
            links,
        )));
    }

    print_banner(&config, target);
    run_http(&config, mounted).await
}

fn print_banner(config: &Config, target: Target) {
    let public_url = config.public_url();
    println!(
        "callvault {} — target {}, data in {}",
        env!("CARGO_PKG_VERSION"),
        target.name(),
        config.data_dir.display()
    );
    if runs(target, Target::Gateway) {
        println!("  GraphQL:    {public_url}/graphql   (GraphiQL: open it in a browser)");
        println!(
            "  first platform-admin token: callvault admin token   (run it in this directory)"
        );
    }
    if runs(target, Target::Ingestion) {
        println!("  recorders:  {public_url}/v1/recordings");
    }
    if runs(target, Target::Storage) {
        println!(
            "  playback:   {public_url}/v1/playback/…   (signed URLs from the GraphQL `playbackUrl` field)"
        );
    }
}

async fn run_http(config: &Config, mounted: Mounted) -> Result<(), String> {
    let Mounted {
        gateway,
        ingestion,
        playback,
        upload,
        relays,
        workers,
        broker,
        readiness,
    } = mounted;
    let readiness = web::Data::new(readiness);
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(readiness.clone())
            .route(
                "/healthz",
                web::get().to(|| async { HttpResponse::Ok().body("ok") }),
            )
            .route("/readyz", web::get().to(crate::readiness::readyz))
            .route("/metrics", web::get().to(crate::readiness::metrics));
        if let Some(state) = &gateway {
            app = app.configure(callvault_gateway::configure(state.clone()));
        }
        if let Some(state) = &ingestion {
            app = app.configure(callvault_ingestion::configure(state.clone()));
        }
        if let Some(state) = &playback {
            app = app.configure(callvault_storage::playback::configure(state.clone()));
        }
        if let Some(state) = &upload {
            app = app.configure(callvault_storage::upload::configure(state.clone()));
        }
        app
    })
    .workers(config.http_workers)
    .bind(&config.listen)
    .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?
    .shutdown_timeout(30)
    .run();
    info!(listen = %config.listen, "serving");
    // actix stops on SIGTERM/SIGINT after draining in-flight requests
    // (uploads included), then the rest stops in dependency order: timers,
    // consumers (finishing the message in hand), relays (publishing what
    // the last requests wrote), the broker connection.
    server.await.map_err(|e| format!("server failed: {e}"))?;
    info!("draining");
    for worker in workers {
        worker.abort();
    }
    if let Some(broker) = &broker {
        broker.drain(SHUTDOWN_DRAIN).await;
    }
    for relay in relays {
        relay.shutdown().await;
    }
    if let Some(broker) = broker
        && let Err(err) = broker.close().await
    {
        warn!(error = %err, "closing the broker connection");
    }
    info!("stopped");
    Ok(())
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

/// Runs `pass` every `interval`, the first time one interval after start,
/// so a restart loop can't turn into a deletion or discard loop. A pass
/// that overruns delays the next tick instead of bunching them.
async fn every<F, Fut>(interval: Duration, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        pass().await;
    }
}

/// Shreds what is due (except what is on hold) and signs yesterday's
/// manifests.
async fn lifecycle_worker(metadata: Arc<MetadataService>, interval: Duration) {
    every(interval, || async {
        // Each tenant's run logs its own outcome (certificate or error).
        metadata.run_due_deletions().await;
        match metadata.sign_yesterdays_manifests().await {
            Ok(signed) => info!(signed, "daily manifests signed"),
            Err(err) => warn!(code = err.code.as_str(), "signing daily manifests failed"),
        }
    })
    .await;
}

/// Discards recordings storage holds that no upload will ever commit.
async fn reconcile_worker(reconciler: Reconciler, interval: Duration) {
    every(interval, || async {
        // The pass logs its own report, or why it stopped; the next retries.
        let _outcome = reconciler.run().await;
    })
    .await;
}

/// Removes objects stores killed mid-write left without their record, and
/// their half-written uploads; a pass cut short by shutdown is finished by
/// the next one.
async fn sweep_worker(sweeper: Sweeper, interval: Duration) {
    every(interval, || async {
        // A pass logs what it removed; a failed one is retried next time.
        if let Err(error) = sweeper.run().await {
            warn!(code = error.code(), %error, "sweep stopped");
        }
    })
    .await;
}
