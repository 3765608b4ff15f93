//! What the modules of one process share — the secrets, the bus, the URL
//! signer, the key provider, the storage service's store when it runs here —
//! and the HTTP server and shutdown that run them.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, web};
use anyhow::{Context, bail};
use callvault_auth::signed_url::UrlSigner;
use callvault_bus::in_process::InProcessBus;
use callvault_bus::rabbitmq::{RabbitMqBus, RabbitMqOptions};
use callvault_bus::{Bus, RpcClient};
use callvault_keys::KeyProvider;
use callvault_runtime::Module;
use callvault_storage::RecordingStore;
use tracing::{info, warn};

use crate::Target;
use crate::backends::key_provider;
use crate::config::{BusKind, Config, read_secret};
use crate::readiness::Readiness;
use crate::secrets::Secrets;
use crate::serve::MODULES;

/// How long a caller waits for a service's reply on the bus.
pub(crate) const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// How long each consumer may take to finish its message at shutdown.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(30);

pub struct Process {
    pub config: Config,
    pub secrets: Secrets,
    pub bus: Arc<dyn Bus>,
    /// Calls any service's operations over `bus`.
    pub rpc: RpcClient,
    pub signer: UrlSigner,
    /// One per process, shared by its modules. Processes on the local
    /// keyring share its file: each sees the others' changes at once.
    pub keys: Option<Arc<dyn KeyProvider>>,
    /// The storage service's store, once its module started here.
    pub store: Option<Arc<RecordingStore>>,
    /// Drained at shutdown: its consumers finish the message in hand.
    broker: Option<Arc<RabbitMqBus>>,
    pub readiness: Readiness,
    modules: Vec<Module>,
}

impl Process {
    /// Everything `modules` share. Every module in one process is the
    /// embedded mode: secrets generated on first start, the in-process bus
    /// allowed.
    pub async fn start(config: Config, modules: &[Target]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let everything = modules.len() == MODULES.len();
        let secrets = if everything {
            Secrets::load_or_generate(&config)?
        } else {
            Secrets::require_configured(&config)?
        };
        let (bus, broker) = bus(&config, modules, everything).await?;
        let signer = UrlSigner::new(&secrets.url_signing)?;
        let keys = if modules.contains(&Target::Storage)
            || modules.contains(&Target::Metadata)
            || modules.contains(&Target::Disclosure)
        {
            Some(key_provider(&config).await?)
        } else {
            None
        };
        let mut readiness = Readiness::default();
        if let Some(broker) = &broker {
            readiness.broker(broker.clone());
        }
        Ok(Self {
            rpc: RpcClient::new(bus.clone(), RPC_TIMEOUT),
            config,
            secrets,
            bus,
            signer,
            keys,
            store: None,
            broker,
            readiness,
            modules: Vec::new(),
        })
    }

    /// The key provider; only storage, metadata and disclosure ask for it.
    pub fn keys(&self) -> anyhow::Result<Arc<dyn KeyProvider>> {
        self.keys
            .clone()
            .context("this process has no key provider")
    }

    /// A started module: its databases join `/readyz`, its routes the
    /// server.
    pub fn add(&mut self, module: Module) {
        for owned in module.databases() {
            if owned.outbox {
                self.readiness
                    .database_with_outbox(owned.name, owned.db.clone());
            } else {
                self.readiness.database(owned.name, owned.db.clone());
            }
        }
        self.modules.push(module);
    }

    pub fn print_banner(&self, modules: &[Target]) {
        let config = &self.config;
        let public_url = config.public_url();
        let names: Vec<&str> = modules.iter().map(|module| module.name()).collect();
        println!(
            "callvault {} — target {}, data in {}",
            env!("CARGO_PKG_VERSION"),
            names.join(","),
            config.data_dir.display()
        );
        if modules.contains(&Target::Gateway) {
            println!("  GraphQL:    {public_url}/graphql   (GraphiQL: open it in a browser)");
            println!(
                "  first platform-admin token: callvault admin token   (run it in this directory)"
            );
        }
        if modules.contains(&Target::Ingestion) {
            println!("  recorders:  {public_url}/v1/recordings");
        }
        if modules.contains(&Target::Storage) {
            println!(
                "  playback:   {public_url}/v1/playback/…   (signed URLs from the GraphQL `playbackUrl` field)"
            );
        }
    }

