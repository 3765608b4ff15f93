//! One type per operation: a request struct names its reply type, its wire
//! name and the service whose queue serves it. `callvault_bus::rpc` has the
//! one client call and the one router that carry every [`Rpc`] type over
//! either bus.

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A service that serves operations on its own request queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Metadata,
    Storage,
    Disclosure,
    Billing,
    Webhooks,
}

impl Service {
    pub const ALL: [Service; 5] = [
        Service::Metadata,
        Service::Storage,
        Service::Disclosure,
        Service::Billing,
        Service::Webhooks,
    ];

    /// The request queue's name (prefixed per deployment on RabbitMQ) and
    /// the service's name in logs, spans and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Service::Metadata => "metadata",
            Service::Storage => "storage",
            Service::Disclosure => "disclosure",
            Service::Billing => "billing",
            Service::Webhooks => "webhooks",
        }
    }
}

/// A request: `call::<R>(request)` returns `R::Reply` or an
/// [`ApiError`](crate::metadata_api::ApiError).
///
/// Requests carry secrets (recorder keys) and personal data (phone numbers
/// in filters): the bus logs and traces an operation by [`Rpc::NAME`] only,
/// never its fields.
pub trait Rpc: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    type Reply: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static;
    /// Unique within [`Rpc::SERVICE`], snake_case, e.g. `search_recordings`.
    const NAME: &'static str;
    const SERVICE: Service;
}
