//! `callvault reconcile`: one pass of ingestion's reconciler with the
//! configured backends, the report printed. Storage is reached over HTTP
//! when `storage_url` is set (as `serve --target ingestion` does, with the
//! URL-signing secret), in process otherwise (its database, blob store and
//! key provider). The catalogue is asked over the RabbitMQ bus when that is
//! the configured bus, else in process (this data directory's metadata
//! database). Exit status: 0 the pass completed with nothing failed or held
//! back, 1 something could not be discarded (the next pass retries it) or
//! was held back, 2 the pass could not run or stopped (configuration, a
//! database, storage down).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use callvault_auth::signed_url::UrlSigner;
use callvault_bus::RpcClient;
use callvault_bus::in_process::InProcessBus;
use callvault_ingestion::remote_sink::RemoteStorageSink;
use callvault_ingestion::{ReconcileReport, Reconciler, RecordingSink};
use callvault_storage::RecordingStore;
use callvault_storage::records::StorageRecords;
use sea_orm::DatabaseConnection;

use crate::Target;
use crate::adapters::{KeyProviderTenantKeys, StorageSink};
use crate::backends::{blob_store, key_provider};
use crate::config::{BusKind, Config, read_secret};
use crate::process::{RPC_TIMEOUT, bus};
use crate::secrets::Secrets;

const CANNOT_RUN: u8 = 2;

pub fn run(config: &Config) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(reconcile(config)));
    match outcome {
        Ok(report) => {
            println!("{}", summary(&report));
            // Held-back orphans need a person to look: not a clean run.
            if report.failed == 0 && report.held_back == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("callvault: {}", crate::describe(&error));
            ExitCode::from(CANNOT_RUN)
        }
    }
}

fn summary(report: &ReconcileReport) -> String {
    format!(
        "reconciled: {} checked, {} kept, {} discarded, {} failed, {} held back",
        report.checked, report.kept, report.discarded, report.failed, report.held_back
    )
}

/// Opens a service's database as it is: no migration (a newer binary must
/// not change a running deployment's schema), no SQLite file created.
async fn open(url: String, what: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = sea_orm::ConnectOptions::new(url);
    options.sqlx_logging(false);
    sea_orm::Database::connect(options)
        .await
        .with_context(|| format!("cannot open the {what} database"))
}

async fn sink(config: &Config) -> anyhow::Result<Arc<dyn RecordingSink>> {
    if config.storage_url.is_some() {
        let secret = read_secret(
            &config.secrets.url_signing,
            &config.secrets.url_signing_file,
            "url_signing",
        )?
        .context("storage_url is set: reaching storage needs secrets.url_signing")?;
        let signer = UrlSigner::new(&secret).context("secrets.url_signing")?;
        return Ok(Arc::new(RemoteStorageSink::new(
            config.storage_url(),
            signer,
            reqwest::Client::new(),
        )));
    }
    let records = open(config.database_url("storage"), "storage").await?;
    // The backends report text, as serve.rs takes them.
    let store = RecordingStore::new(
        blob_store(config).await?,
        key_provider(config).await?,
        StorageRecords::new(records),
    );
    Ok(Arc::new(StorageSink(Arc::new(store))))
}

/// The metadata service, to ask whether a recording is catalogued.
async fn catalogue(config: &Config) -> anyhow::Result<RpcClient> {
    if config.bus.kind == BusKind::Rabbitmq {
        let (bus, _) = bus(config, &[Target::Ingestion], false).await?;
        return Ok(RpcClient::new(bus, RPC_TIMEOUT));
    }
    // Embedded: the catalogue is this data directory's, asked in process.
    let db = open(config.database_url("metadata"), "metadata").await?;
    let secrets = Secrets::load_or_generate(config)?;
    let provider = key_provider(config).await?;
    let pii = callvault_metadata::CatalogueKeys::new(provider.clone())
        .with_legacy(callvault_metadata::PiiKeys::new(secrets.pii));
    let keys = Arc::new(KeyProviderTenantKeys(provider));
    let service = Arc::new(callvault_metadata::MetadataService::new(db, keys, pii));
    let bus = Arc::new(InProcessBus::new());
    service.router().serve(bus.as_ref()).await?;
    Ok(RpcClient::new(bus, RPC_TIMEOUT))
}

async fn reconcile(config: &Config) -> anyhow::Result<ReconcileReport> {
    let db = open(config.database_url("ingestion"), "ingestion").await?;
    let reconciler = Reconciler::new(db, sink(config).await?, catalogue(config).await?)
        .with_stale_after(Duration::from_secs(config.ingestion.stale_after_secs))
        .with_grace(Duration::from_secs(config.ingestion.reconcile_grace_secs));
    // The failure's message already holds its cause.
    reconciler.run().await.map_err(|error| {
        anyhow!(
            "{}; before stopping: {}",
            error.source,
            summary(&error.partial)
        )
    })
}
