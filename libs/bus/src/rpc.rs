//! Request/reply for every operation: one client call, [`RpcClient::call`],
//! and one [`Router`], on the in-process bus and on RabbitMQ alike.
//!
//! An operation is a type implementing [`Rpc`]: it names its reply, its
//! wire name and the service whose queue serves it. On the wire a request
//! is `{"op", "request_id", "trace", "body"}` and a reply `{"trace",
//! "result": {"Ok": …} | {"Err": ApiError}}`, `trace` holding the W3C
//! `traceparent`/`tracestate` both ways.
//!
//! This module is the single place for spans, request ids, timeouts and
//! RPC metrics. Bodies carry secrets (recorder keys) and personal data
//! (phone numbers in filters): nothing here logs or traces them, only the
//! service, the operation and error codes.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::rpc::{Rpc, Service};
use schemars::Schema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::field::Empty;
use tracing::{Instrument, Span, debug, info_span, warn};
use uuid::Uuid;

use crate::trace::{self, TraceCarrier};
use callvault_telemetry::metrics as rpc_metrics;

use crate::{Bus, BusError, RequestHandler};

#[derive(Serialize)]
struct RequestOut<'a, R> {
    op: &'static str,
    request_id: Uuid,
    trace: TraceCarrier,
    body: &'a R,
}

#[derive(Deserialize)]
struct RequestIn {
    op: String,
    request_id: Option<Uuid>,
    #[serde(default)]
    trace: TraceCarrier,
    body: Box<RawValue>,
}

#[derive(Serialize)]
struct ReplyOut {
    trace: TraceCarrier,
    result: Result<Box<RawValue>, ApiError>,
}

#[derive(Deserialize)]
struct ReplyIn {
    result: Result<Box<RawValue>, ApiError>,
}

/// Calls operations over a bus. Cheap to clone.
#[derive(Clone)]
pub struct RpcClient {
    bus: Arc<dyn Bus>,
    timeout: Duration,
}

impl RpcClient {
    /// `timeout` bounds each call; past it the call fails `Unavailable`.
    pub fn new(bus: Arc<dyn Bus>, timeout: Duration) -> Self {
        Self { bus, timeout }
    }

    /// Sends `request` to its service and decodes the reply. Bus failures
    /// are `Unavailable` (retryable), undecodable replies `Internal`; the
    /// service's own errors come back as they were.
    pub async fn call<R: Rpc>(&self, request: R) -> ApiResult<R::Reply> {
        let service = R::SERVICE.name();
        let request_id = Uuid::new_v4();
        let span = info_span!(
            "rpc client",
            otel.name = format!("{service}/{}", R::NAME),
            otel.kind = "client",
            otel.status_code = Empty,
            rpc.system = "callvault",
            rpc.service = service,
            rpc.method = R::NAME,
            request_id = %request_id,
            error.code = Empty,
        );
        let started = Instant::now();
        let outcome = self
            .exchange::<R>(&request, request_id)
            .instrument(span.clone())
            .await;
        let label = match &outcome {
            Ok(_) => "ok",
            Err(err) => {
                span.record("error.code", err.code.as_str());
                if matches!(err.code, ErrorCode::Unavailable | ErrorCode::Internal) {
                    span.record("otel.status_code", "ERROR");
                }
                err.code.as_str()
            }
        };
        rpc_metrics::record_rpc_call(service, R::NAME, label, started.elapsed());
        outcome
    }

    async fn exchange<R: Rpc>(&self, request: &R, request_id: Uuid) -> ApiResult<R::Reply> {
        let service = R::SERVICE.name();
        let method = R::NAME;
        rpc_metrics::count_rpc_request(service);
        let envelope = RequestOut {
            op: method,
            request_id,
            trace: trace::inject(&Span::current()),
            body: request,
        };
        let body = serde_json::to_vec(&envelope).map_err(|_| {
            ApiError::new(
                ErrorCode::Internal,
                format!("failed to encode {service} request"),
            )
        })?;
        let reply_body = self
            .bus
            .request(service, body, self.timeout)
            .await
            .map_err(|err| bus_error(service, method, err))?;
        let reply: ReplyIn =
            serde_json::from_slice(&reply_body).map_err(|_| malformed_reply(service, method))?;
        let result = reply.result?;
        serde_json::from_str(result.get()).map_err(|_| malformed_reply(service, method))
    }
}

fn bus_error(service: &'static str, method: &'static str, err: BusError) -> ApiError {
    warn!(service, method, error = %err, "request failed");
    let kind = match err {
        BusError::Timeout { .. } => "timeout",
        BusError::NoSuchQueue(_) | BusError::Unavailable(_) => "unavailable",
        BusError::Malformed(_) => "malformed",
    };
    rpc_metrics::count_rpc_error(service, kind);
    match err {
        BusError::Timeout { .. } | BusError::NoSuchQueue(_) | BusError::Unavailable(_) => {
            ApiError::new(
                ErrorCode::Unavailable,
                format!("{service} service unavailable"),
            )
        }
        BusError::Malformed(_) => {
            ApiError::new(ErrorCode::Internal, format!("malformed {service} exchange"))
        }
    }
}

fn malformed_reply(service: &'static str, method: &'static str) -> ApiError {
    warn!(service, method, "malformed reply");
    rpc_metrics::count_rpc_error(service, "malformed");
    ApiError::new(ErrorCode::Internal, format!("malformed {service} reply"))
}

