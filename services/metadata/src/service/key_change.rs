//! Changing a tenant's master key: rotating its managed key, or switching to
//! a key the tenant brings. The change, its audit entry and the
//! `tenant.key_changed` event commit together, with the tenant's catalogue
//! key (phone numbers) re-wrapped under the new key; the storage service
//! re-wraps the tenant's recordings' data keys when the event reaches it.

use callvault_bus::Message;
use callvault_bus::Router;
use callvault_contracts::events::TenantKeyChangedV1;
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::{ApiError, ApiResult, ErrorCode, KeyMode, Tenant};
use callvault_contracts::{Actor, TenantId};
use sea_orm::TransactionTrait;
use serde_json::json;
use std::sync::Arc;

use super::MetadataService;
use super::holds::free_text;
use super::tenancy::validate_key_arn;
use crate::audit::{self, AuditRecord};
use crate::db::{db_time, internal};
use crate::store;
use callvault_contracts::permissions::Permission;

/// A key change is explained in a sentence or two.
const MAX_KEY_CHANGE_REASON_CHARS: usize = 500;

impl MetadataService {
    /// The key provider acts first (a rotation, or the check that the
    /// tenant's own key is usable): a key it refuses leaves nothing written.
    /// A rotation whose transaction then fails is harmless: data keys under
    /// earlier versions stay readable, and a retry rotates again.
    pub async fn change_tenant_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        mode: KeyMode,
        reason: String,
    ) -> ApiResult<Tenant> {
        self.authorize_tenant(actor, Permission::ManageKeys, tenant)
            .await?;
        let reason = free_text(&reason, "reason", MAX_KEY_CHANGE_REASON_CHARS)?;
        if let KeyMode::External { key_arn } = &mode {
            validate_key_arn(key_arn)?;
        }
        let from = store::tenancy::get_tenant(&self.db, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("tenant"))?
            .key_ref;

        let (mode_name, to) = match &mode {
            KeyMode::Managed => {
                // The tenant's managed key, found again (or, for a tenant
                // on its own key until now, created): rotating "the
                // tenant's key" must never rotate a key the tenant owns.
                let managed = self.keys.create_tenant_key(tenant).await;
                let managed = managed.inspect_err(|err| key_refused(tenant, "managed", err))?;
                self.keys
                    .rotate_tenant_key(&managed)
                    .await
                    .inspect_err(|err| key_refused(tenant, "managed", err))?;
                ("managed", managed)
            }
            KeyMode::External { key_arn } => {
                self.refuse_key_of_another(tenant, key_arn.trim()).await?;
                let checked = self.keys.check_external_key(key_arn.trim()).await;
                let checked = checked.inspect_err(|err| key_refused(tenant, "external", err))?;
                if checked == from {
                    return Err(ApiError::invalid("the tenant already uses this key"));
                }
                ("external", checked)
            }
        };

        let changed_at = db_time(self.now());
        let event = TenantKeyChangedV1 {
            tenant_id: tenant,
            from_key_ref: from.clone(),
            to_key_ref: to.clone(),
            changed_at,
        };
        let message = Message::new(&event).map_err(|err| {
            tracing::error!(error = %err, "encoding tenant.key_changed failed");
            ApiError::new(ErrorCode::Internal, "internal error")
        })?;

        let txn = self.db.begin().await.map_err(internal)?;
        let locked = store::tenancy::lock_tenant(&txn, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        // Another change committed since `from` was read: this event would
        // tell storage to move keys from a key they are no longer under.
        if locked.key_ref != from {
            txn.rollback().await.map_err(internal)?;
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "the tenant's key changed meanwhile; try again",
            ));
        }
        // Under the new key (a rotation: its new version) before the change
        // commits: a catalogue key the old key can't unwrap, or the new one
        // can't wrap, refuses the change rather than lose the catalogue.
        if let Err(err) = self.pii.rewrap(&txn, tenant, &to).await {
            txn.rollback().await.map_err(internal)?;
            key_refused(tenant, mode_name, &err);
            return Err(err);
        }
        if to != from {
            store::tenancy::set_key_ref(&txn, tenant, &to)
                .await
                .map_err(internal)?;
        }
        callvault_bus::outbox::enqueue(&txn, &message)
            .await
            .map_err(internal)?;
        // Key references name keys; they are not key material, so the
        // trail can say which key the tenant's recordings moved between.
        audit::append(
            &txn,
            tenant,
            actor,
            changed_at,
            AuditRecord {
                action: AuditAction::KeyChange,
                target: Some(tenant.to_string()),
                reason: Some(reason),
                details: json!({
                    "mode": mode_name,
                    "from_key_ref": from,
                    "to_key_ref": to,
                }),
            },
        )
        .await
        .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        self.pii.forget(tenant);
        tracing::info!(tenant_id = %tenant, mode = mode_name, "tenant key changed");
        self.get_tenant(actor, tenant).await
    }
}

impl MetadataService {
    /// A key a tenant brings must be its own: not one of the platform's
    /// managed keys (another tenant's, by alias or name) and not a key
    /// another tenant already uses. Otherwise one tenant's recordings would
    /// depend on another's key, and the answer would tell which tenants
    /// exist. Every refusal reads the same as an unusable key.
    pub(super) async fn refuse_key_of_another(
        &self,
        tenant: TenantId,
        key_arn: &str,
    ) -> ApiResult<()> {
        let refused = || ApiError::invalid("the key does not exist or is not usable");
        if key_arn.contains(MANAGED_KMS_ALIASES) || key_arn.starts_with(MANAGED_LOCAL_KEYS) {
            return Err(refused());
        }
        let others = store::tenancy::others_using_key(&self.db, tenant, key_arn)
            .await
            .map_err(internal)?;
        if others > 0 {
            return Err(refused());
        }
        Ok(())
    }
}

/// How the platform names the keys it manages (libs/keys: KMS aliases and
/// the local keyring's names).
const MANAGED_KMS_ALIASES: &str = "alias/callvault/";
const MANAGED_LOCAL_KEYS: &str = "tenant/";

fn key_refused(tenant: TenantId, mode: &str, err: &ApiError) {
    tracing::warn!(
        tenant_id = %tenant,
        mode,
        code = err.code.as_str(),
        "tenant key refused, key not changed"
    );
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::lifecycle::ChangeTenantKey;
    router.route(service, |s, r: ChangeTenantKey| async move {
        s.change_tenant_key(&r.actor, r.tenant, r.mode, r.reason)
            .await
    });
}
