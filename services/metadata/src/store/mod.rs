//! Reads and writes of the metadata database, one table family per module.
//!
//! Every function that touches tenant data takes the tenant id and puts it
//! in the statement's WHERE clause (or the row's key): there is no way to
//! list users, keys or recordings here without naming the tenant. The one
//! exception is [`api_keys::find_by_secret_hash`]: a recorder's secret *is*
//! what says which tenant it belongs to.

pub(crate) mod api_keys;
pub(crate) mod deletion;
pub(crate) mod holds;
pub(crate) mod offboarding;
pub(crate) mod recording_policy;
pub(crate) mod recordings;
pub(crate) mod retention;
pub(crate) mod subject;
pub(crate) mod tenancy;
