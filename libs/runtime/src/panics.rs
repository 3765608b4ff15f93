//! A panic in a request must not take the request down with it: without a
//! guard, actix drops the connection (the client gets no answer) and Rust's
//! default hook writes a backtrace to stderr, outside the structured log.
//!
//! [`install_hook`] makes every panic one structured `error` line;
//! [`CatchPanic`] answers the request that panicked with a 500 and the same
//! JSON error body as every other refusal. What the request held is
//! released by the code that took it: its guards drop as the panic unwinds,
//! and the upload endpoint catches panics itself to release its claim.

use std::future::{Ready, ready};
use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::ContentType;
use actix_web::{Error, HttpResponse, ResponseError};
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;

/// The body of a 500 for a panic: no detail, which is in the log.
pub const PANIC_BODY: &str = r#"{"error":{"code":"internal","message":"internal error"}}"#;

/// Replaces the default panic hook (a multi-line backtrace on stderr) with
/// one structured error line: the panic's message and where it happened.
/// Call once, after the log subscriber is set up.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(not a string)");
        let location = info
            .location()
            .map(|at| format!("{}:{}", at.file(), at.line()))
            .unwrap_or_default();
        tracing::error!(panic.message = message, panic.location = %location, "panicked");
    }));
}

/// What a panicked request is answered with: a 500 and the JSON error
/// body every refusal has. (An error, not a response: the request itself
/// went down with the handler, and actix answers errors without it.)
#[derive(Debug)]
struct Panicked;

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("internal error")
    }
}

impl ResponseError for Panicked {
    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError()
            .content_type(ContentType::json())
            .body(PANIC_BODY)
    }
}

/// The middleware: `App::new().wrap(CatchPanic)`, inside the tracing
/// middleware so the request's span records the 500.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanic;

impl<S, B> Transform<S, ServiceRequest> for CatchPanic
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = CatchPanicService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CatchPanicService { service }))
    }
}

pub struct CatchPanicService<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for CatchPanicService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| self.service.call(request)));
        Box::pin(async move {
            let outcome = match called {
                Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            outcome.unwrap_or_else(|_| Err(Panicked.into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::dev::Service;
    use actix_web::{App, HttpResponse, test, web};

    use super::{CatchPanic, PANIC_BODY};

    #[actix_web::test]
    async fn a_panicking_handler_is_answered_with_a_json_500() {
        let app = test::init_service(
            App::new()
                .wrap(CatchPanic)
                .route(
                    "/boom",
                    web::get().to(|| async {
                        let values: Vec<u32> = Vec::new();
                        // An index out of bounds, as a real bug would.
                        HttpResponse::Ok().body(values[3].to_string())
                    }),
                )
                .route(
                    "/fine",
                    web::get().to(|| async { HttpResponse::Ok().body("ok") }),
                ),
        )
        .await;
        // An error, which the server answers with its response.
        let error = app
            .call(test::TestRequest::get().uri("/boom").to_request())
            .await
            .expect_err("the panic, as an error");
        let response = error.error_response();
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("body");
        assert_eq!(body, PANIC_BODY.as_bytes());
        // The worker survives and answers the next request.
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(response.status(), 200);
    }
}
