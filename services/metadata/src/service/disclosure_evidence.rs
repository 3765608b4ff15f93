//! The disclosure service's steps in the tenant's audit chain, and its
//! evidence signed with the tenant's manifest key (machine calls, see
//! `subject`).

use callvault_contracts::lifecycle_api::{AuditAction, AuditEntry};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode};
use callvault_contracts::ops::subject::{DisclosureAuditAction, SignedEvidence};
use callvault_contracts::{Actor, TenantId};
use sea_orm::TransactionTrait;
use serde_json::{Map, Value};

use super::MetadataService;
use super::holds::{MAX_REASON_CHARS, free_text};
use crate::audit::{self, AuditRecord, canonical_json};
use crate::db::internal;
use crate::evidence::{self, SignedBody};
use crate::input;

/// Every kind signed here starts with it: a deletion certificate, a daily
/// manifest or an offboarding certificate can't be signed through this
/// call.
const DISCLOSURE_KIND_PREFIX: &str = "disclosure_";
const MAX_KIND_CHARS: usize = 64;
/// An audit entry's details, as canonical JSON: ids and states, not
/// documents.
const MAX_DETAILS_BYTES: usize = 16 * 1024;
/// `details.kind` values the metadata service writes itself, which the
/// offboarding reads (`tenant_export`): not for another service to write.
const RESERVED_DETAIL_KINDS: [&str; 2] = ["tenant_export", "tenant_offboarding"];

impl MetadataService {
    pub async fn record_disclosure_audit(
        &self,
        actor: &Actor,
        tenant: TenantId,
        action: DisclosureAuditAction,
        target: String,
        reason: Option<String>,
        details: Value,
    ) -> ApiResult<AuditEntry> {
        self.machine_tenant(tenant).await?;
        let target = input::name(&target, "target")?;
        let reason = reason
            .map(|reason| free_text(&reason, "reason", MAX_REASON_CHARS))
            .transpose()?;
        check_details(&details)?;
        let record = AuditRecord {
            action: match action {
                DisclosureAuditAction::Disclosure => AuditAction::Disclosure,
                DisclosureAuditAction::Export => AuditAction::Export,
            },
            target: Some(target),
            reason,
            details,
        };
        // In a transaction of its own: the head moves and the entry lands
        // together, or neither does.
        let txn = self.db.begin().await.map_err(internal)?;
        match audit::append(&txn, tenant, actor, self.now(), record).await {
            Ok(entry) => {
                txn.commit().await.map_err(internal)?;
                Ok(entry)
            }
            Err(err) => {
                let _ = txn.rollback().await;
                Err(internal(err))
            }
        }
    }

    pub async fn sign_disclosure_evidence(
        &self,
        tenant: TenantId,
        kind: &str,
        version: u32,
        fields: Map<String, Value>,
    ) -> ApiResult<SignedEvidence> {
        check_kind(kind)?;
        if let Some(key) = ["kind", "version", "tenant_id"]
            .into_iter()
            .find(|key| fields.contains_key(*key))
        {
            return Err(ApiError::invalid(format!(
                "fields must not carry {key}: signing sets it"
            )));
        }
        if fields.values().any(has_fraction) {
            return Err(ApiError::invalid(
                "fields must not carry fractional numbers (canonical JSON writes integers only)",
            ));
        }
        self.machine_tenant(tenant).await?;
        let keys = self.manifest.as_ref().ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unavailable,
                "signing is unavailable: no manifest signing key configured",
            )
        })?;
        let SignedBody { body, signature } = evidence::sign(keys, tenant, kind, version, fields);
        Ok(SignedEvidence {
            body,
            signature,
            public_key: keys.public_key(tenant),
        })
    }
}

/// `disclosure_` and lowercase letters, digits and `_`.
fn check_kind(kind: &str) -> ApiResult<()> {
    let valid = kind.len() > DISCLOSURE_KIND_PREFIX.len()
        && kind.len() <= MAX_KIND_CHARS
        && kind.starts_with(DISCLOSURE_KIND_PREFIX)
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "kind must start with {DISCLOSURE_KIND_PREFIX} and be at most {MAX_KIND_CHARS} lowercase letters, digits and underscores: only disclosure evidence is signed here"
    )))
}

/// An object (or null), small, with integers only, not posing as an entry
/// the metadata service writes itself.
fn check_details(details: &Value) -> ApiResult<()> {
    let object = match details {
        Value::Null => return Ok(()),
        Value::Object(object) => object,
        _ => return Err(ApiError::invalid("details must be a JSON object")),
    };
    if let Some(kind) = object.get("kind").and_then(Value::as_str)
        && RESERVED_DETAIL_KINDS.contains(&kind)
    {
        return Err(ApiError::invalid(format!(
            "details.kind {kind} is the metadata service's own"
        )));
    }
    if has_fraction(details) {
        return Err(ApiError::invalid(
            "details must not carry fractional numbers",
        ));
    }
    if canonical_json(details).len() > MAX_DETAILS_BYTES {
        return Err(ApiError::invalid(format!(
            "details must be at most {MAX_DETAILS_BYTES} bytes of JSON"
        )));
    }
    Ok(())
}

/// Whether a number that isn't an integer is anywhere in `value`.
fn has_fraction(value: &Value) -> bool {
    match value {
        Value::Number(number) => !(number.is_i64() || number.is_u64()),
        Value::Array(items) => items.iter().any(has_fraction),
        Value::Object(map) => map.values().any(has_fraction),
        _ => false,
    }
}
