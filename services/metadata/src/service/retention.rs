//! Retention: the tenant's policy and rules, each recording's lifecycle,
//! and playback authorization (which the policy can make need a reason, and
//! a data-subject request's restriction can refuse).
//!
//! Every change of the default or of the rules recomputes the retain-until
//! date of every recording of the tenant, in the transaction that makes the
//! change and with its audit entry: a reader never sees rules and dates
//! (or a change and its trail) that disagree.

use callvault_bus::Router;
use callvault_contracts::lifecycle_api::{
    Access, AuditAction, EffectiveRule, NewRetentionRule, RecordingLifecycle, RetentionRule,
    TenantPolicy,
};
use callvault_contracts::metadata_api::{ApiError, ApiResult, Recording};
use callvault_contracts::{Actor, RecordingId, TenantId};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

use super::{MetadataService, corrupt};
use crate::audit::{self, AuditRecord};
use crate::db::entity::tenant;
use crate::db::{db_time, internal};
use crate::{input, store};
use callvault_contracts::permissions::Permission;

/// Rules a tenant may have: each ingest and each recompute evaluates all.
const MAX_RULES_PER_TENANT: u64 = 100;

impl MetadataService {
    pub async fn get_policy(&self, actor: &Actor, tenant: TenantId) -> ApiResult<TenantPolicy> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        let row = store::tenancy::get_tenant(&self.db, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        policy_from_row(&row)
    }

    pub async fn set_policy(
        &self,
        actor: &Actor,
        tenant: TenantId,
        policy: TenantPolicy,
    ) -> ApiResult<TenantPolicy> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        let days = input::retention_days(policy.default_retention_days)?;

