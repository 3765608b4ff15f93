//! The HTTP surface: `POST /graphql`, the GraphiQL page on `GET /graphql`,
//! and the one public REST route, `GET /v1/tenants/{tenant_id}/manifest-key`.
//!
//! Status codes follow GraphQL over HTTP with `application/json`: a request
//! that reached GraphQL execution answers 200, its errors in `errors` with
//! `extensions.code` — including `UNAUTHENTICATED` on every field for a
//! missing or invalid token (introspection still works without one: the
//! schema is public, it is checked in). Only a body that isn't a GraphQL
//! request at all gets a 4xx, with the same JSON error shape.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, AUTHORIZATION};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use callvault_bus::RpcClient;
use callvault_contracts::TenantId;
use callvault_contracts::metadata_api::ErrorCode;
use futures_util::StreamExt;
use serde_json::json;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::access::{Caller, PublicLifecycle, TenantLookups};
use crate::activity::UserActivity;
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
    #[error("disclosure bundle base url must start with http:// or https://")]
    BundleBaseUrl,
}

/// What the HTTP handlers share.
///
/// The services' client is not a field: they live inside the
/// schema, behind the scoped handles of [`crate::access`], so that no
/// handler can reach them around the permission checks. The one exception
/// is [`PublicLifecycle`], which has only the public manifest key.
pub struct GatewayState {
    schema: GatewaySchema,
    verifier: Arc<TokenVerifier>,
    playback: PlaybackLinks,
    public: PublicLifecycle,
    /// Publishes `user.active`; none in tests that don't look at it.
    activity: Option<UserActivity>,
}

impl GatewayState {
    pub fn new(verifier: Arc<TokenVerifier>, rpc: RpcClient, playback: PlaybackLinks) -> Self {
        Self::with_introspection(verifier, rpc, playback, true)
    }

    /// As [`GatewayState::new`], with introspection answered or refused.
    pub fn with_introspection(
        verifier: Arc<TokenVerifier>,
        rpc: RpcClient,
        playback: PlaybackLinks,
        introspection: bool,
    ) -> Self {
        Self {
            public: PublicLifecycle::new(rpc.clone()),
            schema: build_schema(rpc, playback.clone(), introspection),
            verifier,
            playback,
            activity: None,
        }
    }

    /// Publishes `user.active` for the people whose requests it serves.
    pub fn with_activity(mut self, activity: UserActivity) -> Self {
        self.activity = Some(activity);
        self
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

/// Mounts `POST /graphql`, `GET /graphql` (GraphiQL) and the public
/// `GET /v1/tenants/{tenant_id}/manifest-key`.
pub fn configure(state: web::Data<GatewayState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(state)
            .service(
                web::resource("/graphql")
                    .route(web::post().to(graphql))
                    .route(web::get().to(graphiql)),
            )
            .service(
                web::resource("/v1/tenants/{tenant_id}/manifest-key")
                    .route(web::get().to(manifest_key)),
            );
    }
}

async fn graphql(
    state: web::Data<GatewayState>,
    http: HttpRequest,
    mut body: web::Payload,
) -> HttpResponse {
    // A JSON body only: a form or text/plain POST is what a cross-site
    // page can send without a preflight.
    let json = http
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return request_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type must be application/json",
        );
    }
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
    // async-graphql reads a missing `query` as empty; GraphQL over HTTP
    // requires one, so neither is a request to execute.
    if request.query.is_empty() {
        return request_error(StatusCode::BAD_REQUEST, "the request has no query");
    }
    let caller = match bearer_token(&http) {
        Err(error) => Caller::rejected(error),
        Ok(token) => match state.verifier.verify(token).await {
            Ok(mut actor) => {
                if let Some(tenant) = &actor.tenant_id {
                    callvault_telemetry::http::record_tenant(&http, tenant);
                }
                actor.origin = client_address(&http);
                if let Some(activity) = &state.activity {
                    activity.observe(&actor);
                }
                Caller::verified(actor)
            }
            Err(error) => {
                debug!(reason = %error, "token rejected");
                Caller::rejected(error)
            }
        },
    };
    let request = request.data(caller).data(TenantLookups::default());
    let response = state.schema.execute(request).await;
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

/// The client address for the audit trail: the TCP peer. X-Forwarded-For
/// is deliberately ignored: any client can send it, and trusting it needs a
/// configured list of trusted proxies, which the gateway doesn't have yet.
/// Behind a proxy the audit trail therefore shows the proxy's address.
fn client_address(http: &HttpRequest) -> Option<String> {
    http.peer_addr().map(|peer| peer.ip().to_string())
}

/// `GET /v1/tenants/{tenant_id}/manifest-key`: the key a third party
/// verifies the tenant's signed daily manifests with. Public on purpose: it
/// only verifies, and the verifier has no account here.
async fn manifest_key(state: web::Data<GatewayState>, path: web::Path<String>) -> HttpResponse {
    let Ok(tenant) = path.parse::<Uuid>() else {
        return rest_error(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "tenant id is not a uuid",
        );
    };
    match state.public.manifest_public_key(TenantId(tenant)).await {
        Ok(public_key) => HttpResponse::Ok().json(json!({
            "tenant_id": tenant,
            "algorithm": "Ed25519",
            "public_key": public_key,
        })),
        Err(error) => {
            let (status, code, message) = match error.code {
                ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found", "tenant not found"),
                ErrorCode::InvalidInput => (
                    StatusCode::BAD_REQUEST,
                    "invalid_input",
                    "invalid tenant id",
                ),
                ErrorCode::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "metadata service unavailable",
                ),
                _ => {
                    warn!(code = error.code.as_str(), "manifest key lookup failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "internal error",
                    )
                }
            };
            rest_error(status, code, message)
        }
    }
}

/// The REST error shape the other services' HTTP APIs use.
fn rest_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": { "code": code, "message": message } }))
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
