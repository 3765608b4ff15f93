//! The recording-policy calls of a tenant handle: the policy, the
//! do-not-record list and the calls kept as metadata only. `ManagePolicy`
//! only, like retention: a tenant admin on its own tenant, a BPO admin on
//! its BPO's tenants. Answers that name a tenant are checked to be this
//! one.

use callvault_contracts::ops::recording_policy::{
    AddDoNotRecordNumbers, GetRecordingPolicy, ListDoNotRecordNumbers, ListNotRecordedCalls,
    RemoveDoNotRecordNumbers, SetRecordingPolicy,
};
use callvault_contracts::recording_policy_api::{
    DoNotRecordPage, NotRecordedCallPage, RecordingPolicy,
};

use super::handles::TenantScope;
use super::perm;
use crate::error::from_api;

type Result<T> = async_graphql::Result<T>;

impl TenantScope<'_, perm::ManagePolicy> {
    pub async fn recording_policy(&self) -> Result<RecordingPolicy> {
        self.rpc
            .call(GetRecordingPolicy {
                actor: self.actor.clone(),
                tenant: self.tenant,
            })
            .await
            .map_err(from_api)
    }

    pub async fn set_recording_policy(&self, policy: RecordingPolicy) -> Result<RecordingPolicy> {
        self.rpc
            .call(SetRecordingPolicy {
                actor: self.actor.clone(),
                tenant: self.tenant,
                policy,
            })
            .await
            .map_err(from_api)
    }

    pub async fn add_do_not_record_numbers(&self, numbers: Vec<String>) -> Result<u64> {
        self.rpc
            .call(AddDoNotRecordNumbers {
                actor: self.actor.clone(),
                tenant: self.tenant,
                numbers,
            })
            .await
            .map_err(from_api)
    }

    pub async fn remove_do_not_record_numbers(&self, numbers: Vec<String>) -> Result<u64> {
        self.rpc
            .call(RemoveDoNotRecordNumbers {
                actor: self.actor.clone(),
                tenant: self.tenant,
                numbers,
            })
            .await
            .map_err(from_api)
    }

    pub async fn do_not_record_numbers(
        &self,
        first: Option<u32>,
        after: Option<String>,
    ) -> Result<DoNotRecordPage> {
        self.rpc
            .call(ListDoNotRecordNumbers {
                actor: self.actor.clone(),
                tenant: self.tenant,
                first,
                after,
            })
            .await
            .map_err(from_api)
    }

    pub async fn not_recorded_calls(
        &self,
        first: Option<u32>,
        after: Option<String>,
    ) -> Result<NotRecordedCallPage> {
        let page = self
            .rpc
            .call(ListNotRecordedCalls {
                actor: self.actor.clone(),
                tenant: self.tenant,
                first,
                after,
            })
            .await
            .map_err(from_api)?;
        for call in &page.calls {
            self.check_tenant(call.tenant_id, "not-recorded call")?;
        }
        Ok(page)
    }
}
