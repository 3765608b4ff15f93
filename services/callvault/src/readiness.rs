//! `/readyz`: whether this process's dependencies answer — each database
//! it owns and, in the distributed mode, the RabbitMQ connection. `/healthz`
//! only says the process is alive; an orchestrator routes traffic on this.
//! `/metrics` exposes the same checks, each outbox's backlog and, where
//! ingestion runs, the upload counters and latency histogram, with the
//! rest of the process registry, in the Prometheus text format.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use callvault_bus::rabbitmq::RabbitMqBus;
use callvault_ingestion::metrics::UploadMetrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sea_orm::DatabaseConnection;
use serde_json::json;

/// A dependency's check must answer within this, or it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct Readiness {
    databases: Vec<(&'static str, DatabaseConnection)>,
    /// The databases among them that hold an outbox.
    outboxes: Vec<(&'static str, DatabaseConnection)>,
    broker: Option<Arc<RabbitMqBus>>,
}

impl Readiness {
    pub fn database(&mut self, name: &'static str, db: DatabaseConnection) {
        self.databases.push((name, db));
    }

    /// A database whose outbox backlog `/metrics` reports.
    pub fn database_with_outbox(&mut self, name: &'static str, db: DatabaseConnection) {
        self.outboxes.push((name, db.clone()));
        self.databases.push((name, db));
    }

    pub fn broker(&mut self, bus: Arc<RabbitMqBus>) {
        self.broker = Some(bus);
    }

    /// This process's upload counters, when it runs ingestion: registered
    /// in the process registry (one ingestion per process).
    pub fn uploads(&mut self, metrics: Arc<UploadMetrics>) {
        callvault_telemetry::metrics::register_with(|registry| metrics.register(registry));
    }

    /// The names of the dependencies that don't answer.
    pub async fn failing(&self) -> Vec<&'static str> {
        let mut failing = Vec::new();
        for (name, db) in &self.databases {
            let answered = tokio::time::timeout(CHECK_TIMEOUT, db.ping()).await;
            if !matches!(answered, Ok(Ok(()))) {
                failing.push(*name);
            }
        }
        if self
            .broker
            .as_ref()
            .is_some_and(|broker| !broker.is_connected())
        {
            failing.push("rabbitmq");
        }
        failing
    }
}

/// The gauges `/metrics` sets at each scrape, from the checks it runs then.
struct ScrapeGauges {
    build_info: Family<VersionLabels, Gauge>,
    dependency_up: Family<DependencyLabels, Gauge>,
    outbox_backlog: Family<DatabaseLabels, Gauge>,
    consumer_backlog: Family<QueueLabels, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabels {
    dependency: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatabaseLabels {
    database: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

/// Registered in the process registry at the first scrape.
static SCRAPE_GAUGES: LazyLock<ScrapeGauges> = LazyLock::new(|| {
    let gauges = ScrapeGauges {
        build_info: Family::default(),
        dependency_up: Family::default(),
        outbox_backlog: Family::default(),
        consumer_backlog: Family::default(),
    };
    callvault_telemetry::metrics::register_with(|registry| {
        registry.register(
            "callvault_build_info",
            "The running version",
            gauges.build_info.clone(),
        );
        registry.register(
            "callvault_dependency_up",
            "Whether a dependency answers (1) or not (0)",
            gauges.dependency_up.clone(),
        );
        registry.register(
            "callvault_outbox_backlog",
            "Events written but not yet published",
            gauges.outbox_backlog.clone(),
        );
        registry.register(
            "callvault_consumer_backlog",
            "Messages waiting in a consumer's queue (its lag) or dead-letter queue",
            gauges.consumer_backlog.clone(),
        );
    });
    gauges
});

/// Held from setting the scrape gauges to rendering them, so two scrapes
/// at once can't interleave a clear with the other's rendering.
static SCRAPE: Mutex<()> = Mutex::new(());

/// What the checks of one scrape found.
struct Checked {
    failing: Vec<&'static str>,
    outbox_backlogs: Vec<(&'static str, i64)>,
    consumer_backlogs: Vec<(String, i64)>,
}

impl Readiness {
    async fn check(&self) -> Checked {
        let failing = self.failing().await;
        let mut outbox_backlogs = Vec::new();
        for (name, db) in &self.outboxes {
            // A backlog that can't be read in time is left out, not 0.
            if let Ok(Ok(backlog)) =
                tokio::time::timeout(CHECK_TIMEOUT, callvault_bus::outbox::backlog(db)).await
            {
                outbox_backlogs.push((*name, gauge_value(backlog)));
            }
        }
        let mut consumer_backlogs = Vec::new();
        if let Some(broker) = &self.broker
            && let Ok(Ok(backlog)) =
                tokio::time::timeout(CHECK_TIMEOUT, broker.consumer_backlog()).await
        {
            for (queue, depth) in backlog {
                consumer_backlogs.push((queue, gauge_value(depth)));
            }
        }
        Checked {
            failing,
            outbox_backlogs,
            consumer_backlogs,
        }
    }

    fn dependencies(&self) -> Vec<&'static str> {
        let mut dependencies: Vec<&'static str> =
            self.databases.iter().map(|(name, _)| *name).collect();
        if self.broker.is_some() {
            dependencies.push("rabbitmq");
        }
        dependencies
    }
}

fn gauge_value<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// The process registry in the Prometheus text format: readiness per
/// dependency, the number of events each owned outbox has not published
/// yet (a growing backlog means the bus or the relay is stuck), each
/// consumer queue's depth, and what the services registered (uploads,
/// HTTP and bus call durations).
pub async fn metrics(readiness: web::Data<Readiness>) -> HttpResponse {
    let checked = readiness.check().await;
    let gauges = &*SCRAPE_GAUGES;
    let text = {
        let _scrape = SCRAPE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        gauges
            .build_info
            .get_or_create(&VersionLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        // Cleared first: a dependency or queue this scrape couldn't read is
        // absent rather than stale.
        gauges.dependency_up.clear();
        for dependency in readiness.dependencies() {
            let up = i64::from(!checked.failing.contains(&dependency));
            gauges
                .dependency_up
                .get_or_create(&DependencyLabels { dependency })
                .set(up);
        }
        gauges.outbox_backlog.clear();
        for (database, backlog) in &checked.outbox_backlogs {
            gauges
                .outbox_backlog
                .get_or_create(&DatabaseLabels { database })
                .set(*backlog);
        }
        gauges.consumer_backlog.clear();
        for (queue, depth) in &checked.consumer_backlogs {
            gauges
                .consumer_backlog
                .get_or_create(&QueueLabels {
                    queue: queue.clone(),
                })
                .set(*depth);
        }
        callvault_telemetry::metrics::render()
    };
    HttpResponse::Ok()
        .content_type(callvault_telemetry::metrics::CONTENT_TYPE)
        .body(text)
}

pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let failing = readiness.failing().await;
    if failing.is_empty() {
        return HttpResponse::Ok().json(json!({ "status": "ready" }));
    }
    HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable", "failing": failing }))
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[tokio::test]
    async fn a_closed_database_makes_the_process_not_ready() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("probe.db").display()
        );
        let db = sea_orm::Database::connect(&url).await.expect("sqlite");
        let mut readiness = Readiness::default();
        readiness.database("probe database", db.clone());
        assert!(readiness.failing().await.is_empty());
        db.close().await.expect("close");
        assert_eq!(readiness.failing().await, vec!["probe database"]);
    }
}
