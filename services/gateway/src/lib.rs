//! The gateway: the public GraphQL API.
//!
//! It verifies the caller's JWT ([`auth`]), decides what the caller may
//! reach ([`access`]) and answers GraphQL ([`graphql`]) by calling the
//! services' operations ([`callvault_contracts::ops`]) over the bus.
//! It never touches a database, and audio never goes through it: recordings
//! carry a short-lived signed playback URL served by the storage service,
//! and a data-subject request's export bundle a signed download URL served
//! by the disclosure service.
//!
//! It publishes one event of its own, `user.active` ([`activity`]), for the
//! billing service's active-users meter.

pub mod access;
pub mod activity;
pub mod auth;
mod error;
pub mod graphql;
mod http;
pub mod module;
mod playback;

pub use access::{Permission, Reach};
pub use activity::{UserActivity, UserPseudonyms};
pub use auth::{AuthConfig, AuthError, JwksSource, TokenVerifier, issue_hs256};
pub use graphql::{GatewaySchema, build_schema, sdl};
pub use http::{GatewayState, MAX_BODY_BYTES, StateError, configure};
pub use playback::{
    DEFAULT_PLAYBACK_TTL_SECS, PLAYBACK_PATH_FORMAT, PlaybackLinks, SignedBundleUrl, bundle_path,
    byte_rate, playback_path, playback_terms,
};
