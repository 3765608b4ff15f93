//! TODO(audit): the append-only, hash-chained audit trail per tenant.
#![allow(unused_variables)]

use callvault_contracts::lifecycle_api::{AuditAction, AuditEntry, AuditPage, ChainVerification};
use callvault_contracts::{Actor, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

/// What happened, for [`append`]; who and from where come from the actor.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub action: AuditAction,
    pub target: Option<String>,
    pub reason: Option<String>,
    /// Never personal data (no phone numbers), never secrets.
    pub details: serde_json::Value,
}

/// Appends one entry to `tenant`'s chain, inside the caller's transaction
/// when `conn` is one (so the entry commits with the change it records).
pub async fn append<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    actor: &Actor,
    at: DateTime<Utc>,
    record: AuditRecord,
) -> Result<AuditEntry, DbErr> {
    unimplemented!("audit::append")
}

/// One page of the trail, oldest first, after `after_seq`.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    after_seq: Option<u64>,
    first: u32,
) -> Result<AuditPage, DbErr> {
    unimplemented!("audit::page")
}

/// Recomputes the whole chain of `tenant`.
pub async fn verify<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
) -> Result<ChainVerification, DbErr> {
    unimplemented!("audit::verify")
}
