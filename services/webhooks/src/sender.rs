//! One HTTP attempt: a POST with the Standard Webhooks headers, to an
//! allowed address only, no redirects followed, no proxy, bounded in time
//! and in how much of the answer is read.
//!
//! The URL may carry a token in its query: neither it nor the client's
//! errors (which quote it) are logged or stored; an attempt's error is one
//! of a few fixed texts.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::address::{AddressPolicy, GuardedResolver, Refused, literal_ip, parse};
use crate::service::DeliveryOptions;

/// What an attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<&'static str>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn failed(error: &'static str) -> Self {
        Self {
            status: None,
            error: Some(error),
        }
    }
}

type Connector = HttpsConnector<HttpConnector<GuardedResolver>>;

#[derive(Clone)]
pub struct Sender {
    client: Client<Connector, Full<Bytes>>,
    policy: Arc<AddressPolicy>,
    timeout: Duration,
    max_response_bytes: usize,
}

/// The headers of one attempt.
pub struct Signed<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signature: String,
}

impl Sender {
    pub fn new(policy: Arc<AddressPolicy>, options: &DeliveryOptions) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver::new(policy.clone()));
        // The TLS layer above takes https; plain http passes through.
        http.enforce_http(false);
        http.set_connect_timeout(Some(options.connect_timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // hyper's client follows no redirect and uses no proxy.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Self {
            client,
            policy,
            timeout: options.timeout,
            max_response_bytes: options.max_response_bytes,
        })
    }

    pub async fn send(&self, url: &str, signed: Signed<'_>, body: String) -> Outcome {
        let parsed = match parse(url) {
            Ok(parsed) => parsed,
            Err(_) => return Outcome::failed("invalid url"),
        };
        // An address written in the URL is never resolved, so never seen by
        // the guarded resolver: checked here.
        if literal_ip(&parsed).is_some_and(|ip| !self.policy.allows(ip)) {
            return Outcome::failed("address not allowed");
        }
        let mut request = http::Request::post(parsed.as_str())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static("callvault-webhooks/1"));
        let values = [
            ("webhook-id", signed.id.to_owned()),
            ("webhook-timestamp", signed.timestamp.to_string()),
            ("webhook-signature", signed.signature),
        ];
        for (name, value) in values {
            match HeaderValue::from_str(&value) {
                Ok(value) => request = request.header(name, value),
                Err(_) => return Outcome::failed("unsignable delivery"),
            }
        }
        let Ok(request) = request.body(Full::new(Bytes::from(body))) else {
            return Outcome::failed("invalid url");
        };
        match tokio::time::timeout(self.timeout, self.exchange(request)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::failed("timed out"),
        }
    }

    /// The request, then the answer's status; its body is read only so the
    /// connection can be reused, and only so far: an endpoint can't make
    /// the worker read without end.
    async fn exchange(&self, request: http::Request<Full<Bytes>>) -> Outcome {
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(err) => return Outcome::failed(classify(&err)),
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut read = 0usize;
        while read < self.max_response_bytes {
            match body.frame().await {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, Bytes::len);
                }
                // The status is what counts; a body cut short doesn't undo it.
                Some(Err(_)) | None => break,
            }
        }
        Outcome {
            status: Some(status),
            error: None,
        }
    }
}

fn classify(err: &hyper_util::client::legacy::Error) -> &'static str {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(inner) = source {
        if let Some(refused) = inner.downcast_ref::<Refused>() {
            return match refused {
                Refused::Unresolved => "host does not resolve",
                _ => "address not allowed",
            };
        }
        if inner
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return "timed out";
        }
        source = inner.source();
    }
    if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

/// rustls on aws-lc (the graph's one crypto provider) with the system's
/// root certificates.
fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!(%error, "a system root certificate could not be loaded");
    }
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no system root certificates: https webhooks will fail");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // The provider's defaults are its own protocol versions.
        Err(_) => unreachable!("aws-lc supports the default protocol versions"),
    }
}
