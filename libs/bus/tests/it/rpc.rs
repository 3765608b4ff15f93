//! Request/reply for operation types, on every bus: [`run_rpc_suite`] is
//! called with the in-process bus and with two RabbitMQ connections (two
//! processes). One test operation stands for all of them: the router and
//! the client are generic, nothing in them depends on the operation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_bus::{Bus, RequestHandler, Router, RpcClient};
use callvault_contracts::metadata_api::{ApiError, ErrorCode};
use callvault_contracts::rpc::{Rpc, Service};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Answers its text reversed, after `delay_ms`, or refuses with `refuse`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Reverse {
    pub text: String,
    pub delay_ms: u64,
    pub refuse: Option<ErrorCode>,
}

impl Rpc for Reverse {
    type Reply = String;
    const NAME: &'static str = "reverse";
    const SERVICE: Service = Service::Storage;
}

/// An operation nobody routes.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Unrouted;

impl Rpc for Unrouted {
    type Reply = ();
    const NAME: &'static str = "unrouted";
    const SERVICE: Service = Service::Storage;
}

pub fn reverse(text: &str) -> Reverse {
    Reverse {
        text: text.to_owned(),
        delay_ms: 0,
        refuse: None,
    }
}

/// The router of the service under test.
pub fn router() -> Router {
    let mut router = Router::new();
    router.route(&Arc::new(()), |_, request: Reverse| async move {
        tokio::time::sleep(Duration::from_millis(request.delay_ms)).await;
        match request.refuse {
            Some(code) => Err(ApiError::new(code, "refused on request")),
            None => Ok(request.text.chars().rev().collect()),
        }
    });
    router
}

/// `server` serves the test operation; `client` calls it.
pub async fn run_rpc_suite(server: Arc<dyn Bus>, client: Arc<dyn Bus>) {
    router().serve(server.as_ref()).await.expect("serve");
    let rpc = RpcClient::new(client.clone(), Duration::from_secs(5));
    a_request_gets_its_typed_reply(&rpc).await;
    service_errors_come_back_with_their_code(&rpc).await;
    concurrent_calls_get_their_own_replies(&rpc).await;
    an_unknown_operation_is_refused(&rpc).await;
    a_malformed_request_is_invalid_input(client.as_ref()).await;
    a_slow_service_is_unavailable(client.clone()).await;
}

async fn a_request_gets_its_typed_reply(rpc: &RpcClient) {
    let reply = rpc.call(reverse("recording")).await;
    assert_eq!(reply.expect("reply"), "gnidrocer");
    let unicode = rpc.call(reverse("通話録音")).await;
    assert_eq!(unicode.expect("reply"), "音録話通");
}

async fn service_errors_come_back_with_their_code(rpc: &RpcClient) {
    for code in [
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
    ] {
        let request = Reverse {
            refuse: Some(code),
            ..reverse("x")
        };
        let refused = rpc.call(request).await;
        assert_eq!(refused, Err(ApiError::new(code, "refused on request")));
    }
}

async fn concurrent_calls_get_their_own_replies(rpc: &RpcClient) {
    let calls = (0..20).map(|n| {
        let rpc = rpc.clone();
        async move {
            let request = Reverse {
                delay_ms: 20 - n,
                ..reverse(&format!("call {n}"))
            };
            (n, rpc.call(request).await)
        }
    });
    for (n, reply) in futures_util::future::join_all(calls).await {
        let expected: String = format!("call {n}").chars().rev().collect();
        assert_eq!(reply.expect("reply"), expected);
    }
}

async fn an_unknown_operation_is_refused(rpc: &RpcClient) {
    let refused = rpc.call(Unrouted).await.expect_err("nobody routes it");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert_eq!(refused.message, "unknown storage operation");
}

async fn a_malformed_request_is_invalid_input(bus: &dyn Bus) {
    let timeout = Duration::from_secs(5);
    for body in [
        b"not json".to_vec(),
        br#"{"op":"reverse"}"#.to_vec(),
        br#"{"op":"reverse","body":{"text":7}}"#.to_vec(),
    ] {
        let reply = bus.request("storage", body, timeout).await.expect("reply");
        let reply: serde_json::Value = serde_json::from_slice(&reply).expect("json reply");
        assert_eq!(reply["result"]["Err"]["code"], "invalid_input");
        assert_eq!(
            reply["result"]["Err"]["message"],
            "malformed storage request"
        );
    }
}

async fn a_slow_service_is_unavailable(bus: Arc<dyn Bus>) {
    let impatient = RpcClient::new(bus, Duration::from_millis(200));
    let request = Reverse {
        delay_ms: 1_000,
        ..reverse("slow")
    };
    let slow = impatient.call(request).await.expect_err("too slow");
    assert_eq!(slow.code, ErrorCode::Unavailable);
    assert_eq!(slow.message, "storage service unavailable");
}

/// Answers every request with bytes that are no reply.
struct Garbage;

#[async_trait]
impl RequestHandler for Garbage {
    async fn handle(&self, _body: Vec<u8>) -> Vec<u8> {
        b"{\"not\":\"a reply\"}".to_vec()
    }
}

#[tokio::test]
async fn a_malformed_reply_is_an_internal_error() {
    let bus = Arc::new(callvault_bus::in_process::InProcessBus::new());
    bus.serve("storage", Arc::new(Garbage))
        .await
        .expect("serve");
    let rpc = RpcClient::new(bus, Duration::from_secs(5));
    let broken = rpc.call(reverse("x")).await.expect_err("no reply");
    assert_eq!(broken.code, ErrorCode::Internal);
    assert_eq!(broken.message, "malformed storage reply");
}

#[tokio::test]
async fn an_absent_service_is_unavailable() {
    let bus = Arc::new(callvault_bus::in_process::InProcessBus::new());
    let rpc = RpcClient::new(bus, Duration::from_secs(5));
    let absent = rpc.call(reverse("x")).await.expect_err("nobody serves it");
    assert_eq!(absent.code, ErrorCode::Unavailable);
}

#[tokio::test]
async fn in_process_bus_passes_the_rpc_suite() {
    let bus: Arc<dyn Bus> = Arc::new(callvault_bus::in_process::InProcessBus::new());
    run_rpc_suite(bus.clone(), bus).await;
}

#[test]
#[should_panic(expected = "operation storage/reverse routed twice")]
fn an_operation_routed_twice_is_a_wiring_mistake() {
    let mut router = router();
    router.merge(self::router());
}

#[test]
fn a_router_lists_what_it_serves() {
    let router = router();
    let names: Vec<_> = router
        .operations()
        .iter()
        .map(|operation| (operation.service, operation.name))
        .collect();
    assert_eq!(names, vec![(Service::Storage, "reverse")]);
}
