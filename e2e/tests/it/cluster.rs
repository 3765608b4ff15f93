//! The distributed deployment in miniature: storage, metadata, ingestion
//! and gateway each the real binary in its own process, on PostgreSQL (a
//! fresh database per service), RabbitMQ (queues and exchanges under a
//! prefix of the run's own) and S3 + KMS (moto). The PostgreSQL and
//! RabbitMQ are the machine's, shared by every test and only ever used,
//! or a test's own ([`Cluster::start_on`]), which it may kill.

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
}

/// How the services are spread over processes.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// One process per service: `Cluster`'s four.
    OnePerService,
    /// Two processes, as an operator may group them (`--target` takes a
    /// list): `ingestion,storage` (ingestion stores straight into the
    /// store) and `metadata,gateway`.
    Grouped,
    /// Every service in its own process, the disclosure, billing and
    /// webhooks services included (each with a database of its own): what
    /// the Helm chart deploys.
    EveryService,
}

impl Layout {
    /// The `--target` of each process, in start order.
    fn targets(self) -> &'static [&'static str] {
        match self {
            Layout::OnePerService => &["storage", "metadata", "ingestion", "gateway"],
            Layout::Grouped => &["ingestion,storage", "metadata,gateway"],
            // Disclosure before the gateway, which hands out links to it;
            // billing and webhooks before ingestion, whose events they consume.
            Layout::EveryService => &[
                "storage",
                "metadata",
                "disclosure",
                "billing",
                "webhooks",
                "ingestion",
                "gateway",
            ],
        }
    }

    fn runs(self, service: &str) -> bool {
        self.targets()
            .iter()
            .any(|target| target.split(',').any(|t| t == service))
    }
}

/// Where the processes find PostgreSQL and RabbitMQ.
pub struct Peers {
    /// Storage's, metadata's and ingestion's databases.
    pub database_urls: [String; 3],
    /// The disclosure service's, for a layout that runs it.
    pub disclosure_database_url: Option<String>,
    /// The billing service's, for a layout that runs it.
    pub billing_database_url: Option<String>,
    /// The webhooks service's, for a layout that runs it.
    pub webhooks_database_url: Option<String>,
    pub amqp_url: String,
}

/// Any layout's processes, and which one runs each service.
pub struct Deployment {
    /// In start order.
    pub processes: Vec<Callvault>,
    pub moto: MotoServer,
    /// The run's broker prefix: its queues are `<prefix><consumer>`.
    pub prefix: String,
}

impl Deployment {
    /// The process that runs `service`.
    pub fn running(&self, service: &str) -> &Callvault {
        self.processes
            .iter()
            .find(|process| process.target().split(',').any(|t| t == service))
            .unwrap_or_else(|| panic!("no process runs {service}"))
    }
}

fn random_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string()
}

/// Starts a cluster with `extra_env` added to every process's environment,
/// runs `body` on it, and then, whether `body` passed or panicked, removes
/// its databases and broker topology (the processes and moto are killed
/// when `body` drops the cluster).
///
/// Mind that `|cluster| async move { .. }` captures only the fields of
/// `cluster` the block names: the other processes are dropped, killed,
/// before it runs. Name the whole cluster in the block, or pass a function.
pub async fn with_cluster<F, Fut>(extra_env: &[(&str, &str)], body: F)
where
    F: FnOnce(Cluster) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    with_deployment(Layout::OnePerService, extra_env, |deployment| async move {
        body(Cluster::from(deployment)).await;
    })
    .await;
}

