//! Every operation a service serves, one request type each (see
//! [`crate::rpc::Rpc`]). Each names the actor asking, when a person asks;
//! the serving service checks that actor's permission again whatever the
//! gateway checked.

pub mod billing;
pub mod catalogue;
pub mod disclosure;
pub mod lifecycle;
pub mod offboarding;
pub mod recording_policy;
pub mod storage;
pub mod subject;
pub mod tenancy;
pub mod webhooks;
