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

use callvault_auth::signed_url::UrlSigner;
use callvault_bus::metadata::MetadataClient;
use callvault_contracts::metadata_api::MetadataApi;
use callvault_ingestion::remote_sink::RemoteStorageSink;
use callvault_ingestion::{ReconcileReport, Reconciler, RecordingSink};
use callvault_storage::RecordingStore;
use callvault_storage::records::StorageRecords;
use sea_orm::DatabaseConnection;

use crate::Target;
use crate::adapters::{KeyProviderTenantKeys, StorageSink};
use crate::backends::{blob_store, key_provider};
use crate::config::{BusKind, Config, read_secret};
use crate::secrets::Secrets;
use crate::serve::{RPC_TIMEOUT, bus};

const CANNOT_RUN: u8 = 2;

pub fn run(config: &Config) -> ExitCode {
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
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
            eprintln!("callvault: {error}");
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
async fn open(url: String, what: &str) -> Result<DatabaseConnection, String> {
    let mut options = sea_orm::ConnectOptions::new(url);
    options.sqlx_logging(false);
    sea_orm::Database::connect(options)
        .await
        .map_err(|e| format!("cannot open the {what} database: {e}"))
}

async fn sink(config: &Config) -> Result<Arc<dyn RecordingSink>, String> {
    if config.storage_url.is_some() {
        let secret = read_secret(
            &config.secrets.url_signing,
            &config.secrets.url_signing_file,
            "url_signing",
        )
        .map_err(|e| e.to_string())?
        .ok_or("storage_url is set: reaching storage needs secrets.url_signing")?;
        let signer = UrlSigner::new(&secret).map_err(|e| e.to_string())?;
        return Ok(Arc::new(RemoteStorageSink::new(
            config.storage_url(),
            signer,
            reqwest::Client::new(),
        )));
    }
    let records = open(config.database_url("storage"), "storage").await?;
    let store = RecordingStore::new(
        blob_store(config).await?,
        key_provider(config).await?,
        StorageRecords::new(records),
    );
    Ok(Arc::new(StorageSink(Arc::new(store))))
}

/// The metadata service, to ask whether a recording is catalogued.
async fn catalogue(config: &Config) -> Result<Arc<dyn MetadataApi>, String> {
    if config.bus.kind == BusKind::Rabbitmq {
        let (bus, _) = bus(config, Target::Ingestion).await?;
        return Ok(Arc::new(MetadataClient::new(bus, RPC_TIMEOUT)));
    }
    // Embedded: the catalogue is this data directory's, read in process.
    let db = open(config.database_url("metadata"), "metadata").await?;
    let secrets = Secrets::load_or_generate(config).map_err(|e| e.to_string())?;
    let keys = Arc::new(KeyProviderTenantKeys(key_provider(config).await?));
    Ok(Arc::new(callvault_metadata::MetadataService::new(
        db,
        keys,
        callvault_metadata::PiiKeys::new(secrets.pii),
    )))
}

async fn reconcile(config: &Config) -> Result<ReconcileReport, String> {
    let db = open(config.database_url("ingestion"), "ingestion").await?;
    let reconciler = Reconciler::new(db, sink(config).await?, catalogue(config).await?)
        .with_stale_after(Duration::from_secs(config.ingestion.stale_after_secs))
        .with_grace(Duration::from_secs(config.ingestion.reconcile_grace_secs));
    reconciler
        .run()
        .await
        .map_err(|error| format!("{error}; before stopping: {}", summary(&error.partial)))
}
