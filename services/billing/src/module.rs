//! How the billing service starts: its database, its operations on the
//! bus, its consumer of the metered events, the outbox relay and the timer.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use callvault_bus::outbox::OutboxRelay;
use callvault_bus::{Bus, RpcClient};
use callvault_runtime::Module;
use tracing::info;

use crate::consumer::UsageConsumer;
use crate::intake::{CONSUMER, TOPICS};
use crate::{BillingService, Clock};

pub struct BillingSettings {
    pub database_url: String,
    /// How often due drafts are finalized and the daily reconciliation is
    /// looked at (zero: never).
    pub timer_interval: Duration,
    /// How long after a period ends its draft still takes late events.
    pub grace: Duration,
    pub clock: Clock,
    /// A font file with Japanese glyphs for PDF invoices (Helvetica, with
    /// `?` for what it lacks, when none).
    pub invoice_font: Option<std::path::PathBuf>,
}

pub struct BillingDependencies {
    pub bus: Arc<dyn Bus>,
    /// Reaches the metadata service (tenants) and storage (its records).
    pub rpc: RpcClient,
}

pub async fn start(settings: BillingSettings, deps: BillingDependencies) -> anyhow::Result<Module> {
    let db = crate::connect(&settings.database_url)
        .await
        .context("billing database")?;
    let font = match &settings.invoice_font {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("reading the invoice font {}", path.display()))?,
        ),
        None => None,
    };
    let service = Arc::new(
        BillingService::new(db.clone(), deps.rpc)
            .with_invoice_font(font)
            .with_clock(settings.clock)
            .with_grace(settings.grace),
    );
    service
        .router()
        .serve(deps.bus.as_ref())
        .await
        .context("serving billing operations")?;
    deps.bus
        .subscribe(
            CONSUMER,
            &TOPICS,
            Arc::new(UsageConsumer::new(service.clone())),
        )
        .await
        .context("subscribing to the metered events")?;
    let relay = OutboxRelay::new(db.clone(), deps.bus).spawn();
    let module = Module::new("billing")
        .with_outbox("billing database", db, relay)
        .with_timer(settings.timer_interval, move || {
            let service = service.clone();
            async move {
                let report = service.run_timer().await;
                if report != crate::TimerReport::default() {
                    info!(?report, "billing timer pass");
                }
            }
        });
    Ok(module)
}
