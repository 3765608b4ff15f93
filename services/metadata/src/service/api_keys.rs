//! Recorder API keys.
//!
//! The secret is `cvk_` + base64url of 32 random bytes: 256 bits of entropy,
//! so a plain SHA-256 of it is all the database needs to keep. A slow
//! password hash (argon2, bcrypt) protects low-entropy human passwords from
//! guessing; nobody can enumerate a 256-bit space, fast hash or not. The
//! fast hash also keeps verification (on every recorder upload) cheap.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callvault_bus::Router;
use callvault_contracts::metadata_api::{
    ApiError, ApiKey, ApiKeyGrant, ApiResult, CreatedApiKey, ErrorCode,
};
use callvault_contracts::{Actor, TenantId};
use chrono::Utc;
use std::sync::Arc;
use uuid::Uuid;

use super::MetadataService;
use crate::db::entity::api_key;
use crate::db::{db_time, internal};
use crate::{input, store};
use callvault_contracts::permissions::Permission;

const SECRET_PREFIX: &str = "cvk_";
const SECRET_BYTES: usize = 32;
/// `cvk_` and 8 characters of the random part: enough to tell keys apart
/// in a list, far too little to help guess one.
const DISPLAY_PREFIX_CHARS: usize = 12;

impl MetadataService {
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        name: String,
    ) -> ApiResult<CreatedApiKey> {
        self.authorize_tenant(actor, Permission::ManageApiKeys, tenant)
            .await?;
        let name = input::name(&name, "name")?;
        let secret = new_secret()?;
        let row = api_key::Model {
            id: Uuid::new_v4(),
            tenant_id: tenant.0,
            name,
            prefix: secret.chars().take(DISPLAY_PREFIX_CHARS).collect(),
            secret_sha256: secret_hash(&secret),
            created_at: db_time(Utc::now()),
            revoked_at: None,
        };
        store::api_keys::insert(&self.db, row.clone())
            .await
            .map_err(internal)?;
        tracing::info!(tenant_id = %tenant, api_key_id = %row.id, "api key created");
        Ok(CreatedApiKey {
            key: key_from_row(row),
            secret,
        })
    }

    pub async fn list_api_keys(&self, actor: &Actor, tenant: TenantId) -> ApiResult<Vec<ApiKey>> {
        self.authorize_tenant(actor, Permission::ManageApiKeys, tenant)
            .await?;
        let rows = store::api_keys::list(&self.db, tenant)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(key_from_row).collect())
    }

    /// Revoking twice is not an error: the key comes back with the time of
    /// its first revocation.
    pub async fn revoke_api_key(
        &self,
        actor: &Actor,
        tenant: TenantId,
        key: Uuid,
    ) -> ApiResult<ApiKey> {
        self.authorize_tenant(actor, Permission::ManageApiKeys, tenant)
            .await?;
        let row = store::api_keys::revoke(&self.db, tenant, key, db_time(Utc::now()))
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("api key"))?;
        tracing::info!(tenant_id = %tenant, api_key_id = %key, "api key revoked");
        Ok(key_from_row(row))
    }

    pub async fn verify_api_key(&self, secret: &str) -> ApiResult<ApiKeyGrant> {
        let unauthenticated = || ApiError::new(ErrorCode::Unauthenticated, "invalid api key");
        // Not even a lookup for something that can't be one of our secrets.
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Err(unauthenticated());
        }
        let found = store::api_keys::find_by_secret_hash(&self.db, &secret_hash(secret))
            .await
            .map_err(internal)?;
        let Some((key, tenant)) = found else {
            return Err(unauthenticated());
        };
        if key.revoked_at.is_some() {
            tracing::info!(tenant_id = %key.tenant_id, api_key_id = %key.id, "revoked api key used");
            return Err(unauthenticated());
        }
        // An offboarded tenant takes nothing in: the recorder is told so,
        // for good, rather than that its key is wrong.
        self.refuse_if_frozen(TenantId(key.tenant_id), Permission::ManageApiKeys)
            .await?;
        let recording_policy = store::recording_policy::has_policy(&self.db, key.tenant_id)
            .await
            .map_err(internal)?;
        Ok(ApiKeyGrant {
            key_id: key.id,
            tenant_id: TenantId(key.tenant_id),
            key_ref: tenant.key_ref,
            recording_policy,
        })
    }
}

fn new_secret() -> ApiResult<String> {
    let mut random = [0u8; SECRET_BYTES];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| {
        tracing::error!("system random generator failed");
        ApiError::new(ErrorCode::Internal, "internal error")
    })?;
    Ok(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(random)))
}

fn secret_hash(secret: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        secret.as_bytes(),
    ))
}

fn key_from_row(row: api_key::Model) -> ApiKey {
    ApiKey {
        id: row.id,
        tenant_id: TenantId(row.tenant_id),
        name: row.name,
        prefix: row.prefix,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    }
}

/// Serves this module's operations.
pub(super) fn routes(router: &mut Router, service: &Arc<MetadataService>) {
    use callvault_contracts::ops::tenancy::{
        CreateApiKey, ListApiKeys, RevokeApiKey, VerifyApiKey,
    };
    router
        .route(service, |s, r: CreateApiKey| async move {
            s.create_api_key(&r.actor, r.tenant, r.name).await
        })
        .route(service, |s, r: ListApiKeys| async move {
            s.list_api_keys(&r.actor, r.tenant).await
        })
        .route(service, |s, r: RevokeApiKey| async move {
            s.revoke_api_key(&r.actor, r.tenant, r.key).await
        })
        .route(service, |s, r: VerifyApiKey| async move {
            s.verify_api_key(&r.secret).await
        });
}
