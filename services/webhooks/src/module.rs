//! How the webhooks service starts: its database, its operations on the
//! bus, its consumer of the events it delivers, the outbox relay and the
//! delivery worker.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use callvault_bus::outbox::OutboxRelay;
use callvault_bus::{Bus, RpcClient};
use callvault_runtime::Module;
use tracing::info;

use crate::address::AddressPolicy;
use crate::secret::SecretSeal;
use crate::{CONSUMER, DeliveryOptions, TOPICS, WebhooksService};

pub struct WebhooksSettings {
    pub database_url: String,
    /// How often due deliveries are looked for (zero: never). The consumer
    /// also wakes the worker as soon as an event makes deliveries.
    pub worker_interval: Duration,
    /// Networks (CIDRs) webhooks may reach although not public.
    pub allow_networks: Vec<String>,
    pub delivery: DeliveryOptions,
}

pub struct WebhooksDependencies {
    pub bus: Arc<dyn Bus>,
    /// Reaches the metadata service (which BPO a tenant is in).
    pub rpc: RpcClient,
    /// Seals the endpoints' secrets in the database.
    pub seal: SecretSeal,
}

pub async fn start(
    settings: WebhooksSettings,
    deps: WebhooksDependencies,
) -> anyhow::Result<Module> {
    let policy = AddressPolicy::new(&settings.allow_networks).map_err(anyhow::Error::msg)?;
    let db = crate::connect(&settings.database_url)
        .await
        .context("webhooks database")?;
    let service = Arc::new(WebhooksService::new(
        db.clone(),
        deps.rpc,
        deps.seal,
        policy,
        settings.delivery,
    )?);
    service
        .router()
        .serve(deps.bus.as_ref())
        .await
        .context("serving webhooks operations")?;
    deps.bus
        .subscribe(CONSUMER, &TOPICS, crate::consumer(service.clone()))
        .await
        .context("subscribing to the delivered events")?;
    let relay = OutboxRelay::new(db.clone(), deps.bus).spawn();
    service.spawn_waker();
    let module = Module::new("webhooks")
        .with_outbox("webhooks database", db, relay)
        .with_timer(settings.worker_interval, move || {
            let service = service.clone();
            async move {
                let report = service.deliver_due().await;
                if report != crate::PassReport::default() {
                    info!(?report, "webhooks delivery pass");
                }
            }
        });
    Ok(module)
}
