//! Per-tenant signed daily manifests: what a tenant added (ingested) and
//! deleted on one UTC day, as canonical JSON signed with the tenant's
//! Ed25519 key, so a regulator can check the archive's completeness without
//! trusting the operator's database.
//!
//! Each tenant's signing key is derived from one platform secret (HKDF),
//! so there is nothing per tenant to store or lose; the public key is
//! published through `manifest_public_key`. A manifest is signed and
//! stored the first time it is asked for (or by the daily timer) and never
//! changes afterwards: a later deletion shows in the day it happened, and
//! the recording stays in the day it was added (read from its tombstone).
//! services/metadata/AUDIT.md tells a third party how to verify one.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Prk, Salt};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_contracts::TenantId;
use callvault_contracts::lifecycle_api::SignedManifest;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroize;

use crate::audit::{canonical_json, timestamp};
use crate::db::db_time;
use crate::db::entity::{daily_manifest, recording, recording_tombstone, tenant};

/// HKDF salt of every tenant's manifest key; the info is the tenant id's
/// 16 bytes.
const HKDF_SALT: &[u8] = b"callvault manifest v1";

/// `version` in every body this code signs.
const BODY_VERSION: u32 = 1;

/// Derives each tenant's Ed25519 signing key from one platform secret.
#[derive(Clone)]
pub struct ManifestKeys {
    prk: Arc<Prk>,
}

impl std::fmt::Debug for ManifestKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManifestKeys(<redacted>)")
    }
}

impl ManifestKeys {
    /// `secret`: at least 32 random bytes from configuration; wiped once
    /// extracted.
    pub fn new(mut secret: Vec<u8>) -> Self {
        let prk = Salt::new(HKDF_SHA256, HKDF_SALT).extract(&secret);
        secret.zeroize();
        Self { prk: Arc::new(prk) }
    }

    /// Base64 Ed25519 public key of `tenant`.
    pub fn public_key(&self, tenant: TenantId) -> String {
        BASE64.encode(self.key_pair(tenant).public_key().as_ref())
    }

    /// Base64 (standard, padded) Ed25519 signature of `tenant` over `body`.
    pub(crate) fn sign(&self, tenant: TenantId, body: &[u8]) -> String {
        BASE64.encode(self.key_pair(tenant).sign(body).as_ref())
    }

    fn key_pair(&self, tenant: TenantId) -> Ed25519KeyPair {
        let mut seed = [0u8; 32];
        let info = [tenant.0.as_bytes().as_slice()];
        // Neither can fail: 32 bytes are far below HKDF-SHA256's limit, and
        // any 32 bytes are an Ed25519 seed.
        self.prk
            .expand(&info, Seed)
            .and_then(|okm| okm.fill(&mut seed))
            .expect("HKDF-SHA256 yields 32 bytes");
        let pair =
            Ed25519KeyPair::from_seed_unchecked(&seed).expect("32 bytes are an Ed25519 seed");
        seed.zeroize();
        pair
    }
}

struct Seed;

impl KeyType for Seed {
    fn len(&self) -> usize {
        32
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
    if let Some(row) = stored(conn, tenant, date).await? {
        return Ok(signed(keys, row));
    }
    let body = body(conn, tenant, date).await?;
    let row = daily_manifest::Model {
        tenant_id: tenant.0,
        date,
        signature: keys.sign(tenant, body.as_bytes()),
        body,
        signed_at: db_time(Utc::now()),
    };
    // Two requests (or the timer and a request) may build the same day at
    // once; the first stored wins and both answer with it.
    daily_manifest::Entity::insert(row.into_active_model())
        .on_conflict_do_nothing_on([
            daily_manifest::Column::TenantId,
            daily_manifest::Column::Date,
        ])
        .exec_without_returning(conn)
        .await?;
    let row = stored(conn, tenant, date)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("daily manifest".to_owned()))?;
    Ok(signed(keys, row))
}

