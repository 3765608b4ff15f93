//! Builds the services from the configuration and runs them: all of them
//! in one process and one HTTP server (`--target all`, the embedded
//! default), or one of them.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use callvault_auth::signed_url::UrlSigner;
use callvault_blob::BlobStore;
use callvault_bus::Bus;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::metadata::{MetadataClient, serve_metadata};
use callvault_bus::outbox::{OutboxRelay, RelayHandle};
use callvault_contracts::events::{Event, RecordingIngestedV1};
use callvault_contracts::metadata_api::MetadataApi;
use callvault_gateway::{AuthConfig, GatewayState, JwksSource, PlaybackLinks, TokenVerifier};
use callvault_ingestion::IngestionState;
use callvault_keys::KeyProvider;
use callvault_metadata::{IngestedConsumer, MetadataService, PiiKeys};
use callvault_storage::RecordingStore;
use callvault_storage::playback::PlaybackState;
use callvault_storage::records::StorageRecords;
use tracing::info;

use crate::Target;
use crate::adapters::{KeyProviderTenantKeys, StorageSink};
use crate::config::{BlobBackend, Config, KeyProviderKind};
use crate::secrets::Secrets;
use crate::token::{audience, issuer};

/// How long the gateway waits for a service's reply on the bus.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn migrate(config: &Config) -> Result<(), String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    callvault_storage::records::connect(&config.database_url("storage"))
        .await
        .map_err(|e| format!("storage database: {e}"))?;
    callvault_metadata::connect(&config.database_url("metadata"))
        .await
        .map_err(|e| format!("metadata database: {e}"))?;
    callvault_ingestion::connect(&config.database_url("ingestion"))
        .await
        .map_err(|e| format!("ingestion database: {e}"))?;
    println!("migrations applied");
    Ok(())
}

