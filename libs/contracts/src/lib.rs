//! What the services say to each other: ids, call metadata, the events on
//! the bus and the metadata service's request/reply API. Every type here is
//! versioned (a `V1` suffix or a `version` field) and has a JSON Schema
//! exported to schema/events/.

pub mod actor;
pub mod billing_api;
pub mod call;
pub mod disclosure_api;
pub mod events;
pub mod ids;
pub mod lifecycle_api;
pub mod media;
pub mod metadata_api;
pub mod ops;
pub mod permissions;
pub mod recording_policy_api;
pub mod rpc;
pub mod webhooks_api;

pub use actor::{Actor, Role};
pub use ids::{BpoId, RecordingId, TenantId, UserId};
