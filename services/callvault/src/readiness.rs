//! `/readyz`: whether this process's dependencies answer — each database
//! it owns and, in the distributed mode, the RabbitMQ connection. `/healthz`
//! only says the process is alive; an orchestrator routes traffic on this.
//! `/metrics` exposes the same checks, each outbox's backlog and, where
//! ingestion runs, the upload counters and latency histogram, in the
//! Prometheus text format.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use callvault_bus::rabbitmq::RabbitMqBus;
use callvault_ingestion::metrics::UploadMetrics;
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
    /// This process's upload counters, when it runs ingestion.
    uploads: Option<Arc<UploadMetrics>>,
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

    pub fn uploads(&mut self, metrics: Arc<UploadMetrics>) {
        self.uploads = Some(metrics);
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

/// Prometheus text exposition: readiness per dependency and the number of
/// events each owned outbox has not published yet (a growing backlog means
/// the bus or the relay is stuck).
pub async fn metrics(readiness: web::Data<Readiness>) -> HttpResponse {
    let failing = readiness.failing().await;
    let mut out = String::new();
    out.push_str(
        "# HELP callvault_build_info The running version.\n# TYPE callvault_build_info gauge\n",
    );
    out.push_str(&format!(
        "callvault_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str("# HELP callvault_dependency_up Whether a dependency answers (1) or not (0).\n");
    out.push_str("# TYPE callvault_dependency_up gauge\n");
    let mut dependencies: Vec<&'static str> =
        readiness.databases.iter().map(|(name, _)| *name).collect();
    if readiness.broker.is_some() {
        dependencies.push("rabbitmq");
    }
    for name in dependencies {
        let up = u8::from(!failing.contains(&name));
        out.push_str(&format!(
            "callvault_dependency_up{{dependency=\"{name}\"}} {up}\n"
        ));
    }
    out.push_str("# HELP callvault_outbox_backlog Events written but not yet published.\n");
    out.push_str("# TYPE callvault_outbox_backlog gauge\n");
    for (name, db) in &readiness.outboxes {
        if let Ok(Ok(backlog)) =
            tokio::time::timeout(CHECK_TIMEOUT, callvault_bus::outbox::backlog(db)).await
        {
            out.push_str(&format!(
                "callvault_outbox_backlog{{database=\"{name}\"}} {backlog}\n"
            ));
        }
    }
    if let Some(uploads) = &readiness.uploads {
        uploads.render(&mut out);
    }
    callvault_bus::rpc_metrics::render(&mut out);
    if let Some(broker) = &readiness.broker
        && let Ok(Ok(backlog)) =
            tokio::time::timeout(CHECK_TIMEOUT, broker.consumer_backlog()).await
    {
        out.push_str(
            "# HELP callvault_consumer_backlog Messages waiting in a consumer's queue (its lag) or dead-letter queue.\n",
        );
        out.push_str("# TYPE callvault_consumer_backlog gauge\n");
        for (queue, depth) in backlog {
            out.push_str(&format!(
                "callvault_consumer_backlog{{queue=\"{queue}\"}} {depth}\n"
            ));
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out)
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
