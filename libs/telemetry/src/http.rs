//! A server span and a duration for every HTTP request:
//! `App::new().wrap(RequestTracing)`.
//!
//! The span records the method, the matched route pattern, the status and,
//! once a handler knows it, the tenant ([`record_tenant`]). Never the path,
//! the query string (playback URLs carry their signature there), a header
//! or a body: the Authorization header, tokens and phone numbers stay out.
//! An incoming W3C `traceparent` (and `tracestate`) makes the span a child
//! of the caller's, so a recorder's or a GraphQL client's trace continues.

use std::fmt::Display;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use actix_web::{Error, HttpMessage, HttpRequest};
use opentelemetry::propagation::Extractor;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::metrics;
use crate::propagation::set_parent_from;

/// The route label of a request no route matched (a 404): one series for
/// all of them, whatever paths scanners try.
const UNMATCHED: &str = "unmatched";

/// Routes orchestrators and scrapers poll every few seconds: timed, but no
/// span (they would drown the traces).
const PROBES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The middleware: wrap the whole app with it, so that every route, the
/// services' and the binary's, gets its span.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestTracing;

/// The request's server span, in the request's extensions.
#[derive(Clone)]
struct RequestSpan(Span);

/// The server span of `request` (a disabled span outside the middleware).
pub fn request_span(request: &HttpRequest) -> Span {
    request
        .extensions()
        .get::<RequestSpan>()
        .map_or_else(Span::none, |span| span.0.clone())
}

/// Records the tenant a request acts for on its server span, once the
/// handler has authenticated it.
pub fn record_tenant(request: &HttpRequest, tenant: &dyn Display) {
    request_span(request).record("tenant_id", tracing::field::display(tenant));
}

impl<S, B> Transform<S, ServiceRequest> for RequestTracing
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestTracingService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestTracingService {
            service: Rc::new(service),
        }))
    }
}

pub struct RequestTracingService<S> {
    service: Rc<S>,
}

type ResponseFuture<B> = Pin<Box<dyn Future<Output = Result<ServiceResponse<B>, Error>>>>;

impl<S, B> Service<ServiceRequest> for RequestTracingService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = ResponseFuture<B>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = method_label(request.method());
        let route = request.match_pattern();
        let span = match route.as_deref() {
            Some(route) if PROBES.contains(&route) => Span::none(),
            _ => server_span(method, route.as_deref()),
        };
        set_parent_from(&span, &HeaderExtractor(request.headers()));
        request.extensions_mut().insert(RequestSpan(span.clone()));
        let response = span.in_scope(|| self.service.call(request));
        Box::pin(async move {
            let result = response.instrument(span.clone()).await;
            let status = match &result {
                Ok(response) => response.status(),
                Err(error) => error.as_response_error().status_code(),
            };
            // As an i64: the OpenTelemetry layer records a u64 as a string.
            span.record("http.response.status_code", i64::from(status.as_u16()));
            // A server span is in error only for a 5xx: a 4xx is the
            // client's mistake, answered as designed.
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
            let route = route.as_deref().unwrap_or(UNMATCHED);
            metrics::observe_http_request(method, route, status.as_u16(), started.elapsed());
            result
        })
    }
}

fn server_span(method: &'static str, route: Option<&str>) -> Span {
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    tracing::info_span!(
        "HTTP request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        http.response.status_code = Empty,
        tenant_id = Empty,
    )
}

/// The method as the OpenTelemetry conventions name it: the standard ones,
/// and `_OTHER` for anything else (a label can't take arbitrary input).
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "_OTHER",
    }
}

/// Reads the trace context from actix's request headers.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
