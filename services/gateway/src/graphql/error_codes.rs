//! Gives every error a code.
//!
//! Our own errors are coded where they are made. The ones async-graphql
//! makes itself — syntax, unknown fields, argument types, depth and
//! complexity limits — are all the client's doing, so they get
//! `BAD_USER_INPUT` here and a client can branch on `extensions.code`
//! for every error.
//!
//! The codes (`ErrorCode::as_str`): `UNAUTHENTICATED`, `FORBIDDEN`,
//! `NOT_FOUND`, `BAD_USER_INPUT`, `CONFLICT`, `UNAVAILABLE`, `INTERNAL`,
//! `TENANT_KEY_UNUSABLE`, `TENANT_OFFBOARDED`, `EXPORT_REQUIRED`,
//! `LEGAL_HOLD_ACTIVE`, `RECORDING_RESTRICTED` (`playbackUrl` /
//! `downloadUrl` of a recording a data-subject request restricted, asked
//! by anyone but a compliance officer giving a reason) and `INVALID_PLAN`
//! (`createPlan` / `updatePlan`: an unknown currency, a charge model
//! without its fields, and every plan the billing service refuses).
//! A service's code reaches the client as the service gave it
//! (`crate::error::from_api`), so each of these is passed on unchanged.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextRequest};
use async_graphql::{ErrorExtensionValues, Response};
use callvault_contracts::metadata_api::ErrorCode;

pub(super) struct DefaultErrorCode;

impl ExtensionFactory for DefaultErrorCode {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DefaultErrorCodeExtension)
    }
}

struct DefaultErrorCodeExtension;

#[async_trait::async_trait]
impl Extension for DefaultErrorCodeExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error
                .extensions
                .get_or_insert_with(ErrorExtensionValues::default);
            if extensions.get("code").is_none() {
                extensions.set("code", ErrorCode::InvalidInput.as_str());
            }
        }
        response
    }
}
