//! Signing deletion certificates: once a run (or a user deletion) has
//! finished, its certificate is written as canonical JSON and signed with
//! the tenant's manifest key ([`crate::evidence::sign`]), once: the body
//! and signature are stored and never change. AUDIT.md documents the body.
//!
//! Version 2 added `held_by_request` (always) and `request_id` (when the
//! certificate is an erasure request's); version 1 bodies signed before
//! stay stored, served and verifying as they are.

use callvault_contracts::TenantId;
use callvault_contracts::lifecycle_api::HeldByRequest;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::audit::timestamp;
use crate::db::entity::{deletion_certificate, recording_tombstone};
use crate::evidence::{self, SignedBody};
use crate::manifest::ManifestKeys;
use crate::store;

/// `version` of the certificate bodies this code signs.
const BODY_VERSION: u32 = 2;

/// Signs the certificate `id` if it is finished and not signed yet, and
/// returns its row as it now is (`None`: no such certificate). Safe to race:
/// the first signature stored wins, and every caller returns that one.
pub(crate) async fn seal<C: ConnectionTrait>(
    conn: &C,
    keys: &ManifestKeys,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<deletion_certificate::Model>, DbErr> {
    use deletion_certificate::Column;
    let Some(row) = find(conn, tenant, id).await? else {
        return Ok(None);
    };
    if !row.finished || row.body.is_some() {
        return Ok(Some(row));
    }
    let tombstones = store::deletion::tombstones_of(conn, tenant, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let SignedBody { body, signature } = evidence::sign(
        keys,
        tenant,
        evidence::DELETION_CERTIFICATE,
        BODY_VERSION,
        body_fields(&row, &tombstones)?,
    );
    deletion_certificate::Entity::update_many()
        .col_expr(Column::Body, Expr::value(body))
        .col_expr(Column::Signature, Expr::value(signature))
        .filter(Column::TenantId.eq(tenant.0))
        .filter(Column::Id.eq(id))
        .filter(Column::Finished.eq(true))
        .filter(Column::Body.is_null())
        .exec(conn)
        .await?;
    find(conn, tenant, id).await
}

async fn find<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<deletion_certificate::Model>, DbErr> {
    deletion_certificate::Entity::find_by_id((tenant.0, id))
        .one(conn)
        .await
}

/// The body's fields but `kind`, `version` and `tenant_id` (added by
/// signing). `deleted` in (deleted_at, recording id) order, as the API
/// lists them; `held_back`, `held_by_request` and `failed` in the run's
/// order; `request_id` only on an erasure request's certificate.
fn body_fields(
    row: &deletion_certificate::Model,
    tombstones: &[recording_tombstone::Model],
) -> Result<Map<String, Value>, DbErr> {
    let deleted: Vec<Value> = tombstones
        .iter()
        .map(|tombstone| {
            json!({
                "recording_id": tombstone.recording_id.hyphenated().to_string(),
                "sha256": tombstone.sha256,
                "ingested_at": timestamp(tombstone.ingested_at),
                "deleted_at": timestamp(tombstone.deleted_at),
                "reason": tombstone.reason,
                "policy": tombstone.policy,
                "deleted_by": tombstone.deleted_by,
            })
        })
        .collect();
    let held: Vec<HeldByRequest> = serde_json::from_str(&row.held_by_request).map_err(|_| {
        DbErr::Custom("a deletion certificate's held_by_request is unreadable".to_owned())
    })?;
    let held_by_request: Vec<Value> = held
        .iter()
        .map(|held| {
            json!({
                "recording_id": held.recording_id.0.hyphenated().to_string(),
                "request_id": held.request_id.hyphenated().to_string(),
            })
        })
        .collect();
    let Value::Object(mut fields) = json!({
        "certificate_id": row.id.hyphenated().to_string(),
        "started_at": timestamp(row.started_at),
        "finished_at": timestamp(row.finished_at),
        "deleted": deleted,
        "held_back": ids(&row.held_back, "held_back")?,
        "held_by_request": held_by_request,
        "failed": ids(&row.failed, "failed")?,
    }) else {
        unreachable!("a JSON object literal")
    };
    if let Some(request) = row.request_id {
        fields.insert(
            "request_id".to_owned(),
            Value::from(request.hyphenated().to_string()),
        );
    }
    Ok(fields)
}

/// A stored JSON array of ids, as lowercase hyphenated UUIDs.
fn ids(raw: &str, field: &str) -> Result<Vec<String>, DbErr> {
    let ids: Vec<Uuid> = serde_json::from_str(raw).map_err(|_| {
        DbErr::Custom(format!(
            "a deletion certificate's {field} is not a list of ids"
        ))
    })?;
    Ok(ids.iter().map(|id| id.hyphenated().to_string()).collect())
}
