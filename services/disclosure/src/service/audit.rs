//! What follows every change: the queued audit entries appended to the
//! tenant's chain, and metadata told which recordings the request preserves.
//! Both are retried by the timer when metadata can't be reached now; an
//! audit entry may then be appended twice (its `queue_id` tells them apart),
//! never lost.

use callvault_contracts::TenantId;
use callvault_contracts::disclosure_api::RequestState;
use callvault_contracts::metadata_api::ApiResult;
use callvault_contracts::ops::subject::{PreserveForRequest, RecordDisclosureAudit};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{DisclosureService, store};
use crate::db::entity::{audit_queue, request};
use crate::db::internal;

impl DisclosureService {
    /// Best effort right after a change; the timer finishes what fails.
    pub(super) async fn after_change(&self, tenant: TenantId, request: Uuid) {
        if let Err(err) = self.flush_audit(Some(tenant)).await {
            tracing::warn!(tenant_id = %tenant, code = err.code.as_str(), "disclosure audit entries wait for the next pass");
        }
        if let Err(err) = self.sync_preservation(tenant, request).await {
            tracing::warn!(tenant_id = %tenant, request_id = %request, code = err.code.as_str(), "preservation waits for the next pass");
        }
    }

    /// Appends the queued entries (of one tenant, or all) in order.
    pub(super) async fn flush_audit(&self, tenant: Option<TenantId>) -> ApiResult<u64> {
        let mut query = audit_queue::Entity::find();
        if let Some(tenant) = tenant {
            query = query.filter(audit_queue::Column::TenantId.eq(tenant.0));
        }
        let rows = query
            .order_by_asc(audit_queue::Column::CreatedAt)
            .order_by_asc(audit_queue::Column::Id)
            .all(&self.db)
            .await
            .map_err(internal)?;
        let mut sent = 0;
        for row in rows {
            let mut entry: RecordDisclosureAudit =
                serde_json::from_str(&row.entry).map_err(|_| store::corrupt("audit entry"))?;
            if let Some(details) = entry.details.as_object_mut() {
                details.insert("queue_id".into(), row.id.to_string().into());
            }
            self.metadata.call(entry).await?;
            audit_queue::Entity::delete_by_id(row.id)
                .exec(&self.db)
                .await
                .map_err(internal)?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Tells metadata exactly which recordings the request preserves: its
    /// included ones until it is closed, refused or withdrawn, none after.
    pub(super) async fn sync_preservation(&self, tenant: TenantId, id: Uuid) -> ApiResult<()> {
        let (row, doc) = store::load(&self.db, tenant, id).await?;
        if row.preservation_synced {
            return Ok(());
        }
        // Until the request is closed, refused or withdrawn: an answered one
        // may still be questioned before it is closed.
        let state = store::state_of(&row)?;
        let preserving = state.is_open() || state == RequestState::Delivered;
        let ids = if preserving {
            doc.included().map(|r| r.recording_id).collect()
        } else {
            Vec::new()
        };
        self.metadata
            .call(PreserveForRequest {
                tenant,
                request: id,
                ids,
            })
            .await?;
        // Only if nothing changed meanwhile: a newer change leaves the
        // flag false for the next pass.
        request::Entity::update_many()
            .col_expr(
                request::Column::PreservationSynced,
                sea_orm::sea_query::Expr::value(true),
            )
            .filter(request::Column::Id.eq(id))
            .filter(request::Column::Version.eq(row.version))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    /// Requests whose preservation metadata doesn't know yet.
    pub(super) async fn unsynced_requests(&self) -> ApiResult<Vec<(TenantId, Uuid)>> {
        let rows = request::Entity::find()
            .filter(request::Column::PreservationSynced.eq(false))
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|row| (TenantId(row.tenant_id), row.id))
            .collect())
    }
}