async fn blob_store(config: &Config) -> Result<Arc<dyn BlobStore>, String> {
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
                .ok_or("blob.s3_bucket is required with the s3 backend")?;
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

async fn key_provider(config: &Config) -> Result<Arc<dyn KeyProvider>, String> {
    match config.keys.provider {
        KeyProviderKind::Local => {
            let path = config
                .keys
                .keyring_file
                .clone()
                .unwrap_or_else(|| config.data_dir.join("keyring.json"));
            let keyring = callvault_keys::local::LocalKeyring::open(path)
                .map_err(|e| format!("local keyring: {e}"))?;
            Ok(Arc::new(keyring))
        }
        KeyProviderKind::Kms => {
            let client = callvault_keys::kms::client_from_env(
                config.keys.kms_endpoint.as_deref(),
                config.keys.kms_region.as_deref(),
            )
            .await;
            Ok(Arc::new(callvault_keys::kms::KmsKeyProvider::new(client)))
        }
    }
}

/// Everything the HTTP server mounts, and the background tasks to stop.
struct Services {
    gateway: Option<web::Data<GatewayState>>,
    ingestion: Option<web::Data<IngestionState>>,
    playback: Option<web::Data<PlaybackState>>,
    relays: Vec<RelayHandle>,
}

pub async fn serve(config: Config, target: Target) -> Result<(), String> {
    crate::telemetry::init();
    if target != Target::All {
        // The in-process bus joins services inside one process only; one
        // service per process needs the RabbitMQ bus of the distributed mode.
        return Err(format!(
            "--target {target:?} needs a network bus (RabbitMQ, the distributed mode), which this build \
             does not have yet; run `callvault serve` (all services in one process)"
        )
        .to_lowercase());
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    let secrets = Secrets::load_or_generate(&config).map_err(|e| e.to_string())?;
    let services = build_all(&config, &secrets).await?;

    let public_url = config.public_url();
    println!(
        "callvault {} — all services in one process, data in {}",
        env!("CARGO_PKG_VERSION"),
        config.data_dir.display()
    );
    println!("  GraphQL:    {public_url}/graphql   (GraphiQL: open it in a browser)");
    println!("  recorders:  {public_url}/v1/recordings");
    println!(
        "  playback:   {public_url}/v1/playback/…   (signed URLs from the GraphQL `playbackUrl` field)"
    );
    println!("  first platform-admin token: callvault admin token   (run it in this directory)");

    let Services {
        gateway,
        ingestion,
        playback,
        relays,
    } = services;
    let server = HttpServer::new(move || {
        let mut app = App::new().route(
            "/healthz",
            web::get().to(|| async { HttpResponse::Ok().body("ok") }),
        );
        if let Some(state) = &gateway {
            app = app.configure(callvault_gateway::configure(state.clone()));
        }
        if let Some(state) = &ingestion {
            app = app.configure(callvault_ingestion::configure(state.clone()));
        }
        if let Some(state) = &playback {
            app = app.configure(callvault_storage::playback::configure(state.clone()));
        }
        app
    })
    .bind(&config.listen)
    .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?
    .shutdown_timeout(30)
    .run();
    info!(listen = %config.listen, "serving");
    // actix stops on SIGTERM/SIGINT after draining in-flight requests.
    server.await.map_err(|e| format!("server failed: {e}"))?;
    for relay in relays {
        relay.shutdown().await;
    }
    Ok(())
}

async fn build_all(config: &Config, secrets: &Secrets) -> Result<Services, String> {
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let keys = key_provider(config).await?;

    // storage
    let storage_db = callvault_storage::records::connect(&config.database_url("storage"))
        .await
        .map_err(|e| format!("storage database: {e}"))?;
    let store = Arc::new(RecordingStore::new(
        blob_store(config).await?,
        keys.clone(),
        StorageRecords::new(storage_db),
    ));
    let signer = UrlSigner::new(&secrets.url_signing).map_err(|e| e.to_string())?;
    let playback = web::Data::new(PlaybackState {
        store: store.clone(),
        signer: signer.clone(),
    });

    // metadata: serves its API on the bus and consumes ingestion's events.
    let metadata_db = callvault_metadata::connect(&config.database_url("metadata"))
        .await
        .map_err(|e| format!("metadata database: {e}"))?;
    let pii = PiiKeys::new(secrets.pii);
    let metadata = MetadataService::new(
        metadata_db.clone(),
        Arc::new(KeyProviderTenantKeys(keys.clone())),
        pii.clone(),
    );
    serve_metadata(bus.as_ref(), Arc::new(metadata))
        .await
        .map_err(|e| e.to_string())?;
    bus.subscribe(
        "metadata",
        &[RecordingIngestedV1::TOPIC],
        Arc::new(IngestedConsumer::new(metadata_db.clone(), pii)),
    )
    .await
    .map_err(|e| e.to_string())?;
    let metadata_client: Arc<dyn MetadataApi> =
        Arc::new(MetadataClient::new(bus.clone(), RPC_TIMEOUT));

    // ingestion: its outbox feeds the bus through a relay (consumers are
    // subscribed above, before any relay runs, so nothing is published to
    // an empty topic).
    let ingestion_db = callvault_ingestion::connect(&config.database_url("ingestion"))
        .await
        .map_err(|e| format!("ingestion database: {e}"))?;
    let relay = OutboxRelay::new(ingestion_db.clone(), bus.clone()).spawn();
    let notifier = relay.notifier();
    let ingestion = web::Data::new(IngestionState::new(
        ingestion_db,
        metadata_client.clone(),
        Arc::new(StorageSink(store)),
        Some(Arc::new(move || notifier.notify())),
    ));
    let metadata_relay = OutboxRelay::new(metadata_db, bus.clone()).spawn();

    // gateway
    let mut auth = AuthConfig::new(issuer(config), audience(config));
    auth.hs256_secret = Some(secrets.jwt_hs256.clone());
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
        &config.public_url(),
        callvault_gateway::DEFAULT_PLAYBACK_TTL_SECS,
    )
    .map_err(|e| e.to_string())?;
    let gateway = web::Data::new(GatewayState::new(verifier, metadata_client, links));

    Ok(Services {
        gateway: Some(gateway),
        ingestion: Some(ingestion),
        playback: Some(playback),
        relays: vec![relay, metadata_relay],
    })
}
