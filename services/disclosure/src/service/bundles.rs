//! The export bundle's rows: started on approval, built in the background
//! ([`crate::bundle_job`]), handed out by signed link (each link an
//! `EXPORT` entry in the audit chain), kept for the tenant's bundle
//! retention after delivery, then shredded.

use std::sync::Arc;

use callvault_blob::ByteStream;
use callvault_bus::Router;
use callvault_contracts::disclosure_api::{BundleDownload, BundleInfo, BundleState};
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, Tenant};
use callvault_contracts::ops::disclosure::AuthorizeBundleDownload;
use callvault_contracts::ops::subject::{DisclosureAuditAction, RecordDisclosureAudit};
use callvault_contracts::permissions::Permission;
use callvault_contracts::{Actor, TenantId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::{DisclosureService, store};
use crate::db::entity::bundle;
use crate::db::{db_time, internal};
use crate::vault::StoredBundle;

const BUILDING: &str = "BUILDING";
const READY: &str = "READY";
const FAILED: &str = "FAILED";
const SHREDDED: &str = "SHREDDED";

/// How long a build may run before another replica takes it over (its
/// process is taken to have died).
const BUILD_LEASE_MINUTES: i64 = 30;

pub(super) fn routes(router: &mut Router, service: &Arc<DisclosureService>) {
    router.route(service, |s, r: AuthorizeBundleDownload| async move {
        s.authorize_download(&r.actor, r.tenant, r.id).await
    });
}

/// A bundle opened for download.
pub struct OpenedBundle {
    pub size: u64,
    pub file_name: String,
    pub body: ByteStream,
}

fn state_of(row: &bundle::Model) -> ApiResult<BundleState> {
    match row.state.as_str() {
        BUILDING => Ok(BundleState::Building),
        READY => Ok(BundleState::Ready),
        FAILED => Ok(BundleState::Failed),
        SHREDDED => Ok(BundleState::Shredded),
        _ => Err(store::corrupt("bundle state")),
    }
}

fn stored(row: &bundle::Model) -> Option<StoredBundle> {
    Some(StoredBundle {
        object_key: row.object_key.clone()?,
        key_ref: row.key_ref.clone()?,
        wrapped_key: row.wrapped_key.clone()?,
        size: u64::try_from(row.size?).ok()?,
        sha256: row.sha256.clone()?,
    })
}

fn file_name(row: &bundle::Model) -> String {
    format!("disclosure-{}.zip", row.request_id)
}

impl DisclosureService {
    pub(super) async fn bundle_info(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> ApiResult<Option<BundleInfo>> {
        let Some(row) = self.bundle_row(tenant, id).await? else {
            return Ok(None);
        };
        Ok(Some(BundleInfo {
            id: row.id,
            state: state_of(&row)?,
            size: row.size.and_then(|size| u64::try_from(size).ok()),
            sha256: row.sha256.clone(),
            created_at: row.created_at,
            expires_at: row.expires_at,
            downloads: u32::try_from(row.downloads).unwrap_or(0),
        }))
    }

    async fn bundle_row(&self, tenant: TenantId, id: Uuid) -> ApiResult<Option<bundle::Model>> {
        bundle::Entity::find_by_id(id)
            .filter(bundle::Column::TenantId.eq(tenant.0))
            .one(&self.db)
            .await
            .map_err(internal)
    }

    /// Records the bundle as building and starts its build.
    pub(super) async fn start_bundle(
        &self,
        tenant: &Tenant,
        request: Uuid,
        id: Uuid,
    ) -> ApiResult<()> {
        let row = bundle::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant.id.0),
            request_id: Set(request),
            state: Set(BUILDING.to_owned()),
            object_key: Set(None),
            key_ref: Set(None),
            wrapped_key: Set(None),
            size: Set(None),
            sha256: Set(None),
            created_at: Set(db_time(self.now())),
            ready_at: Set(None),
            delivered_at: Set(None),
            expires_at: Set(None),
            shredded_at: Set(None),
            downloads: Set(0),
            building_until: Set(Some(self.lease_end())),
        };
        bundle::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(internal)?;
        self.spawn_build(tenant.id, request, id);
        Ok(())
    }

    fn lease_end(&self) -> chrono::DateTime<chrono::Utc> {
        db_time(self.now() + chrono::Duration::minutes(BUILD_LEASE_MINUTES))
    }

    /// Takes over a build whose lease lapsed, or retries a failed one once
    /// its lease lapsed (compare-and-set: of several replicas, one wins).
    async fn take_over(&self, row: &bundle::Model) -> ApiResult<bool> {
        let now = db_time(self.now());
        let result = bundle::Entity::update_many()
            .col_expr(bundle::Column::State, Expr::value(BUILDING))
            .col_expr(bundle::Column::BuildingUntil, Expr::value(self.lease_end()))
            .filter(bundle::Column::Id.eq(row.id))
            .filter(bundle::Column::State.is_in([BUILDING, FAILED]))
            .filter(bundle::Column::ExpiresAt.is_null())
            .filter(
                sea_orm::Condition::any()
                    .add(bundle::Column::BuildingUntil.is_null())
                    .add(bundle::Column::BuildingUntil.lt(now)),
            )
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(result.rows_affected == 1)
    }

    /// Builds in the background under the caller's lease; the timer of any
    /// replica takes over a build whose lease lapsed.
    fn spawn_build(&self, tenant: TenantId, request: Uuid, id: Uuid) {
        let Some(builder) = self.bundles.clone() else {
            return;
        };
        if !builder.claim(id) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = this.build_bundle(&builder, tenant, request, id).await;
            builder.release(id);
            if let Err(err) = outcome {
                tracing::warn!(tenant_id = %tenant, bundle_id = %id, code = err.code.as_str(), "bundle build failed");
                let marked = bundle::Entity::update_many()
                    .col_expr(bundle::Column::State, Expr::value(FAILED))
                    .filter(bundle::Column::Id.eq(id))
                    .filter(bundle::Column::State.eq(BUILDING))
                    .exec(&this.db)
                    .await;
                // Left building, it is taken over when its lease lapses.
                if let Err(err) = marked {
                    tracing::warn!(bundle_id = %id, error = %err, "a failed bundle build could not be marked failed");
                }
            }
        });
    }

    async fn build_bundle(
        &self,
        builder: &crate::bundle_job::BundleBuilder,
        tenant_id: TenantId,
        request: Uuid,
        id: Uuid,
    ) -> ApiResult<()> {
        let tenant = self
            .metadata
            .call(callvault_contracts::ops::subject::GetSubjectTenant { tenant: tenant_id })
            .await?;
        let (row, doc) = store::load(&self.db, tenant_id, request).await?;
        let personal = self
            .sealing
            .open(
                tenant_id,
                row.id,
                &row.key_ref,
                &row.wrapped_key,
                &row.sealed,
            )
            .await?;
        let settings = self.settings_of(tenant_id).await?;
        let job = crate::bundle_job::BundleJob {
            tenant,
            request_id: request,
            bundle_id: id,
            doc,
            numbers: personal.numbers,
            settings,
            generated_at: db_time(self.now()),
        };
        let stored = builder.build(&self.metadata, job).await?;
        let result = bundle::Entity::update_many()
            .col_expr(bundle::Column::State, Expr::value(READY))
            .col_expr(
                bundle::Column::ObjectKey,
                Expr::value(stored.object_key.clone()),
            )
            .col_expr(bundle::Column::KeyRef, Expr::value(stored.key_ref.clone()))
            .col_expr(
                bundle::Column::WrappedKey,
                Expr::value(stored.wrapped_key.clone()),
            )
            .col_expr(bundle::Column::Size, Expr::value(stored.size as i64))
            .col_expr(bundle::Column::Sha256, Expr::value(stored.sha256.clone()))
            .col_expr(bundle::Column::ReadyAt, Expr::value(db_time(self.now())))
            .filter(bundle::Column::Id.eq(id))
            .filter(bundle::Column::State.eq(BUILDING))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        if result.rows_affected != 1 {
            // Another replica finished first: this object is garbage.
            builder.vault().shred(&stored.object_key).await?;
        }
        tracing::info!(tenant_id = %tenant_id, bundle_id = %id, size = stored.size, "bundle ready");
        Ok(())
    }

    /// Starts the retention clock of a delivered bundle.
    pub(super) async fn bundle_delivered(&self, tenant: TenantId, id: Uuid) -> ApiResult<()> {
        let settings = self.settings_of(tenant).await?;
        let now = db_time(self.now());
        let expires = now + chrono::Duration::days(i64::from(settings.bundle_retention_days));
        bundle::Entity::update_many()
            .col_expr(bundle::Column::DeliveredAt, Expr::value(now))
            .col_expr(bundle::Column::ExpiresAt, Expr::value(expires))
            .filter(bundle::Column::Id.eq(id))
            .filter(bundle::Column::TenantId.eq(tenant.0))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    /// Shreds the bundle at the next timer pass.
    pub(super) async fn expire_bundle(&self, tenant: TenantId, id: Uuid) -> ApiResult<()> {
        bundle::Entity::update_many()
            .col_expr(bundle::Column::ExpiresAt, Expr::value(db_time(self.now())))
            .filter(bundle::Column::Id.eq(id))
            .filter(bundle::Column::TenantId.eq(tenant.0))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn authorize_download(
        &self,
        actor: &Actor,
        tenant_id: TenantId,
        request: Uuid,
    ) -> ApiResult<BundleDownload> {
        self.authorize(actor, Permission::HandleDisclosure, tenant_id)
            .await?;
        let (_, doc) = store::load(&self.db, tenant_id, request).await?;
        let row = match doc.bundle_id {
            Some(id) => self.bundle_row(tenant_id, id).await?,
            None => None,
        };
        let Some(row) = row else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "the request has no bundle",
            ));
        };
        let Some(stored) = stored(&row).filter(|_| row.state == READY) else {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "the bundle is not ready (building, failed or shredded)",
            ));
        };
        let now = self.now();
        let audit = RecordDisclosureAudit {
            actor: actor.clone(),
            tenant: tenant_id,
            action: DisclosureAuditAction::Export,
            target: request.to_string(),
            reason: None,
            details: serde_json::json!({
                "bundle_id": row.id.to_string(),
                "sha256": stored.sha256,
                "size": stored.size,
            }),
        };
        let txn = self.db.begin().await.map_err(internal)?;
        store::queue_audit(&txn, tenant_id, &audit, now).await?;
        bundle::Entity::update_many()
            .col_expr(
                bundle::Column::Downloads,
                Expr::col(bundle::Column::Downloads).add(1),
            )
            .filter(bundle::Column::Id.eq(row.id))
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        // The link is handed out only once its export is in the chain.
        self.flush_audit(Some(tenant_id)).await?;
        Ok(BundleDownload {
            bundle_id: row.id,
            request_id: request,
            file_name: file_name(&row),
            size: stored.size,
            sha256: stored.sha256,
        })
    }

    /// The bundle's plaintext, for the signed download route.
    pub async fn open_bundle(&self, tenant: TenantId, id: Uuid) -> ApiResult<OpenedBundle> {
        let Some(builder) = self.bundles.clone() else {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "no bundle store here",
            ));
        };
        let row = self
            .bundle_row(tenant, id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such bundle"))?;
        let Some(stored) = stored(&row).filter(|_| row.state == READY) else {
            return Err(ApiError::new(ErrorCode::Conflict, "the bundle is gone"));
        };
        let body = builder.vault().open(tenant, id, &stored).await?;
        Ok(OpenedBundle {
            size: stored.size,
            file_name: file_name(&row),
            body,
        })
    }

    /// Shreds delivered bundles past their retention.
    pub(super) async fn shred_expired_bundles(&self) -> ApiResult<u64> {
        let Some(builder) = self.bundles.clone() else {
            return Ok(0);
        };
        let now = db_time(self.now());
        let rows = bundle::Entity::find()
            .filter(bundle::Column::State.is_in([READY, FAILED]))
            .filter(bundle::Column::ExpiresAt.lte(now))
            .all(&self.db)
            .await
            .map_err(internal)?;
        let mut shredded = 0;
        for row in rows {
            if let Some(object_key) = &row.object_key {
                // One that won't delete (a locked object, an outage) waits
                // for the next pass; the others go now.
                if let Err(err) = builder.vault().shred(object_key).await {
                    tracing::warn!(bundle_id = %row.id, code = err.code.as_str(), "bundle not shredded yet");
                    continue;
                }
            }
            bundle::Entity::update_many()
                .col_expr(bundle::Column::State, Expr::value(SHREDDED))
                .col_expr(
                    bundle::Column::WrappedKey,
                    Expr::value(Option::<Vec<u8>>::None),
                )
                .col_expr(bundle::Column::ShreddedAt, Expr::value(now))
                .filter(bundle::Column::Id.eq(row.id))
                .exec(&self.db)
                .await
                .map_err(internal)?;
            tracing::info!(tenant_id = %row.tenant_id, bundle_id = %row.id, "bundle shredded after its retention");
            shredded += 1;
        }
        Ok(shredded)
    }

    /// Builds still marked building whose lease lapsed (the process that
    /// held it died), and failed ones, start again, in one replica.
    pub(super) async fn restart_interrupted_bundles(&self) -> ApiResult<u64> {
        let Some(builder) = self.bundles.clone() else {
            return Ok(0);
        };
        // A failed build (a recording storage couldn't read, an outage) is
        // retried once its lease lapsed; one whose request was refused or
        // withdrawn has an expiry, and is shredded instead.
        let rows = bundle::Entity::find()
            .filter(bundle::Column::State.is_in([BUILDING, FAILED]))
            .filter(bundle::Column::ExpiresAt.is_null())
            .all(&self.db)
            .await
            .map_err(internal)?;
        let mut restarted = 0;
        for row in rows {
            if builder.is_running(row.id) || !self.take_over(&row).await? {
                continue;
            }
            self.spawn_build(TenantId(row.tenant_id), row.request_id, row.id);
            restarted += 1;
        }
        Ok(restarted)
    }
}
