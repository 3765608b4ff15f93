//! The tenant export that must precede an offboarding: JSON lines, one
//! object per line, each with a `type`, in this order (docs/offboarding.md):
//!
//! 1. `tenant`: the tenant's settings and the format's name;
//! 2. `recording`: every catalogued recording with every field, the phone
//!    numbers decrypted, in id order;
//! 3. `deletion_certificate` and `tombstone`: every deletion certificate
//!    and every tombstone (what was deleted, when, why, by whom);
//! 4. `daily_manifest`: every signed daily manifest stored, with its
//!    signature, by date;
//! 5. `audit_entry`: the audit trail, 1 to `audit_seq`.
//!
//! Built from the database alone and with no timestamp of its own, so the
//! same state always gives the same bytes: offboarding rebuilds it and
//! compares digests to know the latest export is still current.

use callvault_contracts::TenantId;
use callvault_contracts::lifecycle_api::AuditEntry;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::catalogue::recording_from_row;
use super::tenancy::tenant_from_row;
use super::{MetadataService, corrupt};
use crate::audit;
use crate::db::entity::{daily_manifest, deletion_certificate, recording_tombstone, tenant};
use crate::db::internal;
use crate::store;
use callvault_contracts::metadata_api::ApiResult;

/// The `format` of the `tenant` line.
pub(super) const FORMAT: &str = "callvault-tenant-export/1";
/// Catalogue rows and audit entries read per query.
const PAGE: u64 = 500;

/// A built export.
pub(super) struct ExportContent {
    pub content: String,
    pub recordings: u64,
    /// Entries in the trail section; the last one's seq.
    pub audit_seq: u64,
}

impl MetadataService {
    /// Builds the export of `row`'s tenant over `conn`, its audit section
    /// up to `audit_until` (the whole trail when `None`).
    pub(super) async fn build_export<C: ConnectionTrait>(
        &self,
        conn: &C,
        row: tenant::Model,
        audit_until: Option<u64>,
    ) -> ApiResult<ExportContent> {
        let tenant = TenantId(row.id);
        let mut out = String::new();
        let mut line = |value: Value| {
            out.push_str(&value.to_string());
            out.push('\n');
        };
        line(json!({"type": "tenant", "format": FORMAT, "tenant": tenant_from_row(row)?}));

        // Over `conn`: offboarding builds it inside its transaction, and
        // SQLite has one writer (a first use creates the tenant's key).
        let pii = self.pii.for_tenant(conn, tenant).await?;
        let mut recordings = 0u64;
        let mut after = None;
        loop {
            let rows = store::offboarding::recordings(conn, tenant, after, PAGE)
                .await
                .map_err(internal)?;
            let Some(last) = rows.last() else { break };
            after = Some(last.id);
            let ids: Vec<_> = rows.iter().map(|row| row.id).collect();
            let mut tags = store::recordings::tags(conn, tenant, &ids)
                .await
                .map_err(internal)?;
            let restricted = store::subject::restricted_among(conn, tenant, &ids)
                .await
                .map_err(internal)?;
            for row in rows {
                let row_tags = tags.remove(&row.id).unwrap_or_default();
                let mut recording = recording_from_row(&pii, row, row_tags)?;
                recording.restricted = restricted.contains(&recording.id.0);
                line(json!({"type": "recording", "recording": recording}));
                recordings += 1;
            }
        }

        for certificate in deletion_certificate::Entity::find()
            .filter(deletion_certificate::Column::TenantId.eq(tenant.0))
            .order_by_asc(deletion_certificate::Column::StartedAt)
            .order_by_asc(deletion_certificate::Column::Id)
            .all(conn)
            .await
            .map_err(internal)?
        {
            let ids =
                |raw: &str, field| serde_json::from_str::<Value>(raw).map_err(|_| corrupt(field));
            line(json!({
                "type": "deletion_certificate",
                "id": certificate.id,
                "started_at": certificate.started_at,
                "finished_at": certificate.finished_at,
                "held_back": ids(&certificate.held_back, "held_back")?,
                "failed": ids(&certificate.failed, "failed")?,
                "held_by_request": ids(&certificate.held_by_request, "held_by_request")?,
                "request_id": certificate.request_id,
            }));
        }
        for tombstone in recording_tombstone::Entity::find()
            .filter(recording_tombstone::Column::TenantId.eq(tenant.0))
            .order_by_asc(recording_tombstone::Column::DeletedAt)
            .order_by_asc(recording_tombstone::Column::RecordingId)
            .all(conn)
            .await
            .map_err(internal)?
        {
            line(json!({
                "type": "tombstone",
                "recording_id": tombstone.recording_id,
                "ingested_at": tombstone.ingested_at,
                "sha256": tombstone.sha256,
                "deleted_at": tombstone.deleted_at,
                "reason": tombstone.reason,
                "policy": tombstone.policy,
                "deleted_by": tombstone.deleted_by,
                "certificate_id": tombstone.certificate_id,
            }));
        }
        self.export_recording_policy(conn, tenant, &pii, &mut line)
            .await?;
        for manifest in daily_manifest::Entity::find()
            .filter(daily_manifest::Column::TenantId.eq(tenant.0))
            .order_by_asc(daily_manifest::Column::Date)
            .all(conn)
            .await
            .map_err(internal)?
        {
            line(json!({
                "type": "daily_manifest",
                "date": manifest.date,
                "body": manifest.body,
                "signature": manifest.signature,
                "algorithm": "Ed25519",
                "signed_at": manifest.signed_at,
            }));
        }

        let mut audit_seq = 0u64;
        'trail: loop {
            let page = audit::page(conn, tenant, Some(audit_seq), PAGE as u32)
                .await
                .map_err(internal)?;
            for entry in page.items {
                if audit_until.is_some_and(|until| entry.seq > until) {
                    break 'trail;
                }
                audit_seq = entry.seq;
                line(json!({"type": "audit_entry", "entry": entry}));
            }
            if !page.has_next_page {
                break;
            }
        }
        Ok(ExportContent {
            content: out,
            recordings,
            audit_seq,
        })
    }
}

