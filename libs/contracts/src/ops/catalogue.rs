//! The calls catalogue (metadata service).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metadata_api::{PageRequest, Recording, RecordingFilter, RecordingPage};
use crate::rpc::{Rpc, Service};
use crate::{Actor, RecordingId, TenantId};

/// The most recording ids one [`KnownRecordings`] call may ask about.
pub const MAX_KNOWN_RECORDINGS_ASKED: usize = 500;

/// Machine call from ingestion's reconciler: which of `ids` (at most
/// [`MAX_KNOWN_RECORDINGS_ASKED`]) the catalogue holds for `tenant`. A
/// catalogued recording is never an orphan, whatever ingestion's own
/// tables say.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct KnownRecordings {
    pub tenant: TenantId,
    pub ids: Vec<RecordingId>,
}

impl Rpc for KnownRecordings {
    type Reply = Vec<RecordingId>;
    const NAME: &'static str = "known_recordings";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SearchRecordings {
    pub actor: Actor,
    pub tenant: TenantId,
    pub filter: RecordingFilter,
    pub page: PageRequest,
}

impl Rpc for SearchRecordings {
    type Reply = RecordingPage;
    const NAME: &'static str = "search_recordings";
    const SERVICE: Service = Service::Metadata;
}

/// Every segment of one call, found by the id the recorder or CTI gave it
/// (`external_call_id`), in segment order: what a CRM or ticket system
/// holds. An agent gets only their own segments; none is `[]`, not an
/// error, so a caller can't tell another agent's call from no call.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct CallRecordings {
    pub actor: Actor,
    pub tenant: TenantId,
    pub external_call_id: String,
}

impl Rpc for CallRecordings {
    type Reply = Vec<Recording>;
    const NAME: &'static str = "call_recordings";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetRecording {
    pub actor: Actor,
    pub tenant: TenantId,
    pub id: RecordingId,
}

impl Rpc for GetRecording {
    type Reply = Recording;
    const NAME: &'static str = "get_recording";
    const SERVICE: Service = Service::Metadata;
}
