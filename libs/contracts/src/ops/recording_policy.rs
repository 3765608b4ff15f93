//! The recording policy (metadata service): set by the tenant's admin,
//! asked by ingestion before an upload's audio is stored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::call::CallMetadata;
use crate::recording_policy_api::{
    DoNotRecordPage, NotRecordedCallPage, RecordingPolicy, UploadDecision,
};
use crate::rpc::{Rpc, Service};
use crate::{Actor, RecordingId, TenantId};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct GetRecordingPolicy {
    pub actor: Actor,
    pub tenant: TenantId,
}

impl Rpc for GetRecordingPolicy {
    type Reply = RecordingPolicy;
    const NAME: &'static str = "get_recording_policy";
    const SERVICE: Service = Service::Metadata;
}

/// Applies to uploads from then on; calls already stored stay.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct SetRecordingPolicy {
    pub actor: Actor,
    pub tenant: TenantId,
    pub policy: RecordingPolicy,
}

impl Rpc for SetRecordingPolicy {
    type Reply = RecordingPolicy;
    const NAME: &'static str = "set_recording_policy";
    const SERVICE: Service = Service::Metadata;
}

/// Adds numbers to the do-not-record list; the reply is how many were new.
/// Numbers are personal data: never logged.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct AddDoNotRecordNumbers {
    pub actor: Actor,
    pub tenant: TenantId,
    pub numbers: Vec<String>,
}

impl std::fmt::Debug for AddDoNotRecordNumbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddDoNotRecordNumbers")
            .field("actor", &self.actor)
            .field("tenant", &self.tenant)
            .field("numbers", &self.numbers.len())
            .finish()
    }
}

impl Rpc for AddDoNotRecordNumbers {
    type Reply = u64;
    const NAME: &'static str = "add_do_not_record_numbers";
    const SERVICE: Service = Service::Metadata;
}

/// Removes numbers from the list; the reply is how many were on it.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct RemoveDoNotRecordNumbers {
    pub actor: Actor,
    pub tenant: TenantId,
    pub numbers: Vec<String>,
}

impl std::fmt::Debug for RemoveDoNotRecordNumbers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoveDoNotRecordNumbers")
            .field("actor", &self.actor)
            .field("tenant", &self.tenant)
            .field("numbers", &self.numbers.len())
            .finish()
    }
}

impl Rpc for RemoveDoNotRecordNumbers {
    type Reply = u64;
    const NAME: &'static str = "remove_do_not_record_numbers";
    const SERVICE: Service = Service::Metadata;
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListDoNotRecordNumbers {
    pub actor: Actor,
    pub tenant: TenantId,
    pub first: Option<u32>,
    pub after: Option<String>,
}

impl Rpc for ListDoNotRecordNumbers {
    type Reply = DoNotRecordPage;
    const NAME: &'static str = "list_do_not_record_numbers";
    const SERVICE: Service = Service::Metadata;
}

/// Calls kept as metadata only, by external call id and segment.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ListNotRecordedCalls {
    pub actor: Actor,
    pub tenant: TenantId,
    pub first: Option<u32>,
    pub after: Option<String>,
}

impl Rpc for ListNotRecordedCalls {
    type Reply = NotRecordedCallPage;
    const NAME: &'static str = "list_not_recorded_calls";
    const SERVICE: Service = Service::Metadata;
}

/// Machine call from ingestion, for a tenant whose API key grant says it
/// has a policy: whether to store this upload. With `MetadataOnly` the call
/// is already kept as a not-recorded call when the reply comes (a retry
/// finds it there and gets the same answer).
/// (`CallMetadata`'s `Debug` redacts the numbers.)
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DecideUpload {
    pub tenant: TenantId,
    pub recording: RecordingId,
    pub call: CallMetadata,
}

impl Rpc for DecideUpload {
    type Reply = UploadDecision;
    const NAME: &'static str = "decide_upload";
    const SERVICE: Service = Service::Metadata;
}