type Reply = Pin<Box<dyn Future<Output = ApiResult<Box<RawValue>>> + Send>>;
type Handler = Arc<dyn Fn(&RawValue) -> Reply + Send + Sync>;

/// One operation a router serves, for the JSON Schemas under
/// schema/events/rpc/.
#[derive(Clone, Copy)]
pub struct Operation {
    pub service: Service,
    pub name: &'static str,
    pub request_schema: fn() -> Schema,
    pub reply_schema: fn() -> Schema,
}

fn schema_of<T: schemars::JsonSchema>() -> Schema {
    schemars::schema_for!(T)
}

/// The handlers of some operations, served on their services' queues by
/// [`Router::serve`]. Each service registers its own; a process serving
/// several services merges their routers.
#[derive(Default)]
pub struct Router {
    routes: BTreeMap<Service, HashMap<&'static str, Handler>>,
    operations: Vec<Operation>,
}

impl Router {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `R` with `handler`, called with `state` and the decoded
    /// request.
    ///
    /// # Panics
    /// When `R` already has a handler here: two handlers for one operation
    /// is a wiring mistake, caught by any test that builds the router.
    pub fn route<R, S, F, Fut>(&mut self, state: &Arc<S>, handler: F) -> &mut Self
    where
        R: Rpc,
        S: Send + Sync + 'static,
        F: Fn(Arc<S>, R) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<R::Reply>> + Send + 'static,
    {
        let state = state.clone();
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |body: &RawValue| -> Reply {
            let request = serde_json::from_str::<R>(body.get());
            let state = state.clone();
            let handler = handler.clone();
            Box::pin(async move {
                // The serde error may quote the body: neither logged nor sent back.
                let Ok(request) = request else {
                    return Err(ApiError::invalid(format!(
                        "malformed {} request",
                        R::SERVICE.name()
                    )));
                };
                let reply = handler(state, request).await?;
                serde_json::value::to_raw_value(&reply)
                    .map_err(|_| ApiError::new(ErrorCode::Internal, "failed to encode reply"))
            })
        });
        let previous = self
            .routes
            .entry(R::SERVICE)
            .or_default()
            .insert(R::NAME, erased);
        assert!(
            previous.is_none(),
            "operation {}/{} routed twice",
            R::SERVICE.name(),
            R::NAME
        );
        self.operations.push(Operation {
            service: R::SERVICE,
            name: R::NAME,
            request_schema: schema_of::<R>,
            reply_schema: schema_of::<R::Reply>,
        });
        self
    }

    /// Adds `other`'s operations to this router.
    ///
    /// # Panics
    /// When both serve one operation.
    pub fn merge(&mut self, other: Router) {
        for (service, routes) in other.routes {
            let mine = self.routes.entry(service).or_default();
            for (name, handler) in routes {
                let previous = mine.insert(name, handler);
                assert!(
                    previous.is_none(),
                    "operation {}/{name} routed twice",
                    service.name()
                );
            }
        }
        self.operations.extend(other.operations);
    }

    /// Every operation routed here, in registration order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// Serves each service's queue on `bus`.
    pub async fn serve(self, bus: &dyn Bus) -> Result<(), BusError> {
        for (service, routes) in self.routes {
            let server = QueueServer {
                service,
                routes: Arc::new(routes),
            };
            bus.serve(service.name(), Arc::new(server)).await?;
        }
        Ok(())
    }
}

/// One service's queue.
struct QueueServer {
    service: Service,
    routes: Arc<HashMap<&'static str, Handler>>,
}

#[async_trait]
impl RequestHandler for QueueServer {
    async fn handle(&self, body: Vec<u8>) -> Vec<u8> {
        let service = self.service.name();
        let Ok(request) = serde_json::from_slice::<RequestIn>(&body) else {
            warn!(service, "malformed request");
            return encode_reply(
                TraceCarrier::new(),
                Err(ApiError::invalid(format!("malformed {service} request"))),
            );
        };
        let Some((&method, handler)) = self.routes.get_key_value(request.op.as_str()) else {
            warn!(service, "request for an unknown operation");
            return encode_reply(
                TraceCarrier::new(),
                Err(ApiError::invalid(format!("unknown {service} operation"))),
            );
        };
        let span = info_span!(
            "rpc server",
            otel.name = format!("{service}/{method}"),
            otel.kind = "server",
            otel.status_code = Empty,
            rpc.system = "callvault",
            rpc.service = service,
            rpc.method = method,
            request_id = Empty,
            error.code = Empty,
        );
        if let Some(request_id) = request.request_id {
            span.record("request_id", tracing::field::display(request_id));
        }
        trace::continue_trace(&span, &request.trace);
        let result = async {
            debug!(service, method, "request");
            handler(&request.body).await
        }
        .instrument(span.clone())
        .await;
        if let Err(err) = &result {
            debug!(parent: &span, service, method, code = err.code.as_str(), "request refused");
            span.record("error.code", err.code.as_str());
            if err.code == ErrorCode::Internal {
                span.record("otel.status_code", "ERROR");
            }
        }
        encode_reply(trace::inject(&span), result)
    }
}

fn encode_reply(trace: TraceCarrier, result: ApiResult<Box<RawValue>>) -> Vec<u8> {
    match serde_json::to_vec(&ReplyOut { trace, result }) {
        Ok(body) => body,
        // Not reachable with the contract types; still answer something the
        // client can decode rather than nothing.
        Err(_) => {
            br#"{"result":{"Err":{"code":"internal","message":"failed to encode reply"}}}"#.to_vec()
        }
    }
}
