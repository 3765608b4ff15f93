//! TODO(manifest): per-tenant signed daily manifests (Ed25519).
#![allow(unused_variables)]

use callvault_contracts::TenantId;
use callvault_contracts::lifecycle_api::SignedManifest;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbErr};

/// Derives each tenant's Ed25519 signing key from one platform secret.
#[derive(Clone)]
pub struct ManifestKeys {
    secret: Vec<u8>,
}

impl ManifestKeys {
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    /// Base64 Ed25519 public key of `tenant`.
    pub fn public_key(&self, tenant: TenantId) -> String {
        unimplemented!("ManifestKeys::public_key")
    }
}

/// The signed manifest of `date` (a finished UTC day) for `tenant`, signed
/// and stored the first time it is asked for.
pub async fn daily<C: ConnectionTrait>(
    conn: &C,
    keys: &ManifestKeys,
    tenant: TenantId,
    date: NaiveDate,
) -> Result<SignedManifest, DbErr> {
    unimplemented!("manifest::daily")
}
