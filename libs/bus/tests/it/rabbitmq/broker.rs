//! The RabbitMQ every test of this module needs: each test gets its own
//! name prefix and exchanges in the default vhost, and removes them at the
//! end, passed or failed. No broker is a failure, never a skip.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use callvault_bus::rabbitmq::{RabbitMqBus, RabbitMqOptions};
use futures_util::FutureExt;
use lapin::{Channel, Connection, ConnectionProperties};
use uuid::Uuid;

/// Overridable for machines whose broker lives elsewhere.
pub fn url() -> String {
    std::env::var("CALLVAULT_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// Deliveries of a failing message in these tests: `delivery_limit + 1`.
pub const DELIVERY_LIMIT: u32 = 3;

pub struct Broker {
    pub options: RabbitMqOptions,
    buses: Mutex<Vec<RabbitMqBus>>,
}

impl Broker {
    fn new(case: &str) -> Self {
        let prefix = format!("test.{case}.{}.", Uuid::new_v4().simple());
        Broker {
            options: RabbitMqOptions {
                exchange: format!("{prefix}events"),
                dead_letter_exchange: format!("{prefix}dlx"),
                prefetch: 8,
                delivery_limit: DELIVERY_LIMIT,
                name_prefix: prefix.clone(),
                redelivery_delay: Duration::from_millis(10),
                connection_name: prefix,
                connect_timeout: Duration::from_secs(10),
                confirm_timeout: Duration::from_secs(2),
            },
            buses: Mutex::new(Vec::new()),
        }
    }

    /// A new bus (a new "process") on this test's topology.
    pub async fn bus(&self) -> RabbitMqBus {
        self.bus_at(&url()).await
    }

    pub async fn bus_at(&self, url: &str) -> RabbitMqBus {
        let bus = RabbitMqBus::connect(url, self.options.clone())
            .await
            .unwrap_or_else(|err| {
                panic!("these tests need RabbitMQ at {url} (guest/guest); is it running? {err}")
            });
        self.buses.lock().expect("buses lock").push(bus.clone());
        bus
    }

    /// A plain lapin channel, to look at the broker without the bus.
    pub async fn raw_channel(&self) -> (Connection, Channel) {
        let connection = Connection::connect(&url(), ConnectionProperties::default())
            .await
            .unwrap_or_else(|err| panic!("these tests need RabbitMQ at {}: {err}", url()));
        let channel = connection.create_channel().await.expect("raw channel");
        (connection, channel)
    }

    /// Bounded: a bus whose connection is being recovered would otherwise
    /// wait for it.
    async fn clean_up(&self) {
        let buses = self.buses.lock().expect("buses lock").clone();
        for bus in buses {
            let cleaning = async {
                if let Err(err) = bus.delete_declared_topology().await {
                    eprintln!("cleaning up {}: {err}", self.options.name_prefix);
                }
                // Already closed by the test is fine.
                let _ = bus.close().await;
            };
            if tokio::time::timeout(CLEAN_UP, cleaning).await.is_err() {
                eprintln!("cleaning up {}: timed out", self.options.name_prefix);
            }
        }
    }
}

const CLEAN_UP: Duration = Duration::from_secs(10);

/// Runs `test` against a fresh prefix and always cleans up after it.
pub async fn with_broker(case: &str, test: impl AsyncFnOnce(&Broker)) {
    let broker = Broker::new(case);
    let outcome = AssertUnwindSafe(test(&broker)).catch_unwind().await;
    broker.clean_up().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
