//! The storage service's request/reply API: a client implementing
//! `RecordingShredder` by sending `StorageRequest`s to the `storage` queue,
//! and the server side dispatching them to a `RecordingShredder` (the
//! storage service). The wire format is the metadata API's: the JSON of
//! [`StorageRequest`], a `MetadataReply` back.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callvault_contracts::lifecycle_api::{RecordingShredder, StorageRequest};
use callvault_contracts::metadata_api::{ApiResult, MetadataReply};
use callvault_contracts::{RecordingId, TenantId};

use crate::api_wire::{ApiCaller, ApiServer, Dispatch, to_reply};
use crate::{Bus, BusError};

/// The queue the storage service serves.
pub const STORAGE_QUEUE: &str = "storage";

/// [`RecordingShredder`] over the bus.
#[derive(Clone)]
pub struct StorageClient {
    caller: ApiCaller,
}

impl StorageClient {
    /// `timeout` bounds each call; past it the call fails `Unavailable`
    /// (the deletion worker then reports the recording failed and retries
    /// it on its next run).
    pub fn new(bus: Arc<dyn Bus>, timeout: Duration) -> Self {
        StorageClient {
            caller: ApiCaller::new(bus, STORAGE_QUEUE, "storage", timeout),
        }
    }
}

#[async_trait]
impl RecordingShredder for StorageClient {
    async fn shred(&self, tenant: TenantId, recording: RecordingId) -> ApiResult<()> {
        let request = StorageRequest::Shred { tenant, recording };
        self.caller
            .call(StorageServer::method_name(&request), &request)
            .await
    }
}

/// Serves the storage queue on `bus` with `shredder`.
pub async fn serve_storage(
    bus: &dyn Bus,
    shredder: Arc<dyn RecordingShredder>,
) -> Result<(), BusError> {
    bus.serve(
        STORAGE_QUEUE,
        Arc::new(ApiServer(StorageServer { shredder })),
    )
    .await
}

struct StorageServer {
    shredder: Arc<dyn RecordingShredder>,
}

#[async_trait]
impl Dispatch for StorageServer {
    type Request = StorageRequest;
    const SERVICE: &'static str = "storage";

    fn method_name(request: &StorageRequest) -> &'static str {
        match request {
            StorageRequest::Shred { .. } => "shred",
        }
    }

    async fn dispatch(&self, request: StorageRequest) -> MetadataReply {
        match request {
            StorageRequest::Shred { tenant, recording } => {
                to_reply(self.shredder.shred(tenant, recording).await)
            }
        }
    }
}
