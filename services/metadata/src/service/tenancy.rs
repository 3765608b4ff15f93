//! BPOs, tenant onboarding and users.

use callvault_bus::Router;
use callvault_contracts::lifecycle_api::AuditAction;
use callvault_contracts::metadata_api::{
    ApiError, ApiResult, Bpo, ErrorCode, KeyMode, NewTenant, NewUser, Tenant, User,
};
use callvault_contracts::{Actor, BpoId, Role, TenantId, UserId};
use chrono::Utc;
use sea_orm::TransactionTrait;
use serde_json::json;
use std::sync::Arc;

use super::{MetadataService, corrupt};
use crate::audit::{self, AuditRecord};
use callvault_contracts::permissions::Permission;

use crate::authz;
use crate::db::entity::{bpo, tenant, user};
use crate::db::{db_time, internal, is_unique_violation};
use crate::{input, store};

/// ARNs are at most 2048 characters (IAM's limit).
const MAX_KEY_ARN_CHARS: usize = 2048;

impl MetadataService {
    pub async fn create_bpo(&self, actor: &Actor, name: String) -> ApiResult<Bpo> {
        authz::platform(actor, Permission::ManageBpos)?;
        let name = input::name(&name, "name")?;
        let row = bpo::Model {
            id: BpoId::new().0,
            name,
            created_at: db_time(Utc::now()),
        };
        store::tenancy::insert_bpo(&self.db, row.clone())
            .await
            .map_err(internal)?;
        tracing::info!(bpo_id = %row.id, "bpo created");
        Ok(bpo_from_row(row))
    }

    pub async fn list_bpos(&self, actor: &Actor) -> ApiResult<Vec<Bpo>> {
        authz::platform(actor, Permission::ManageBpos)?;
        let rows = store::tenancy::list_bpos(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(bpo_from_row).collect())
    }

    /// Creates the tenant's master key (or checks the one it brings) before
    /// the tenant row: a key failure leaves no tenant behind. The reverse
    /// failure (key made, insert failed) leaves a key without a tenant,
    /// which `create_tenant_key` finds again if onboarding is retried with
    /// the same id — here a new id, so at worst one unused key.
    pub async fn onboard_tenant(&self, actor: &Actor, input: NewTenant) -> ApiResult<Tenant> {
        authz::bpo(actor, Permission::OnboardTenants, input.bpo_id)?;
        let name = input::name(&input.name, "name")?;
        let time_zone = input::time_zone(&input.time_zone)?;
        let default_region = input::default_region(input.default_region.as_deref(), &time_zone)?;
        let retention = input::retention_days(input.default_retention_days)?;
        if let KeyMode::External { key_arn } = &input.key_mode {
            validate_key_arn(key_arn)?;
        }
        let bpo_exists = store::tenancy::bpo_exists(&self.db, input.bpo_id)
            .await
            .map_err(internal)?;
        if !bpo_exists {
            return Err(ApiError::not_found("bpo"));
        }

        let id = TenantId::new();
        let key_ref = match &input.key_mode {
            KeyMode::Managed => self.keys.create_tenant_key(id).await,
            KeyMode::External { key_arn } => {
                self.refuse_key_of_another(id, key_arn.trim()).await?;
                self.keys.check_external_key(key_arn.trim()).await
            }
        };
        let key_ref = key_ref.inspect_err(|err| {
            tracing::warn!(
                tenant_id = %id,
                bpo_id = %input.bpo_id,
                code = err.code.as_str(),
                "tenant key refused, tenant not onboarded"
            );
        })?;

        let row = tenant::Model {
            id: id.0,
            bpo_id: input.bpo_id.0,
            name,
            time_zone,
            default_retention_days: retention,
            key_ref,
            created_at: db_time(Utc::now()),
            require_playback_reason: false,
            default_region: default_region.map(|region| region.to_string()),
        };
        store::tenancy::insert_tenant(&self.db, row.clone())
            .await
            .map_err(internal)?;
        tracing::info!(tenant_id = %id, bpo_id = %input.bpo_id, "tenant onboarded");
        tenant_from_row(row)
    }

