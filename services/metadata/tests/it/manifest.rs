//! Signed daily manifests: a day's additions and deletions as canonical
//! JSON, signed per tenant, verifiable with the public key alone, and
//! fixed once signed.

use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_contracts::lifecycle_api::SignedManifest;
use callvault_contracts::metadata_api::{ErrorCode, TenantKeys};
use callvault_contracts::{RecordingId, Role, TenantId};
use callvault_metadata::{ManifestKeys, MetadataService};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

use crate::support::{Env, bpo_admin, code, event, member, platform};

const MANIFEST_SECRET: [u8; 32] = [0x3c; 32];

/// A service that signs manifests, with a clock the test sets.
struct Signer {
    svc: MetadataService,
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl Signer {
    fn new(env: &Env, now: DateTime<Utc>) -> Self {
        let now = Arc::new(Mutex::new(now));
        let clock = now.clone();
        let svc = MetadataService::new(
            env.db.clone(),
            env.keys.clone() as Arc<dyn TenantKeys>,
            env.catalogue.clone(),
        )
        .with_manifest_keys(ManifestKeys::new(MANIFEST_SECRET.to_vec()))
        .with_clock(Arc::new(move || *clock.lock().expect("clock")));
        Signer { svc, now }
    }

    fn set_now(&self, now: DateTime<Utc>) {
        *self.now.lock().expect("clock") = now;
    }

    async fn manifest(&self, tenant: TenantId, date: NaiveDate) -> SignedManifest {
        self.svc
            .daily_manifest(&member(Role::Auditor, tenant), tenant, date)
            .await
            .expect("manifest")
    }
}

fn nov(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, day, hour, minute, second)
        .single()
        .expect("time")
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 11, day).expect("date")
}

async fn ingest_at(
    env: &Env,
    tenant: TenantId,
    ingested_at: DateTime<Utc>,
    sha: &str,
) -> RecordingId {
    let mut recorded = event(tenant, 0);
    recorded.ingested_at = ingested_at;
    recorded.sha256 = sha.repeat(32);
    env.ingest(recorded).await
}

/// What the deletion worker leaves: the catalogue row gone, a tombstone.
async fn delete_by_hand(
    env: &Env,
    tenant: TenantId,
    recording: RecordingId,
    ingested_at: DateTime<Utc>,
    sha: &str,
    deleted_at: DateTime<Utc>,
) {
    let insert = Query::insert()
        .into_table(Alias::new("recording_tombstones"))
        .columns(
            [
                "tenant_id",
                "recording_id",
                "ingested_at",
                "sha256",
                "deleted_at",
                "reason",
                "policy",
                "deleted_by",
                "certificate_id",
            ]
            .map(Alias::new),
        )
        .values_panic([
            tenant.0.into(),
            recording.0.into(),
            ingested_at.into(),
            sha.repeat(32).into(),
            deleted_at.into(),
            "retention".into(),
            "tenant default (365 days)".into(),
            "deletion worker".into(),
            uuid::Uuid::new_v4().into(),
        ])
        .to_owned();
    env.db.execute(&insert).await.expect("tombstone");
    let delete = Query::delete()
        .from_table(Alias::new("recordings"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(Alias::new("id")).eq(recording.0))
        .to_owned();
    let result = env.db.execute(&delete).await.expect("purge");
    assert_eq!(result.rows_affected(), 1);
}

fn verifies(public_key: &str, manifest_body: &[u8], signature: &str) -> bool {
    let public = BASE64.decode(public_key).expect("public key base64");
    let signature = BASE64.decode(signature).expect("signature base64");
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(manifest_body, &signature)
        .is_ok()
}

async fn manifest_lists_a_days_additions_and_deletions(env: Env) {
    let w = env.world().await;
    let early = nov(14, 8, 0, 0);
    let r0 = ingest_at(&env, w.a, early, "0a").await;
    let r1 = ingest_at(&env, w.a, nov(14, 10, 0, 0), "1b").await;
    let last_micro = nov(14, 23, 59, 59) + chrono::Duration::microseconds(999_999);
    let r2 = ingest_at(&env, w.a, last_micro, "2c").await;
    let midnight = nov(15, 0, 0, 0);
    let r3 = ingest_at(&env, w.a, midnight, "3d").await;
    ingest_at(&env, w.b, nov(14, 9, 0, 0), "ee").await;
    delete_by_hand(&env, w.a, r0, early, "0a", nov(15, 12, 0, 0)).await;

    let signer = Signer::new(&env, nov(16, 9, 0, 0));
    let day14 = signer.manifest(w.a, date(14)).await;
    assert_eq!((day14.tenant_id, day14.date), (w.a, date(14)));
    let body: serde_json::Value = serde_json::from_str(&day14.body).expect("json body");
    assert_eq!(body["version"], 2);
    assert_eq!(body["kind"], "daily_manifest");
    assert_eq!(body["tenant_id"], w.a.0.to_string());
    assert_eq!(body["date"], "2023-11-14");
    assert_eq!(body["deleted"], serde_json::json!([]));
    // The deleted recording is still listed on the day it was added.
    let mut expected = vec![
        (r0, "0a", "2023-11-14T08:00:00.000000Z"),
        (r1, "1b", "2023-11-14T10:00:00.000000Z"),
        (r2, "2c", "2023-11-14T23:59:59.999999Z"),
    ];
    expected.sort_by_key(|(id, _, _)| id.0.to_string());
    let added: Vec<_> = body["added"]
        .as_array()
        .expect("added")
        .iter()
        .map(|item| {
            (
                item["recording_id"].as_str().expect("id").to_owned(),
                item["sha256"].as_str().expect("sha").to_owned(),
                item["ingested_at"].as_str().expect("at").to_owned(),
            )
        })
        .collect();
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(id, sha, at)| (id.0.to_string(), sha.repeat(32), at.to_owned()))
        .collect();
    assert_eq!(added, expected);

    // Byte for byte: sorted keys, no whitespace.
    let day15 = signer.manifest(w.a, date(15)).await;
    let parsed: serde_json::Value = serde_json::from_str(&day15.body).expect("json");
    let signed_at = parsed["signed_at"].as_str().expect("signed_at");
    // Nothing was audited (ingest and hand deletions are not): the head is
    // the empty chain's.
    let expected_body = format!(
        concat!(
            r#"{{"added":[{{"ingested_at":"2023-11-15T00:00:00.000000Z","recording_id":"{r3}","sha256":"{sha3}"}}],"#,
            r#""audit_head":{{"hash":"{zeros}","seq":0}},"#,
            r#""date":"2023-11-15","#,
            r#""deleted":[{{"deleted_at":"2023-11-15T12:00:00.000000Z","reason":"retention","recording_id":"{r0}"}}],"#,
            r#""kind":"daily_manifest","signed_at":"{signed_at}","#,
            r#""tenant_id":"{tenant}","version":2}}"#
        ),
        r3 = r3.0,
        sha3 = "3d".repeat(32),
        zeros = "0".repeat(64),
        r0 = r0.0,
        signed_at = signed_at,
        tenant = w.a.0,
    );
    assert_eq!(day15.body, expected_body);

    // Another tenant's manifest of the same day holds only its own.
    let b14 = signer.manifest(w.b, date(14)).await;
    let b_body: serde_json::Value = serde_json::from_str(&b14.body).expect("json");
    assert_eq!(b_body["added"].as_array().expect("added").len(), 1);
    assert!(!b14.body.contains(&r1.0.to_string()));
}