impl MetadataService {
    /// The recording policy, the do-not-record list (numbers in clear, as
    /// the recordings' are) and the calls kept as metadata only.
    async fn export_recording_policy<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: TenantId,
        pii: &crate::pii::TenantPii,
        line: &mut impl FnMut(Value),
    ) -> ApiResult<()> {
        if let Some(policy) = store::recording_policy::policy(conn, tenant.0)
            .await
            .map_err(internal)?
        {
            let body: Value =
                serde_json::from_str(&policy.policy).map_err(|_| corrupt("recording policy"))?;
            line(json!({
                "type": "recording_policy",
                "policy": body,
                "version": policy.version,
                "updated_at": policy.updated_at,
            }));
        }
        let mut after = None;
        loop {
            let rows = store::recording_policy::numbers_page(conn, tenant.0, after, PAGE)
                .await
                .map_err(internal)?;
            let Some(last) = rows.last() else { break };
            after = Some(last.number_index.clone());
            for row in rows {
                let number = super::recording_policy::open_listed(pii, &row.number_ciphertext)?;
                line(json!({"type": "do_not_record", "number": number, "added_at": row.added_at}));
            }
        }
        let mut after = None;
        loop {
            let rows = store::recording_policy::not_recorded_page(conn, tenant.0, after, PAGE)
                .await
                .map_err(internal)?;
            let Some(last) = rows.last() else { break };
            after = Some((last.external_call_id.clone(), last.segment));
            for row in rows {
                let call = super::recording_policy::not_recorded_from_row(row)?;
                line(json!({"type": "not_recorded_call", "call": call}));
            }
        }
        Ok(())
    }
}

/// Whether an audit entry is an export's own record (`export` with
/// `details.kind` `tenant_export`): the only entries allowed after an
/// export's cut-off for it to still be current.
pub(super) fn is_tenant_export(entry: &AuditEntry) -> bool {
    entry.action == callvault_contracts::lifecycle_api::AuditAction::Export
        && entry.details.get("kind").and_then(Value::as_str) == Some(EXPORT_KIND)
}

/// `details.kind` of a tenant export's audit entry.
pub(super) const EXPORT_KIND: &str = "tenant_export";
