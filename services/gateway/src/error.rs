//! GraphQL errors carrying the contracts' error codes in `extensions.code`.
//!
//! Everything below the resolvers returns `async_graphql::Error` already
//! coded: async-graphql converts any `Display` error with `?`, which would
//! silently drop the code, so `ApiError` never reaches a resolver.

use async_graphql::ErrorExtensions;
use callvault_contracts::metadata_api::{ApiError, ErrorCode};
use tracing::warn;

/// An error with `extensions.code` set to `code`'s client-facing name.
pub(crate) fn coded(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message)
        .extend_with(|_, extensions| extensions.set("code", code.as_str()))
}

pub(crate) fn forbidden() -> async_graphql::Error {
    coded(ErrorCode::Forbidden, "not allowed")
}

pub(crate) fn bad_input(message: impl Into<String>) -> async_graphql::Error {
    coded(ErrorCode::InvalidInput, message)
}

/// A service's error (metadata, storage, disclosure) as the client sees
/// it. Its messages are safe to show by contract; internal ones are still
/// replaced, since they describe our faults, not the caller's.
pub(crate) fn from_api(error: ApiError) -> async_graphql::Error {
    if error.code == ErrorCode::Internal {
        warn!(error = %error.message, "service internal error");
        return coded(ErrorCode::Internal, "internal error");
    }
    coded(error.code, error.message)
}
