//! Services as modules, Loki style: each service crate knows how to start
//! itself — its database, its bus operations and consumers, its timers, its
//! HTTP routes — and hands the process a [`Module`]: what is left running,
//! what to mount, what to check for readiness and what to stop. The
//! binary only resolves which modules a process runs, in which order, and
//! runs what they hand back.

pub mod framing;
pub mod panics;
pub mod server;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::ServiceConfig;
use callvault_bus::outbox::RelayHandle;
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;

/// Mounts a module's HTTP routes on the process's server. Called once per
/// HTTP worker.
pub type HttpRoutes = Arc<dyn Fn(&mut ServiceConfig) + Send + Sync>;

/// A database a module owns: `/readyz` pings it, `/metrics` reports it.
#[derive(Clone)]
pub struct OwnedDatabase {
    /// Names it in readiness and metrics, e.g. `metadata database`.
    pub name: &'static str,
    pub db: DatabaseConnection,
    /// Whether it holds an outbox, whose backlog `/metrics` reports.
    pub outbox: bool,
}

/// A started service.
pub struct Module {
    name: &'static str,
    http: Vec<HttpRoutes>,
    databases: Vec<OwnedDatabase>,
    relays: Vec<RelayHandle>,
    timers: Vec<JoinHandle<()>>,
}

impl Module {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            http: Vec::new(),
            databases: Vec::new(),
            relays: Vec::new(),
            timers: Vec::new(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Routes to mount on the process's HTTP server.
    pub fn with_http(
        mut self,
        routes: impl Fn(&mut ServiceConfig) + Send + Sync + 'static,
    ) -> Self {
        self.http.push(Arc::new(routes));
        self
    }

    /// A database the module owns, checked by `/readyz`.
    pub fn with_database(mut self, name: &'static str, db: DatabaseConnection) -> Self {
        self.databases.push(OwnedDatabase {
            name,
            db,
            outbox: false,
        });
        self
    }

    /// A database holding an outbox, and the relay publishing it: stopped
    /// at shutdown after the HTTP server, so it publishes what the last
    /// requests wrote.
    pub fn with_outbox(
        mut self,
        name: &'static str,
        db: DatabaseConnection,
        relay: RelayHandle,
    ) -> Self {
        self.databases.push(OwnedDatabase {
            name,
            db,
            outbox: true,
        });
        self.relays.push(relay);
        self
    }

    /// Runs `pass` every `interval` (0 = never), the first time one interval
    /// after start, so a restart loop can't turn into a deletion or discard
    /// loop. A pass that overruns delays the next tick instead of bunching
    /// them. Aborted at shutdown: a pass cut short between its steps is
    /// picked up by the next one.
    pub fn with_timer<F, Fut>(mut self, interval: Duration, pass: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if interval.is_zero() {
            return self;
        }
        self.timers.push(tokio::spawn(every(interval, pass)));
        self
    }

    pub fn http(&self) -> &[HttpRoutes] {
        &self.http
    }

    pub fn databases(&self) -> &[OwnedDatabase] {
        &self.databases
    }

    /// Stops the timers now.
    pub fn stop_timers(&mut self) {
        for timer in self.timers.drain(..) {
            timer.abort();
        }
    }

    /// Publishes what is left in the outboxes, then stops the relays.
    pub async fn stop_relays(&mut self) {
        for relay in self.relays.drain(..) {
            relay.shutdown().await;
        }
    }
}

async fn every<F, Fut>(interval: Duration, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        pass().await;
    }
}