/// [`with_cluster`] for any layout.
pub async fn with_deployment<F, Fut>(layout: Layout, extra_env: &[(&str, &str)], body: F)
where
    F: FnOnce(Deployment) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let mut databases = vec![
        PgTestDatabase::create().await,
        PgTestDatabase::create().await,
        PgTestDatabase::create().await,
    ];
    // The services with a database of their own, when the layout runs them.
    let mut own = [None, None, None];
    for (url, service) in own.iter_mut().zip(["disclosure", "billing", "webhooks"]) {
        if layout.runs(service) {
            let db = PgTestDatabase::create().await;
            *url = Some(db.url.clone());
            databases.push(db);
        }
    }
    let [
        disclosure_database_url,
        billing_database_url,
        webhooks_database_url,
    ] = own;
    let peers = Peers {
        database_urls: [0, 1, 2].map(|i| databases[i].url.clone()),
        disclosure_database_url,
        billing_database_url,
        webhooks_database_url,
        amqp_url: AMQP_URL.to_owned(),
    };
    let prefix = format!("e2e-{}.", uuid::Uuid::new_v4().simple());
    let extra_env: Vec<(String, String)> = extra_env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // Its own task, so that a failed check unwinds there and the cleanup
    // below still runs.
    let run_prefix = prefix.clone();
    let outcome = tokio::spawn(async move {
        let deployment = Deployment::start(layout, &peers, run_prefix, &extra_env).await;
        body(deployment).await;
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

impl Deployment {
    async fn start(
        layout: Layout,
        peers: &Peers,
        prefix: String,
        extra_env: &[(String, String)],
    ) -> Self {
        let [storage_url, metadata_url, ingestion_url] = &peers.database_urls;
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
            ("CALLVAULT_BUS__URL", &peers.amqp_url),
            ("CALLVAULT_BUS__NAME_PREFIX", &prefix),
            ("CALLVAULT_AUTH__HS256_SECRET", &jwt),
            ("CALLVAULT_SECRETS__URL_SIGNING", &url_signing),
            ("CALLVAULT_SECRETS__PII", &pii),
            ("CALLVAULT_SECRETS__MANIFEST_SIGNING", &manifest_signing),
            ("CALLVAULT_DATABASE__STORAGE_URL", storage_url),
            ("CALLVAULT_DATABASE__METADATA_URL", metadata_url),
            ("CALLVAULT_DATABASE__INGESTION_URL", ingestion_url),
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
        if let Some(url) = &peers.disclosure_database_url {
            common.push(("CALLVAULT_DATABASE__DISCLOSURE_URL", url.as_str()));
        }
        if let Some(url) = &peers.billing_database_url {
            common.push(("CALLVAULT_DATABASE__BILLING_URL", url.as_str()));
        }
        if let Some(url) = &peers.webhooks_database_url {
            common.push(("CALLVAULT_DATABASE__WEBHOOKS_URL", url.as_str()));
        }
        for (key, value) in extra_env {
            common.retain(|(k, _)| k != key);
            common.push((key, value));
        }
        // Storage first: the others are told where it listens. Metadata
        // before ingestion, one process each: its queue must exist before
        // ingestion publishes (grouped, nothing is published before the
        // test's first upload, after both are up). Disclosure before the
        // gateway, told where it listens for its bundle links.
        let mut processes: Vec<Callvault> = Vec::new();
        let mut storage_at: Option<String> = None;
        let mut disclosure_at: Option<String> = None;
        for target in layout.targets() {
            let mut env = common.clone();
            if let Some(url) = &storage_at {
                env.push(("CALLVAULT_STORAGE_URL", url.as_str()));
            }
            if let Some(url) = &disclosure_at {
                env.push(("CALLVAULT_DISCLOSURE_URL", url.as_str()));
            }
            let process = Callvault::start_target(target, &env).await;
            let runs = |service: &str| target.split(',').any(|t| t == service);
            if runs("storage") {
                storage_at = Some(process.base_url.clone());
            }
            if runs("disclosure") {
                disclosure_at = Some(process.base_url.clone());
            }
            processes.push(process);
        }
        for process in &processes {
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
            processes,
            moto,
            prefix,
        }
    }
}

impl Cluster {
    /// One process per service on `peers` that the test owns (nothing to
    /// clean up on them: they go with the test), with `extra_env` added to
    /// every process's environment.
    pub async fn start_on(peers: &Peers, extra_env: &[(&str, &str)]) -> Self {
        let extra_env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let prefix = format!("e2e-{}.", uuid::Uuid::new_v4().simple());
        Deployment::start(Layout::OnePerService, peers, prefix, &extra_env)
            .await
            .into()
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

impl From<Deployment> for Cluster {
    /// A [`Layout::OnePerService`] deployment's four processes.
    fn from(deployment: Deployment) -> Self {
        let Deployment {
            processes, moto, ..
        } = deployment;
        let Ok([storage, metadata, ingestion, gateway]) = <[Callvault; 4]>::try_from(processes)
        else {
            panic!("one process per service");
        };
        Self {
            storage,
            metadata,
            ingestion,
            gateway,
            moto,
        }
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

/// The consumers a deployment (and a test's own tap) declare, each with one
/// of its topics: [`delete_broker_topology`] declares them again to delete
/// them.
const CONSUMERS: [(&str, &str); 5] = [
    // The metadata catalogue and its integrity alarms.
    ("metadata", "recording.ingested"),
    ("metadata.integrity", "recording.integrity_failed"),
    // The storage service's key-change re-wrap.
    ("storage", "tenant.key_changed"),
    // The billing service's meters.
    ("billing", "recording.ingested"),
    // What a test reads off the bus (`billing::Tap`).
    (TAP_CONSUMER, "recording.ingested"),
];

/// The consumer (queue) name a test's own tap on the bus uses.
pub const TAP_CONSUMER: &str = "e2e.tap";

/// Removes the run's queues and exchanges from the shared broker: declare
/// them again under the same prefix, then delete what was declared.
pub async fn delete_broker_topology(prefix: &str) {
    let options = RabbitMqOptions {
        exchange: format!("{prefix}callvault.events"),
        dead_letter_exchange: format!("{prefix}callvault.dlx"),
        name_prefix: prefix.to_owned(),
        ..RabbitMqOptions::default()
    };
    let bus = RabbitMqBus::connect(AMQP_URL, options)
        .await
        .expect("rabbitmq for cleanup");
    for (consumer, topic) in CONSUMERS {
        bus.subscribe(consumer, &[topic], Arc::new(NoOp))
            .await
            .expect("declare");
    }
    bus.delete_declared_topology()
        .await
        .expect("delete topology");
}