async fn signature_verifies_with_the_public_key_alone(env: Env) {
    let w = env.world().await;
    ingest_at(&env, w.a, nov(14, 10, 0, 0), "1b").await;
    let signer = Signer::new(&env, nov(16, 9, 0, 0));
    let manifest = signer.manifest(w.a, date(14)).await;
    // The key a third party fetches knowing only the tenant id.
    let public_key = signer
        .svc
        .manifest_public_key(w.a)
        .await
        .expect("public key");
    assert_eq!(manifest.public_key, public_key);
    assert!(verifies(
        &public_key,
        manifest.body.as_bytes(),
        &manifest.signature
    ));

    let mut flipped = manifest.body.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    assert!(!verifies(&public_key, &flipped, &manifest.signature));

    // Another tenant's key does not verify it: keys are per tenant.
    let other = signer
        .svc
        .manifest_public_key(w.b)
        .await
        .expect("public key");
    assert_ne!(other, public_key);
    assert!(!verifies(
        &other,
        manifest.body.as_bytes(),
        &manifest.signature
    ));

    // The same secret derives the same keys in another process.
    let again = Signer::new(&env, nov(16, 9, 0, 0));
    assert_eq!(
        again.svc.manifest_public_key(w.a).await.expect("key"),
        public_key
    );
}

async fn a_signed_day_never_changes(env: Env) {
    let w = env.world().await;
    let ingested = nov(14, 10, 0, 0);
    let r1 = ingest_at(&env, w.a, ingested, "1b").await;
    let signer = Signer::new(&env, nov(15, 1, 30, 0));
    let first = signer.manifest(w.a, date(14)).await;
    // Later: the recording is deleted, and a late one for that day arrives.
    delete_by_hand(&env, w.a, r1, ingested, "1b", nov(15, 3, 0, 0)).await;
    ingest_at(&env, w.a, nov(14, 22, 0, 0), "ff").await;
    signer.set_now(nov(20, 0, 0, 0));
    let again = signer.manifest(w.a, date(14)).await;
    assert_eq!(again, first);
    assert_eq!(env.count("daily_manifests").await, 1);
}

