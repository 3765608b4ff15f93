//! `/readyz`: whether this process's dependencies answer — each database
//! it owns and, in the distributed mode, the RabbitMQ connection. `/healthz`
//! only says the process is alive; an orchestrator routes traffic on this.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use callvault_bus::rabbitmq::RabbitMqBus;
use sea_orm::DatabaseConnection;
use serde_json::json;

/// A dependency's check must answer within this, or it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
pub struct Readiness {
    databases: Vec<(&'static str, DatabaseConnection)>,
    broker: Option<Arc<RabbitMqBus>>,
}

impl Readiness {
    pub fn database(&mut self, name: &'static str, db: DatabaseConnection) {
        self.databases.push((name, db));
    }

    pub fn broker(&mut self, bus: Arc<RabbitMqBus>) {
        self.broker = Some(bus);
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
