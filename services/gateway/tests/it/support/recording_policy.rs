//! The recording-policy operations on the lifecycle double: each records
//! its call and answers something well-formed for the tenant asked about.

use std::sync::Arc;

use callvault_bus::Router;
use callvault_contracts::ops::recording_policy as ops;
use callvault_contracts::recording_policy_api::{
    DoNotRecordPage, NotRecordedCallPage, RecordingPolicy,
};

use super::lifecycle::FakeLifecycle;

pub fn routes(router: &mut Router, fake: &Arc<FakeLifecycle>) {
    router
        .route(fake, |f, r: ops::GetRecordingPolicy| async move {
            f.record("get_recording_policy", r.tenant, Some(&r.actor), None);
            Ok(RecordingPolicy::default())
        })
        .route(fake, |f, r: ops::SetRecordingPolicy| async move {
            f.record("set_recording_policy", r.tenant, Some(&r.actor), None);
            Ok(RecordingPolicy {
                version: 1,
                ..r.policy
            })
        })
        .route(fake, |f, r: ops::AddDoNotRecordNumbers| async move {
            f.record("add_do_not_record_numbers", r.tenant, Some(&r.actor), None);
            Ok(r.numbers.len() as u64)
        })
        .route(fake, |f, r: ops::RemoveDoNotRecordNumbers| async move {
            f.record(
                "remove_do_not_record_numbers",
                r.tenant,
                Some(&r.actor),
                None,
            );
            Ok(0)
        })
        .route(fake, |f, r: ops::ListDoNotRecordNumbers| async move {
            f.record("list_do_not_record_numbers", r.tenant, Some(&r.actor), None);
            Ok(DoNotRecordPage {
                entries: vec![],
                total: 0,
                next_cursor: None,
            })
        })
        .route(fake, |f, r: ops::ListNotRecordedCalls| async move {
            f.record("list_not_recorded_calls", r.tenant, Some(&r.actor), None);
            Ok(NotRecordedCallPage {
                calls: vec![],
                next_cursor: None,
            })
        });
}
