//! The distributed deployment in miniature: storage, metadata, ingestion
//! and gateway each the real binary in its own process, on PostgreSQL (a
//! fresh database per service), RabbitMQ (queues and exchanges under a
//! prefix of the run's own) and S3 + KMS (moto).

use std::future::Future;
use std::sync::Arc;

use callvault_bus::rabbitmq::{RabbitMqBus, RabbitMqOptions};
use callvault_bus::{Bus, EventHandler, HandlerError, Message};
use callvault_e2e::Callvault;
use callvault_testkit::{MotoServer, PgTestDatabase};
use reqwest::StatusCode;

use crate::support::create_bucket;

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const BUCKET: &str = "recordings";

pub struct Cluster {
    pub storage: Callvault,
    pub metadata: Callvault,
    pub ingestion: Callvault,
    pub gateway: Callvault,
    pub moto: MotoServer,
    /// The run's broker prefix: its queues are `<prefix><consumer>`.
    pub prefix: String,
}

fn random_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
}

/// Starts a cluster with `extra_env` added to every process's environment,
/// runs `body` on it, and then, whether `body` passed or panicked, removes
/// its databases and broker topology (the processes and moto are killed
/// when `body` drops the cluster).
pub async fn with_cluster<F, Fut>(extra_env: &[(&str, &str)], body: F)
where
    F: FnOnce(Cluster) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let databases = [
        PgTestDatabase::create().await,
        PgTestDatabase::create().await,
        PgTestDatabase::create().await,
    ];
    let urls = [0, 1, 2].map(|i| databases[i].url.clone());
    let prefix = format!("e2e-{}.", uuid::Uuid::new_v4().simple());
    let extra_env: Vec<(String, String)> = extra_env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // Its own task, so that a failed check unwinds there and the cleanup
    // below still runs.
    let run_prefix = prefix.clone();
    let outcome = tokio::spawn(async move {
        let cluster = Cluster::start(urls, run_prefix, &extra_env).await;
        body(cluster).await;
    })
    .await;
    delete_broker_topology(&prefix).await;
    for db in databases {
        db.drop_database().await;
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

impl Cluster {
    async fn start(urls: [String; 3], prefix: String, extra_env: &[(String, String)]) -> Self {
        let [storage_url, metadata_url, ingestion_url] = urls;
        let moto = MotoServer::start();
        let client = reqwest::Client::new();
        create_bucket(&client, &moto.endpoint(), BUCKET).await;
        let (jwt, url_signing, pii, manifest_signing) = (
            random_secret(),
            random_secret(),
            random_secret(),
            random_secret(),
        );
        let endpoint = moto.endpoint();
        let mut common: Vec<(&str, &str)> = vec![
            ("CALLVAULT_BUS__KIND", "rabbitmq"),
            ("CALLVAULT_BUS__URL", AMQP_URL),
            ("CALLVAULT_BUS__NAME_PREFIX", &prefix),
            ("CALLVAULT_AUTH__HS256_SECRET", &jwt),
            ("CALLVAULT_SECRETS__URL_SIGNING", &url_signing),
            ("CALLVAULT_SECRETS__PII", &pii),
            ("CALLVAULT_SECRETS__MANIFEST_SIGNING", &manifest_signing),
            ("CALLVAULT_DATABASE__STORAGE_URL", &storage_url),
            ("CALLVAULT_DATABASE__METADATA_URL", &metadata_url),
            ("CALLVAULT_DATABASE__INGESTION_URL", &ingestion_url),
            ("CALLVAULT_BLOB__BACKEND", "s3"),
            ("CALLVAULT_BLOB__S3_BUCKET", BUCKET),
            ("CALLVAULT_BLOB__S3_ENDPOINT", &endpoint),
            ("CALLVAULT_KEYS__PROVIDER", "kms"),
            ("CALLVAULT_KEYS__KMS_ENDPOINT", &endpoint),
            ("CALLVAULT_KEYS__KMS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ];
        for (key, value) in extra_env {
            common.retain(|(k, _)| k != key);
            common.push((key, value));
        }
        let storage = Callvault::start_target("storage", &common).await;
        let mut with_storage = common.clone();
        with_storage.push(("CALLVAULT_STORAGE_URL", &storage.base_url));
        // Metadata first: its queue must exist before ingestion publishes.
        let metadata = Callvault::start_target("metadata", &with_storage).await;
        let ingestion = Callvault::start_target("ingestion", &with_storage).await;
        let gateway = Callvault::start_target("gateway", &with_storage).await;
        for process in [&storage, &metadata, &ingestion, &gateway] {
            let ready = client
                .get(format!("{}/readyz", process.base_url))
                .send()
                .await
                .expect("readyz");
            assert_eq!(
                ready.status(),
                StatusCode::OK,
                "{}",
                ready.text().await.unwrap_or_default()
            );
        }
        Self {
            storage,
            metadata,
            ingestion,
            gateway,
            moto,
            prefix,
        }
    }

    pub fn processes(&self) -> [&Callvault; 4] {
        [
            &self.storage,
            &self.metadata,
            &self.ingestion,
            &self.gateway,
        ]
    }
}

/// Refuses every message: only there to declare a consumer's queue.
struct NoOp;

#[async_trait::async_trait]
impl EventHandler for NoOp {
    async fn handle(&self, _message: Message) -> Result<(), HandlerError> {
        Err(HandlerError::retryable("cleanup consumer"))
    }
}

/// Removes the run's queues and exchanges from the shared broker: declare
/// them again under the same prefix, then delete what was declared.
async fn delete_broker_topology(prefix: &str) {
    let options = RabbitMqOptions {
        exchange: format!("{prefix}callvault.events"),
        dead_letter_exchange: format!("{prefix}callvault.dlx"),
        name_prefix: prefix.to_owned(),
        ..RabbitMqOptions::default()
    };
    let bus = RabbitMqBus::connect(AMQP_URL, options)
        .await
        .expect("rabbitmq for cleanup");
    // Every consumer the services declare: the metadata catalogue and the
    // storage service's key-change re-wrap.
    bus.subscribe("metadata", &["recording.ingested"], Arc::new(NoOp))
        .await
        .expect("declare");
    bus.subscribe("storage", &["tenant.key_changed"], Arc::new(NoOp))
        .await
        .expect("declare");
    bus.delete_declared_topology()
        .await
        .expect("delete topology");
}
