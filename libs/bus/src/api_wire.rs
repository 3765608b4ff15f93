//! The protocol every API carried over request/reply shares: the request is
//! the JSON of a `…Request` enum (one variant per method), the reply the
//! JSON of [`MetadataReply`] (`{"Ok": <result>}` or `{"Err": <ApiError>}`).
//!
//! [`ApiCaller`] is the client half, [`ApiServer`] the server half around a
//! [`Dispatch`]; `metadata`, `lifecycle` and `storage` only map their
//! methods onto requests. Bodies carry secrets and personal data: nothing
//! here logs them, only the service, the method name and error codes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, MetadataReply};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::{Bus, BusError, RequestHandler, rpc_metrics};

/// Sends requests to one queue and decodes the replies.
#[derive(Clone)]
pub(crate) struct ApiCaller {
    bus: Arc<dyn Bus>,
    queue: &'static str,
    /// Names the service in errors and logs, e.g. `metadata`.
    service: &'static str,
    timeout: Duration,
}

impl ApiCaller {
    pub(crate) fn new(
        bus: Arc<dyn Bus>,
        queue: &'static str,
        service: &'static str,
        timeout: Duration,
    ) -> Self {
        Self {
            bus,
            queue,
            service,
            timeout,
        }
    }

    /// Sends `request` (whose method is `method`, for logs) and decodes the
    /// result. Bus failures are `Unavailable` (retryable), undecodable
    /// replies `Internal`; the service's own errors come back as they were.
    pub(crate) async fn call<R: Serialize, T: DeserializeOwned>(
        &self,
        method: &'static str,
        request: &R,
    ) -> ApiResult<T> {
        let service = self.service;
        rpc_metrics::record_call(service);
        let body = serde_json::to_vec(request).map_err(|_| {
            ApiError::new(
                ErrorCode::Internal,
                format!("failed to encode {service} request"),
            )
        })?;
        let reply_body = self
            .bus
            .request(self.queue, body, self.timeout)
            .await
            .map_err(|err| self.bus_error(method, err))?;
        let reply: MetadataReply =
            serde_json::from_slice(&reply_body).map_err(|_| self.malformed_reply(method))?;
        serde_json::from_value(reply?).map_err(|_| self.malformed_reply(method))
    }

    fn bus_error(&self, method: &'static str, err: BusError) -> ApiError {
        let service = self.service;
        warn!(service, method, error = %err, "request failed");
        let kind = match err {
            BusError::Timeout { .. } => "timeout",
            BusError::NoSuchQueue(_) | BusError::Unavailable(_) => "unavailable",
            BusError::Malformed(_) => "malformed",
        };
        rpc_metrics::record_error(service, kind);
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

    fn malformed_reply(&self, method: &'static str) -> ApiError {
        let service = self.service;
        warn!(service, method, "malformed reply");
        rpc_metrics::record_error(service, "malformed");
        ApiError::new(ErrorCode::Internal, format!("malformed {service} reply"))
    }
}

/// One API's server side: decodes nothing itself, just runs a decoded
/// request.
#[async_trait]
pub(crate) trait Dispatch: Send + Sync + 'static {
    type Request: DeserializeOwned + Send;
    /// Names the service in errors and logs.
    const SERVICE: &'static str;

    /// The method `request` calls, for logs: never its arguments.
    fn method_name(request: &Self::Request) -> &'static str;

    async fn dispatch(&self, request: Self::Request) -> MetadataReply;
}

/// Serves one queue with a [`Dispatch`].
pub(crate) struct ApiServer<D>(pub(crate) D);

#[async_trait]
impl<D: Dispatch> RequestHandler for ApiServer<D> {
    async fn handle(&self, body: Vec<u8>) -> Vec<u8> {
        let service = D::SERVICE;
        let reply = match serde_json::from_slice::<D::Request>(&body) {
            Ok(request) => {
                let method = D::method_name(&request);
                debug!(service, method, "request");
                let reply = self.0.dispatch(request).await;
                if let Err(err) = &reply {
                    debug!(service, method, code = err.code.as_str(), "request refused");
                }
                reply
            }
            // The serde error may quote the body: it is not logged nor sent back.
            Err(_) => {
                warn!(service, "malformed request");
                Err(ApiError::invalid(format!("malformed {service} request")))
            }
        };
        encode_reply(&reply)
    }
}

/// A method's result as a reply.
pub(crate) fn to_reply<T: Serialize>(result: ApiResult<T>) -> MetadataReply {
    let value = result?;
    serde_json::to_value(value)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "failed to encode reply"))
}

fn encode_reply(reply: &MetadataReply) -> Vec<u8> {
    match serde_json::to_vec(reply) {
        Ok(body) => body,
        // Not reachable with the contract types; still answer something the
        // client can decode rather than nothing.
        Err(_) => br#"{"Err":{"code":"internal","message":"failed to encode reply"}}"#.to_vec(),
    }
}