    pub async fn get_tenant(&self, actor: &Actor, id: TenantId) -> ApiResult<Tenant> {
        self.authorize_tenant(actor, Permission::ViewTenants, id)
            .await?;
        let row = store::tenancy::get_tenant(&self.db, id)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("tenant"))?;
        tenant_from_row(row)
    }

    pub async fn list_tenants(&self, actor: &Actor, bpo: BpoId) -> ApiResult<Vec<Tenant>> {
        authz::bpo(actor, Permission::ViewTenants, bpo)?;
        let rows = store::tenancy::list_tenants(&self.db, bpo)
            .await
            .map_err(internal)?;
        rows.into_iter().map(tenant_from_row).collect()
    }

    /// [`TenantDirectory`](callvault_contracts::ops::tenancy::TenantDirectory):
    /// a machine call of the billing service, which checks its caller itself.
    pub async fn tenant_directory(
        &self,
        bpo: Option<BpoId>,
        tenant: Option<TenantId>,
    ) -> ApiResult<Vec<Tenant>> {
        let rows = store::tenancy::tenant_directory(&self.db, bpo, tenant)
            .await
            .map_err(internal)?;
        rows.into_iter().map(tenant_from_row).collect()
    }

    pub async fn create_user(&self, actor: &Actor, input: NewUser) -> ApiResult<User> {
        let subject = input::subject(&input.subject)?;
        let agent_id = match (input.role, &input.agent_id) {
            (Role::Agent, Some(agent)) => Some(input::name(agent, "agent_id")?),
            (Role::Agent, None) => return Err(ApiError::invalid("an agent needs an agent_id")),
            (_, Some(_)) => return Err(ApiError::invalid("only agents have an agent_id")),
            (_, None) => None,
        };
        let scope = match (input.role, input.tenant_id, input.bpo_id) {
            (Role::PlatformAdmin, None, None) => {
                authz::platform(actor, Permission::ManageUsers)?;
                "platform".to_string()
            }
            (Role::PlatformAdmin, _, _) => {
                return Err(ApiError::invalid(
                    "a platform admin has neither tenant_id nor bpo_id",
                ));
            }
            (Role::BpoAdmin, None, Some(bpo)) => {
                authz::bpo(actor, Permission::ManageUsers, bpo)?;
                let exists = store::tenancy::bpo_exists(&self.db, bpo)
                    .await
                    .map_err(internal)?;
                if !exists {
                    return Err(ApiError::not_found("bpo"));
                }
                format!("bpo:{bpo}")
            }
            (Role::BpoAdmin, _, _) => {
                return Err(ApiError::invalid(
                    "a bpo admin needs a bpo_id and no tenant_id",
                ));
            }
            (_, Some(tenant), None) => {
                self.authorize_tenant(actor, Permission::ManageUsers, tenant)
                    .await?;
                format!("tenant:{tenant}")
            }
            (role, _, _) => {
                return Err(ApiError::invalid(format!(
                    "a {} needs a tenant_id and no bpo_id",
                    role.as_str()
                )));
            }
        };

        let row = user::Model {
            id: UserId::new().0,
            scope,
            subject,
            role: input.role.as_str().to_string(),
            tenant_id: input.tenant_id.map(|t| t.0),
            bpo_id: input.bpo_id.map(|b| b.0),
            agent_id,
            created_at: db_time(Utc::now()),
        };
        let txn = self.db.begin().await.map_err(internal)?;
        match store::tenancy::insert_user(&txn, row.clone()).await {
            Ok(()) => {}
            Err(err) if is_unique_violation(&err) => {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    "a user with this subject already exists in this scope",
                ));
            }
            Err(err) => return Err(internal(err)),
        }
        if let Some(tenant) = input.tenant_id {
            // Target and details name the user by id and role only: the
            // subject may be an email address.
            let record = AuditRecord {
                action: AuditAction::RoleChange,
                target: Some(row.id.to_string()),
                reason: None,
                details: json!({"change": "user_created", "role": input.role.as_str()}),
            };
            audit::append(&txn, tenant, actor, self.now(), record)
                .await
                .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        tracing::info!(user_id = %row.id, role = input.role.as_str(), "user created");
        user_from_row(row)
    }

    pub async fn list_users(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<User>> {
        self.authorize_tenant(actor, Permission::ManageUsers, tenant)
            .await?;
        let rows = store::tenancy::list_users(&self.db, tenant)
            .await
            .map_err(internal)?;
        rows.into_iter().map(user_from_row).collect()
    }
}

pub(super) fn validate_key_arn(arn: &str) -> ApiResult<()> {
    let arn = arn.trim();
    if arn.is_empty() || arn.chars().count() > MAX_KEY_ARN_CHARS {
        return Err(ApiError::invalid(format!(
            "key_arn must be 1 to {MAX_KEY_ARN_CHARS} characters"
        )));
    }
    if arn.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::invalid("key_arn must not contain whitespace"));
    }
    Ok(())
}

fn bpo_from_row(row: bpo::Model) -> Bpo {
    Bpo {
        id: BpoId(row.id),
        name: row.name,
        created_at: row.created_at,
    }
}

pub(super) fn tenant_from_row(row: tenant::Model) -> ApiResult<Tenant> {
    Ok(Tenant {
        id: TenantId(row.id),
        bpo_id: BpoId(row.bpo_id),
        name: row.name,
        time_zone: row.time_zone,
        default_retention_days: u32::try_from(row.default_retention_days)
            .map_err(|_| corrupt("default_retention_days"))?,
        key_ref: row.key_ref,
        created_at: row.created_at,
        default_region: row.default_region,
    })
}

fn user_from_row(row: user::Model) -> ApiResult<User> {
    Ok(User {
        id: UserId(row.id),
        subject: row.subject,
        role: Role::parse(&row.role).ok_or_else(|| corrupt("role"))?,
        tenant_id: row.tenant_id.map(TenantId),
        bpo_id: row.bpo_id.map(BpoId),
        agent_id: row.agent_id,
        created_at: row.created_at,
    })
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::tenancy::{
        CreateBpo, CreateUser, GetTenant, ListBpos, ListTenants, ListUsers, OnboardTenant,
        TenantDirectory,
    };
    router
        .route(service, |s, r: CreateBpo| async move {
            s.create_bpo(&r.actor, r.name).await
        })
        .route(service, |s, r: ListBpos| async move {
            s.list_bpos(&r.actor).await
        })
        .route(service, |s, r: OnboardTenant| async move {
            s.onboard_tenant(&r.actor, r.input).await
        })
        .route(service, |s, r: GetTenant| async move {
            s.get_tenant(&r.actor, r.tenant).await
        })
        .route(service, |s, r: ListTenants| async move {
            s.list_tenants(&r.actor, r.bpo).await
        })
        .route(service, |s, r: TenantDirectory| async move {
            s.tenant_directory(r.bpo, r.tenant).await
        })
        .route(service, |s, r: CreateUser| async move {
            s.create_user(&r.actor, r.input).await
        })
        .route(service, |s, r: ListUsers| async move {
            s.list_users(&r.actor, r.tenant).await
        });
}
