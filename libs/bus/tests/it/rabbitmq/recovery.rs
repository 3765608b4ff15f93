//! Connection loss, without touching the shared broker: the bus connects
//! through a TCP proxy in the test, which can cut its connections (a broker
//! restart, a network blip) and refuse new ones for a while (a broker down).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::{Bus, BusError, RequestHandler};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use super::broker::{Broker, url, with_broker};
use crate::support::{Recorder, message, unique_topic};

/// How long lapin may take to reconnect and replay the topology.
const RECOVERY: Duration = Duration::from_secs(30);

struct Proxy {
    port: u16,
    refusing: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: AbortHandle,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let refusing = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accepting = tokio::spawn({
            let refusing = refusing.clone();
            let connections = connections.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if refusing.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let piping = tokio::spawn(async move {
                        let Ok(mut broker) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut broker).await;
                    });
                    connections
                        .lock()
                        .expect("connections lock")
                        .push(piping.abort_handle());
                }
            }
        })
        .abort_handle();
        Proxy {
            port,
            refusing,
            connections,
            accepting,
        }
    }

    /// The broker url, through the proxy.
    fn url(&self) -> String {
        url().replace(":5672", &format!(":{}", self.port))
    }

    /// Drops every connection, as a broker restart does.
    fn cut(&self) {
        for connection in self.connections.lock().expect("connections lock").drain(..) {
            connection.abort();
        }
    }

    fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}

struct Echo;

#[async_trait]
impl RequestHandler for Echo {
    async fn handle(&self, body: Vec<u8>) -> Vec<u8> {
        [b"echo:".as_slice(), &body].concat()
    }
}

/// Publishes until the bus takes the message again; every failure on the
/// way must be `Unavailable`, and come back promptly.
async fn publish_until_accepted(bus: &dyn Bus, topic: &str, n: u32) -> callvault_bus::Message {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    let sent = message(topic, n);
    loop {
        let attempt = tokio::time::timeout(Duration::from_secs(5), bus.publish(&sent)).await;
        match attempt.expect("publish does not hang while the connection is down") {
            Ok(()) => return sent,
            Err(BusError::Unavailable(_)) => {}
            Err(other) => panic!("expected unavailable, got {other:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bus did not recover within {RECOVERY:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_bus_recovers_its_consumers_servers_and_replies_after_losing_the_connection() {
    assert!(
        url().contains(":5672"),
        "the recovery test proxies the broker's port 5672"
    );
    with_broker("recovery", async |broker: &Broker| {
        let proxy = Proxy::start("127.0.0.1:5672".to_owned()).await;
        let flaky = broker.bus_at(&proxy.url()).await;
        let steady = broker.bus().await;
        let topic = unique_topic("recovered");
        let recorder = Arc::new(Recorder::default());
        flaky
            .subscribe("flaky", &[&topic], recorder.clone())
            .await
            .expect("subscribe");
        flaky.serve("echo", Arc::new(Echo)).await.expect("serve");
        steady.serve("steady", Arc::new(Echo)).await.expect("serve");
        let first = message(&topic, 1);
        steady.publish(&first).await.expect("publish");
        assert_eq!(recorder.wait_for(1).await, vec![first.clone()]);

        // A restart: connections drop, and new ones get through at once.
        proxy.cut();
        let second = publish_until_accepted(&flaky, &topic, 2).await;
        assert!(flaky.is_connected());
        let third = message(&topic, 3);
        steady.publish(&third).await.expect("publish");
        // At least once: the cut may also bring `first` again (its ack can
        // be lost with the connection); the inbox deduplicates that.
        recorder.wait_for_each(&[&first, &second, &third]).await;
        let timeout = Duration::from_secs(5);
        let reply = steady.request("echo", b"a".to_vec(), timeout).await;
        assert_eq!(reply.expect("the server came back"), b"echo:a");
        let reply = flaky.request("steady", b"b".to_vec(), timeout).await;
        assert_eq!(reply.expect("the reply consumer came back"), b"echo:b");

        // Down for a while: publishing says so, then works again.
        proxy.refuse(true);
        proxy.cut();
        let down = tokio::time::timeout(timeout, flaky.publish(&message(&topic, 4)))
            .await
            .expect("publish does not hang while the broker is down");
        assert!(
            matches!(down, Err(BusError::Unavailable(_))),
            "got {down:?}"
        );
        assert!(!flaky.is_connected());
        tokio::time::sleep(Duration::from_secs(2)).await;
        proxy.refuse(false);
        let fifth = publish_until_accepted(&flaky, &topic, 5).await;
        recorder.wait_for_each(&[&fifth]).await;

        // While the proxy is still there to carry it.
        flaky
            .delete_declared_topology()
            .await
            .expect("delete the topology");
        flaky.close().await.expect("close");
    })
    .await;
}
