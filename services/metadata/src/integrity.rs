//! The `recording.integrity_failed` consumer: a recording storage found
//! damaged becomes an entry in its tenant's audit chain, exactly once
//! however often the bus delivers the event, so the trail a compliance
//! officer exports shows when evidence was found damaged and by what.

use async_trait::async_trait;
use callvault_bus::{EventHandler, HandlerError, Message, inbox};
use callvault_contracts::events::{IntegrityCheck, RecordingIntegrityFailedV1};
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::{Actor, Role};
use sea_orm::{DatabaseConnection, TransactionTrait};
use serde_json::json;

use crate::audit::{self, AuditRecord};

/// The consumer (durable queue) name the inbox deduplicates under.
pub const CONSUMER: &str = "metadata.integrity";

/// The subject integrity entries are recorded under: storage found the
/// damage, no person did anything.
pub const STORAGE_SUBJECT: &str = "system:storage-integrity";

pub struct IntegrityConsumer {
    db: DatabaseConnection,
}

impl IntegrityConsumer {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl EventHandler for IntegrityConsumer {
    async fn handle(&self, message: Message) -> Result<(), HandlerError> {
        let event: RecordingIntegrityFailedV1 = message.decode().map_err(|err| {
            HandlerError::permanent(format!("cannot decode recording.integrity_failed: {err}"))
        })?;
        let db_error = |err: sea_orm::DbErr| HandlerError::retryable(err.to_string());
        let txn = self.db.begin().await.map_err(db_error)?;
        if !inbox::record_once(&txn, CONSUMER, message.id)
            .await
            .map_err(db_error)?
        {
            txn.commit().await.map_err(db_error)?;
            return Ok(());
        }
        // No system role exists: like the deletion worker, the entry is
        // recorded as the tenant's compliance function, under a subject no
        // person can have.
        let actor = Actor {
            subject: STORAGE_SUBJECT.to_owned(),
            role: Role::ComplianceOfficer,
            bpo_id: None,
            tenant_id: Some(event.tenant_id),
            agent_id: None,
            origin: None,
        };
        let detected_by = match event.detected_by {
            IntegrityCheck::Read => "read",
            IntegrityCheck::Verify => "verify",
            IntegrityCheck::Scrub => "scrub",
        };
        audit::append(
            &txn,
            event.tenant_id,
            &actor,
            event.detected_at,
            AuditRecord {
                action: AuditAction::IntegrityFailure,
                target: Some(event.recording_id.to_string()),
                reason: None,
                details: json!({
                    "object_key": event.object_key,
                    "detected_by": detected_by,
                    "check": event.detail,
                }),
            },
        )
        .await
        .map_err(db_error)?;
        txn.commit().await.map_err(db_error)?;
        tracing::warn!(
            tenant_id = %event.tenant_id,
            recording_id = %event.recording_id,
            detected_by,
            "integrity failure recorded in the audit trail"
        );
        Ok(())
    }
}