        let txn = self.db.begin().await.map_err(internal)?;
        let row = locked_tenant(&txn, tenant).await?;
        let before = policy_from_row(&row)?;
        if before == policy {
            // Explicitly: a dropped transaction would keep the tenant row
            // locked until its pooled connection is next used.
            txn.rollback().await.map_err(internal)?;
            return Ok(before);
        }
        store::tenancy::update_policy(&txn, tenant, days, policy.require_playback_reason)
            .await
            .map_err(internal)?;
        let mut changes = serde_json::Map::new();
        let mut recomputed = 0;
        if before.default_retention_days != policy.default_retention_days {
            changes.insert(
                "default_retention_days".into(),
                json!({"from": before.default_retention_days, "to": policy.default_retention_days}),
            );
            recomputed =
                store::retention::recompute_tenant(&txn, tenant, policy.default_retention_days)
                    .await
                    .map_err(internal)?;
        }
        if before.require_playback_reason != policy.require_playback_reason {
            changes.insert(
                "require_playback_reason".into(),
                json!({"from": before.require_playback_reason, "to": policy.require_playback_reason}),
            );
        }
        let details = json!({
            "change": "policy",
            "policy": changes,
            "recordings_recomputed": recomputed,
        });
        self.audit_change(&txn, actor, tenant, None, details)
            .await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, recomputed, "tenant retention policy changed");
        Ok(policy)
    }

    pub async fn list_retention_rules(
        &self,
        actor: &Actor,
        tenant: TenantId,
    ) -> ApiResult<Vec<RetentionRule>> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        store::retention::list(&self.db, tenant)
            .await
            .map_err(internal)
    }

    pub async fn create_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        rule: NewRetentionRule,
    ) -> ApiResult<RetentionRule> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        let name = input::rule_name(&rule.name)?;
        input::days_in_range(rule.retention_days, "retention_days")?;
        let matches = input::retention_match(&rule.matches)?;
        let legal_basis = input::legal_basis(rule.legal_basis.as_deref())?;
        let rule = RetentionRule {
            id: Uuid::new_v4(),
            tenant_id: tenant,
            name,
            matches,
            retention_days: rule.retention_days,
            overriding: rule.overriding,
            created_by: actor.subject.clone(),
            created_at: db_time(self.now()),
            legal_basis,
        };

        let txn = self.db.begin().await.map_err(internal)?;
        let row = locked_tenant(&txn, tenant).await?;
        let existing = store::retention::count(&txn, tenant)
            .await
            .map_err(internal)?;
        if existing >= MAX_RULES_PER_TENANT {
            txn.rollback().await.map_err(internal)?;
            return Err(ApiError::invalid(format!(
                "a tenant can have at most {MAX_RULES_PER_TENANT} retention rules"
            )));
        }
        store::retention::insert(&txn, &rule)
            .await
            .map_err(internal)?;
        let recomputed = recompute(&txn, &row).await?;
        let details = json!({
            "change": "rule_created",
            "rule": rule_details(&rule),
            "recordings_recomputed": recomputed,
        });
        self.audit_change(&txn, actor, tenant, Some(rule.id), details)
            .await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, rule_id = %rule.id, recomputed, "retention rule created");
        Ok(rule)
    }

    pub async fn delete_retention_rule(
        &self,
        actor: &Actor,
        tenant: TenantId,
        rule: Uuid,
    ) -> ApiResult<RetentionRule> {
        self.authorize_tenant(actor, Permission::ManagePolicy, tenant)
            .await?;
        let txn = self.db.begin().await.map_err(internal)?;
        let row = locked_tenant(&txn, tenant).await?;
        let existing = store::retention::get(&txn, tenant, rule)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("retention rule"))?;
        store::retention::delete(&txn, tenant, rule)
            .await
            .map_err(internal)?;
        let recomputed = recompute(&txn, &row).await?;
        let details = json!({
            "change": "rule_deleted",
            "rule": rule_details(&existing),
            "recordings_recomputed": recomputed,
        });
        self.audit_change(&txn, actor, tenant, Some(rule), details)
            .await?;
        txn.commit().await.map_err(internal)?;
        tracing::info!(tenant_id = %tenant, rule_id = %rule, recomputed, "retention rule deleted");
        Ok(existing)
    }

    pub async fn recording_lifecycle(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
    ) -> ApiResult<RecordingLifecycle> {
        let scope = self
            .authorize_tenant(actor, Permission::ReadRecordings, tenant)
            .await?;
        let row = self.visible_recording(&scope, tenant, recording).await?;
        let rule = match row.retention_rule_id {
            Some(id) => {
                let rule = store::retention::get(&self.db, tenant, id)
                    .await
                    .map_err(internal)?
                    // Deleting a rule recomputes in the same transaction:
                    // a dangling id is a damaged row.
                    .ok_or_else(|| corrupt("retention_rule_id"))?;
                EffectiveRule::Rule {
                    id: rule.id,
                    name: rule.name,
                    retention_days: rule.retention_days,
                }
            }
            None => {
                let tenant_row = store::tenancy::get_tenant(&self.db, tenant)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| ApiError::not_found("tenant"))?;
                EffectiveRule::TenantDefault {
                    retention_days: policy_from_row(&tenant_row)?.default_retention_days,
                }
            }
        };
        let holds = self.holds_covering(tenant, &row).await?;
        Ok(RecordingLifecycle {
            recording_id: recording,
            rule,
            retain_until: row.retain_until,
            holds,
        })
    }

    pub async fn authorize_playback(
        &self,
        actor: &Actor,
        tenant: TenantId,
        recording: RecordingId,
        access: Access,
        reason: Option<String>,
    ) -> ApiResult<Recording> {
        let (scope, tenant_row) = self
            .authorize_tenant_row(actor, Permission::ReadRecordings, tenant)
            .await?;
        let tenant_row = tenant_row.ok_or_else(|| ApiError::not_found("tenant"))?;
        let reason = input::reason(reason.as_deref())?;
        if tenant_row.require_playback_reason && reason.is_none() {
            return Err(ApiError::invalid(
                "a reason is required to play recordings of this tenant",
            ));
        }
        let row = self.visible_recording(&scope, tenant, recording).await?;
        // A data-subject request restricted it: a compliance officer with a
        // reason only, and the trail says the recording was restricted.
        let restricted = self
            .check_restriction(actor, tenant, recording, reason.as_deref())
            .await?;
        let view = self.recording_view(tenant, row).await?;
        let details = if restricted {
            json!({ "restricted": true })
        } else {
            json!({})
        };
        self.audit_read_with_reason(
            actor,
            tenant,
            match access {
                Access::Playback => AuditAction::Playback,
                Access::Download => AuditAction::Download,
            },
            Some(recording.to_string()),
            reason,
            details,
        )
        .await?;
        Ok(view)
    }

    /// A `RetentionChange` entry, in the change's transaction.
    async fn audit_change(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor,
        tenant: TenantId,
        rule: Option<Uuid>,
        details: serde_json::Value,
    ) -> ApiResult<()> {
        let record = AuditRecord {
            action: AuditAction::RetentionChange,
            target: rule.map(|id| id.to_string()),
            reason: None,
            details,
        };
        audit::append(txn, tenant, actor, self.now(), record)
            .await
            .map_err(internal)?;
        Ok(())
    }
}

