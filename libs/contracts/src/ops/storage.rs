//! The storage service's operations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::rpc::{Rpc, Service};
use crate::{RecordingId, TenantId};

/// Destroys a recording's wrapped data key and every object version
/// (crypto-shredding), for the metadata service's deletion worker.
/// Idempotent: shredding an already shredded (or never stored) recording
/// succeeds.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Shred {
    pub tenant: TenantId,
    pub recording: RecordingId,
}

impl Rpc for Shred {
    type Reply = ();
    const NAME: &'static str = "shred";
    const SERVICE: Service = Service::Storage;
}