    /// Serves HTTP until SIGTERM/SIGINT, then stops in dependency order.
    pub async fn run(self) -> anyhow::Result<()> {
        let Process {
            config,
            broker,
            readiness,
            mut modules,
            ..
        } = self;
        let readiness = web::Data::new(readiness);
        let routes: Vec<_> = modules
            .iter()
            .flat_map(|module| module.http().to_vec())
            .collect();
        // Behind the runtime's framing check: malformed HTTP framing gets
        // the same JSON error body as every route.
        let server =
            callvault_runtime::server::serve(&config.listen, config.http_workers, 30, move || {
                let mut app = App::new()
                    // A panic answers 500 with a JSON body, inside the span.
                    .wrap(callvault_runtime::panics::CatchPanic)
                    // Outermost (actix wraps last-first): a server span and a
                    // duration for every request.
                    .wrap(callvault_telemetry::http::RequestTracing)
                    .app_data(readiness.clone())
                    // Resources, not `App::route`: another method gets 405
                    // with `Allow`, not 404.
                    .service(web::resource("/healthz").route(web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("text/plain; charset=utf-8")
                            .body("ok")
                    })))
                    .service(
                        web::resource("/readyz").route(web::get().to(crate::readiness::readyz)),
                    )
                    .service(
                        web::resource("/metrics").route(web::get().to(crate::readiness::metrics)),
                    )
                    // A path nothing serves: the JSON error body too.
                    .default_service(web::to(|| async {
                        HttpResponse::NotFound().json(serde_json::json!({
                            "error": { "code": "not_found", "message": "no such route" }
                        }))
                    }));
                for mount in &routes {
                    let mount = mount.clone();
                    app = app.configure(move |service| mount(service));
                }
                app
            })
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        info!(listen = %config.listen, "serving");
        // actix stops on SIGTERM/SIGINT after draining in-flight requests
        // (uploads included), then the rest stops in dependency order:
        // timers, consumers (finishing the message in hand), relays
        // (publishing what the last requests wrote), the broker connection.
        server.await.context("server failed")?;
        info!("draining");
        for module in &mut modules {
            module.stop_timers();
        }
        if let Some(broker) = &broker {
            broker.drain(SHUTDOWN_DRAIN).await;
        }
        for module in &mut modules {
            module.stop_relays().await;
        }
        if let Some(broker) = broker
            && let Err(err) = broker.close().await
        {
            warn!(error = %err, "closing the broker connection");
        }
        info!("stopped");
        Ok(())
    }
}

/// The bus, and the RabbitMQ handle behind it when there is one (for
/// `/readyz` and the shutdown drain).
pub(crate) async fn bus(
    config: &Config,
    modules: &[Target],
    everything: bool,
) -> anyhow::Result<(Arc<dyn Bus>, Option<Arc<RabbitMqBus>>)> {
    let names: Vec<&str> = modules.iter().map(|module| module.name()).collect();
    let names = names.join(",");
    match config.bus.kind {
        BusKind::InProcess if everything => Ok((Arc::new(InProcessBus::new()), None)),
        BusKind::InProcess => bail!(
            "--target {names} runs some services in other processes, which needs \
             bus.kind = \"rabbitmq\" (CALLVAULT_BUS__KIND=rabbitmq CALLVAULT_BUS__URL=amqp://…)"
        ),
        BusKind::Rabbitmq => {
            let url = read_secret(&config.bus.url, &config.bus.url_file, "bus.url")?
                .context("bus.url is required with the rabbitmq bus")?;
            let url = String::from_utf8(url).context("bus.url is not utf-8")?;
            let defaults = RabbitMqOptions::default();
            let prefix = &config.bus.name_prefix;
            let options = RabbitMqOptions {
                connection_name: format!("callvault-{}", names.replace(',', "-")),
                exchange: format!("{prefix}{}", defaults.exchange),
                dead_letter_exchange: format!("{prefix}{}", defaults.dead_letter_exchange),
                name_prefix: prefix.clone(),
                ..defaults
            };
            let bus = Arc::new(RabbitMqBus::connect(&url, options).await.context("bus")?);
            Ok((bus.clone(), Some(bus)))
        }
    }
}