/// The tenant's row, locked until `txn` ends (see
/// [`store::tenancy::lock_tenant`]).
async fn locked_tenant(txn: &DatabaseTransaction, tenant: TenantId) -> ApiResult<tenant::Model> {
    store::tenancy::lock_tenant(txn, tenant)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

async fn recompute(txn: &DatabaseTransaction, tenant: &tenant::Model) -> ApiResult<u64> {
    let default_days = policy_from_row(tenant)?.default_retention_days;
    store::retention::recompute_tenant(txn, TenantId(tenant.id), default_days)
        .await
        .map_err(internal)
}

fn policy_from_row(row: &tenant::Model) -> ApiResult<TenantPolicy> {
    Ok(TenantPolicy {
        default_retention_days: u32::try_from(row.default_retention_days)
            .map_err(|_| corrupt("default_retention_days"))?,
        require_playback_reason: row.require_playback_reason,
    })
}

/// A rule as the trail records it (its conditions are business categories,
/// never personal data: attributes are documented as not for it).
fn rule_details(rule: &RetentionRule) -> serde_json::Value {
    let mut details = json!({
        "id": rule.id,
        "name": rule.name,
        "matches": rule.matches,
        "retention_days": rule.retention_days,
        "overriding": rule.overriding,
    });
    // Only on statutory rules: the entries of the others stay as they were.
    if let Some(basis) = &rule.legal_basis {
        details["legal_basis"] = json!(basis);
    }
    details
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::lifecycle::{
        AuthorizePlayback, CreateRetentionRule, DeleteRetentionRule, GetPolicy,
        GetRecordingLifecycle, ListRetentionRules, SetPolicy,
    };
    router
        .route(service, |s, r: GetPolicy| async move {
            s.get_policy(&r.actor, r.tenant).await
        })
        .route(service, |s, r: SetPolicy| async move {
            s.set_policy(&r.actor, r.tenant, r.policy).await
        })
        .route(service, |s, r: ListRetentionRules| async move {
            s.list_retention_rules(&r.actor, r.tenant).await
        })
        .route(service, |s, r: CreateRetentionRule| async move {
            s.create_retention_rule(&r.actor, r.tenant, r.rule).await
        })
        .route(service, |s, r: DeleteRetentionRule| async move {
            s.delete_retention_rule(&r.actor, r.tenant, r.rule).await
        })
        .route(service, |s, r: GetRecordingLifecycle| async move {
            s.recording_lifecycle(&r.actor, r.tenant, r.recording).await
        })
        .route(service, |s, r: AuthorizePlayback| async move {
            s.authorize_playback(&r.actor, r.tenant, r.recording, r.access, r.reason)
                .await
        });
}