async fn concurrent_requests_store_one_manifest(env: Env) {
    let w = env.world().await;
    ingest_at(&env, w.a, nov(14, 10, 0, 0), "1b").await;
    let signer = Arc::new(Signer::new(&env, nov(16, 9, 0, 0)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let signer = signer.clone();
        let tenant = w.a;
        tasks.spawn(async move { signer.manifest(tenant, date(14)).await });
    }
    let manifests = tasks.join_all().await;
    assert!(manifests.iter().all(|manifest| *manifest == manifests[0]));
    assert_eq!(env.count("daily_manifests").await, 1);
}

async fn only_finished_days_are_signed(env: Env) {
    let w = env.world().await;
    // 00:59 on the 16th: the 15th has ended but is still in its grace hour
    // (late catalogue events for it may still arrive).
    let signer = Signer::new(&env, nov(16, 0, 59, 59));
    let auditor = member(Role::Auditor, w.a);
    for day in [15, 16, 17, 30] {
        let outcome = signer.svc.daily_manifest(&auditor, w.a, date(day)).await;
        assert_eq!(code(outcome), ErrorCode::InvalidInput, "day {day}");
    }
    let outcome = signer
        .svc
        .daily_manifest(&auditor, w.a, NaiveDate::MAX)
        .await;
    assert_eq!(code(outcome), ErrorCode::InvalidInput);
    assert_eq!(env.count("daily_manifests").await, 0);
    // From 01:00 the day before is signed (empty).
    signer.set_now(nov(16, 1, 0, 0));
    let manifest = signer.manifest(w.a, date(15)).await;
    assert!(manifest.body.contains(r#""added":[],"#));
}

async fn manifest_permissions_follow_the_matrix(env: Env) {
    let w = env.world().await;
    let signer = Signer::new(&env, nov(16, 9, 0, 0));
    for actor in [
        member(Role::Auditor, w.a),
        member(Role::ComplianceOfficer, w.a),
    ] {
        let outcome = signer.svc.daily_manifest(&actor, w.a, date(14)).await;
        assert_eq!(outcome.expect("manifest").tenant_id, w.a);
    }
    for actor in [
        platform(),
        bpo_admin(w.x),
        bpo_admin(w.y),
        member(Role::TenantAdmin, w.a),
        member(Role::Supervisor, w.a),
        member(Role::Agent, w.a),
        member(Role::Auditor, w.b),
        member(Role::ComplianceOfficer, w.c),
    ] {
        let outcome = signer.svc.daily_manifest(&actor, w.a, date(14)).await;
        assert_eq!(code(outcome), ErrorCode::Forbidden, "{}", actor.subject);
    }
    // Public: no actor; any tenant id gets its derived key, so the answer
    // does not tell whether the tenant exists.
    let unknown = TenantId(uuid::Uuid::new_v4());
    let key = signer.svc.manifest_public_key(unknown).await.expect("key");
    assert_eq!(BASE64.decode(key).expect("base64").len(), 32);
}

async fn without_signing_keys_manifests_are_unavailable(env: Env) {
    let w = env.world().await;
    let auditor = member(Role::Auditor, w.a);
    let outcome = env.svc.daily_manifest(&auditor, w.a, date(14)).await;
    assert_eq!(code(outcome), ErrorCode::Unavailable);
    let outcome = env.svc.manifest_public_key(w.a).await;
    assert_eq!(code(outcome), ErrorCode::Unavailable);
    let outcome = env.svc.sign_yesterdays_manifests().await;
    assert_eq!(code(outcome), ErrorCode::Unavailable);
}

async fn the_daily_timer_signs_yesterday_for_every_tenant(env: Env) {
    let w = env.world().await;
    ingest_at(&env, w.a, nov(15, 10, 0, 0), "1b").await;
    ingest_at(&env, w.c, nov(15, 11, 0, 0), "2c").await;
    let signer = Signer::new(&env, nov(16, 1, 0, 0));
    assert_eq!(
        signer.svc.sign_yesterdays_manifests().await.expect("sign"),
        3
    );
    assert_eq!(env.count("daily_manifests").await, 3);
    // Idempotent: a second run (a restart, a second replica) signs nothing new.
    assert_eq!(
        signer.svc.sign_yesterdays_manifests().await.expect("sign"),
        3
    );
    assert_eq!(env.count("daily_manifests").await, 3);
    let manifest = signer.manifest(w.c, date(15)).await;
    assert!(manifest.body.contains(&"2c".repeat(32)));
    assert!(verifies(
        &manifest.public_key,
        manifest.body.as_bytes(),
        &manifest.signature
    ));
}

on_both_backends!(
    manifest_lists_a_days_additions_and_deletions,
    signature_verifies_with_the_public_key_alone,
    a_signed_day_never_changes,
    concurrent_requests_store_one_manifest,
    only_finished_days_are_signed,
    manifest_permissions_follow_the_matrix,
    without_signing_keys_manifests_are_unavailable,
    the_daily_timer_signs_yesterday_for_every_tenant,
);
