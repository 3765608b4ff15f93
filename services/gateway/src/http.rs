//! The HTTP surface: `POST /graphql` and the GraphiQL page on `GET /graphql`.
//!
//! Status codes follow GraphQL over HTTP with `application/json`: a request
//! that reached GraphQL execution answers 200, its errors in `errors` with
//! `extensions.code` — including `UNAUTHENTICATED` on every field for a
//! missing or invalid token (introspection still works without one: the
//! schema is public, it is checked in). Only a body that isn't a GraphQL
//! request at all gets a 4xx, with the same JSON error shape.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use callvault_contracts::metadata_api::{ErrorCode, MetadataApi};
use futures_util::StreamExt;
use serde_json::json;
use tracing::debug;

use crate::access::Caller;
use crate::auth::{AuthError, TokenVerifier};
use crate::graphql::{GatewaySchema, build_schema};
use crate::playback::PlaybackLinks;

/// The largest request body accepted: queries are small, and an unbounded
/// body would be a memory exhaustion vector before any limit applies.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("playback base url must start with http:// or https://")]
    PlaybackBaseUrl,
    #[error("playback url ttl must be between 1 and {max} seconds")]
    PlaybackTtl { max: u64 },
}

/// What the HTTP handlers share.
///
/// The metadata API is not a field: it lives inside the schema, behind the
/// scoped handles of [`crate::access`], so that no handler can reach it
/// around the permission checks.
pub struct GatewayState {
    schema: GatewaySchema,
    verifier: Arc<TokenVerifier>,
    playback: PlaybackLinks,
}

impl GatewayState {
    pub fn new(
        verifier: Arc<TokenVerifier>,
        metadata: Arc<dyn MetadataApi>,
        playback: PlaybackLinks,
    ) -> Self {
        Self {
            schema: build_schema(metadata, playback.clone()),
            verifier,
            playback,
        }
    }

    pub fn schema(&self) -> &GatewaySchema {
        &self.schema
    }

    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    pub fn playback(&self) -> &PlaybackLinks {
        &self.playback
    }
}

/// Mounts `POST /graphql` and `GET /graphql` (GraphiQL).
pub fn configure(state: web::Data<GatewayState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config.app_data(state).service(
            web::resource("/graphql")
                .route(web::post().to(graphql))
                .route(web::get().to(graphiql)),
        );
    }
}

async fn graphql(
    state: web::Data<GatewayState>,
    http: HttpRequest,
    mut body: web::Payload,
) -> HttpResponse {
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return request_error(StatusCode::BAD_REQUEST, "request body could not be read");
        };
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return request_error(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large");
        }
        bytes.extend_from_slice(&chunk);
    }
    // One operation per request: a batch would multiply the depth and
    // complexity budgets.
    let Ok(request) = serde_json::from_slice::<async_graphql::Request>(&bytes) else {
        return request_error(StatusCode::BAD_REQUEST, "body is not a graphql request");
    };
    let caller = match bearer_token(&http) {
        Err(error) => Caller::rejected(error),
        Ok(token) => match state.verifier.verify(token).await {
            Ok(actor) => Caller::verified(actor),
            Err(error) => {
                debug!(reason = %error, "token rejected");
                Caller::rejected(error)
            }
        },
    };
    let response = state.schema.execute(request.data(caller)).await;
    HttpResponse::Ok().json(response)
}

async fn graphiql() -> HttpResponse {
    // GraphiQL sends no token by itself: paste `Authorization: Bearer …` in
    // its headers pane.
    let page = GraphiQLSource::build()
        .endpoint("/graphql")
        .title("callvault")
        .finish();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page)
}

fn bearer_token(http: &HttpRequest) -> Result<&str, AuthError> {
    let Some(value) = http.headers().get(AUTHORIZATION) else {
        return Err(AuthError::Missing);
    };
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(AuthError::Malformed);
    };
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}

fn request_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "errors": [{ "message": message, "extensions": { "code": ErrorCode::InvalidInput.as_str() } }]
    }))
}