/// Signs and stores `date`'s manifest of every tenant (those already
/// signed are left as they are; a tenant onboarded later gets an empty,
/// truthful one rather than a guess from a clock that tests move). Returns
/// how many tenants have their manifest; a tenant that failed is logged
/// and skipped so one bad tenant doesn't stop the others, and the first
/// failure is returned once all were tried.
pub async fn sign_due_manifests<C: ConnectionTrait>(
    conn: &C,
    keys: &ManifestKeys,
    date: NaiveDate,
) -> Result<usize, DbErr> {
    day_bounds(date)?;
    let tenants: Vec<Uuid> = tenant::Entity::find()
        .select_only()
        .column(tenant::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let mut signed = 0;
    let mut first_error = None;
    for id in tenants {
        match daily(conn, keys, TenantId(id), date).await {
            Ok(_) => signed += 1,
            Err(err) => {
                tracing::error!(tenant_id = %id, %date, error = %err, "daily manifest not signed");
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(signed),
    }
}

async fn stored<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    date: NaiveDate,
) -> Result<Option<daily_manifest::Model>, DbErr> {
    daily_manifest::Entity::find_by_id((tenant.0, date))
        .one(conn)
        .await
}

fn signed(keys: &ManifestKeys, row: daily_manifest::Model) -> SignedManifest {
    let tenant = TenantId(row.tenant_id);
    SignedManifest {
        tenant_id: tenant,
        date: row.date,
        body: row.body,
        signature: row.signature,
        public_key: keys.public_key(tenant),
    }
}

/// `[start, end)` of the UTC day.
fn day_bounds(date: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>), DbErr> {
    let next = date
        .succ_opt()
        .ok_or_else(|| DbErr::Custom("manifest date out of range".to_owned()))?;
    let start = date.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = next.and_time(chrono::NaiveTime::MIN).and_utc();
    Ok((start, end))
}

/// The canonical JSON body of the day's manifest (AUDIT.md has its shape).
async fn body<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    date: NaiveDate,
) -> Result<String, DbErr> {
    let (start, end) = day_bounds(date)?;
    // Keyed by recording id: the body lists them in id order, and a
    // recording caught between catalogue and tombstone is listed once.
    let mut added: BTreeMap<Uuid, (String, DateTime<Utc>)> = BTreeMap::new();
    let live: Vec<(Uuid, String, DateTime<Utc>)> = recording::Entity::find()
        .select_only()
        .column(recording::Column::Id)
        .column(recording::Column::Sha256)
        .column(recording::Column::IngestedAt)
        .filter(recording::Column::TenantId.eq(tenant.0))
        .filter(recording::Column::IngestedAt.gte(start))
        .filter(recording::Column::IngestedAt.lt(end))
        .into_tuple()
        .all(conn)
        .await?;
    let gone: Vec<(Uuid, String, DateTime<Utc>)> = recording_tombstone::Entity::find()
        .select_only()
        .column(recording_tombstone::Column::RecordingId)
        .column(recording_tombstone::Column::Sha256)
        .column(recording_tombstone::Column::IngestedAt)
        .filter(recording_tombstone::Column::TenantId.eq(tenant.0))
        .filter(recording_tombstone::Column::IngestedAt.gte(start))
        .filter(recording_tombstone::Column::IngestedAt.lt(end))
        .into_tuple()
        .all(conn)
        .await?;
    for (id, sha256, ingested_at) in live.into_iter().chain(gone) {
        added.insert(id, (sha256, ingested_at));
    }
    let deleted: BTreeMap<Uuid, (DateTime<Utc>, String)> = recording_tombstone::Entity::find()
        .select_only()
        .column(recording_tombstone::Column::RecordingId)
        .column(recording_tombstone::Column::DeletedAt)
        .column(recording_tombstone::Column::Reason)
        .filter(recording_tombstone::Column::TenantId.eq(tenant.0))
        .filter(recording_tombstone::Column::DeletedAt.gte(start))
        .filter(recording_tombstone::Column::DeletedAt.lt(end))
        .into_tuple::<(Uuid, DateTime<Utc>, String)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(id, at, reason)| (id, (at, reason)))
        .collect();
    let added: Vec<_> = added
        .into_iter()
        .map(|(id, (sha256, ingested_at))| {
            json!({
                "recording_id": id.hyphenated().to_string(),
                "sha256": sha256,
                "ingested_at": timestamp(ingested_at),
            })
        })
        .collect();
    let deleted: Vec<_> = deleted
        .into_iter()
        .map(|(id, (deleted_at, reason))| {
            json!({
                "recording_id": id.hyphenated().to_string(),
                "deleted_at": timestamp(deleted_at),
                "reason": reason,
            })
        })
        .collect();
    Ok(canonical_json(&json!({
        "version": BODY_VERSION,
        "tenant_id": tenant.0.hyphenated().to_string(),
        "date": date.format("%Y-%m-%d").to_string(),
        "added": added,
        "deleted": deleted,
    })))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};

    use super::*;

    #[test]
    fn keys_are_per_tenant_and_verify_with_the_public_key_alone() {
        let keys = ManifestKeys::new(vec![7u8; 32]);
        let a = TenantId(Uuid::from_u128(1));
        let b = TenantId(Uuid::from_u128(2));
        assert_ne!(keys.public_key(a), keys.public_key(b));
        assert_eq!(keys.public_key(a), keys.public_key(a));
        let public = BASE64.decode(keys.public_key(a)).expect("base64");
        assert_eq!(public.len(), 32);
        let signature = BASE64.decode(keys.sign(a, b"body")).expect("base64");
        let key = UnparsedPublicKey::new(&ED25519, &public);
        assert!(key.verify(b"body", &signature).is_ok());
        assert!(key.verify(b"bodx", &signature).is_err());
        let other = ManifestKeys::new(vec![8u8; 32]);
        assert_ne!(other.public_key(a), keys.public_key(a));
    }

    /// AUDIT.md's derivation, done independently (Python `cryptography`):
    /// same public key, same (deterministic) signature.
    #[test]
    fn keys_match_the_documented_derivation() {
        let keys = ManifestKeys::new(vec![0x3c; 32]);
        let tenant =
            TenantId(Uuid::parse_str("0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11").expect("uuid"));
        assert_eq!(
            keys.public_key(tenant),
            "VORUnmZC/RNN3abhj2LQO2UTBvBczVwbT2GzlJ7OF1E="
        );
        let body = r#"{"added":[],"date":"2026-03-01","deleted":[],"tenant_id":"0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11","version":1}"#;
        assert_eq!(
            keys.sign(tenant, body.as_bytes()),
            "e1lZNqqf4UU4ROKrBTa/nDKMN0t73Ek6Aof7Oy5dClnRBHxL5GuXncCsVowdIWC6WjuXnDGP5DZdE51hX4tDAQ=="
        );
    }

    #[test]
    fn day_bounds_are_utc_midnights() {
        let date = NaiveDate::from_ymd_opt(2026, 2, 28).expect("date");
        let (start, end) = day_bounds(date).expect("bounds");
        assert_eq!(timestamp(start), "2026-02-28T00:00:00.000000Z");
        assert_eq!(timestamp(end), "2026-03-01T00:00:00.000000Z");
        assert!(day_bounds(NaiveDate::MAX).is_err());
    }
}
