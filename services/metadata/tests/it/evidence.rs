//! Evidence that can't be rewritten quietly: deletion certificates signed
//! with the tenant's manifest key, and daily manifests carrying the audit
//! chain's head, so a chain rewritten consistently to the end fails
//! against a manifest the tenant kept.

use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_contracts::lifecycle_api::{
    AuditAction, DeletionReason, HoldScope, KeptManifest, SignedManifest,
};
use callvault_contracts::metadata_api::{ErrorCode, TenantKeys};
use callvault_contracts::{Role, TenantId};
use callvault_metadata::audit::{self, AuditRecord};
use callvault_metadata::{ManifestKeys, MetadataService, evidence};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use serde_json::{Value, json};

use crate::deletion::lab::{Lab, MANIFEST_SECRET};
use crate::support::{Env, at, code, event, member};

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn verifies(public_key: &str, body: &str, signature: &str) -> bool {
    let public = BASE64.decode(public_key).expect("public key base64");
    let Ok(signature) = BASE64.decode(signature) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, &public)
        .verify(body.as_bytes(), &signature)
        .is_ok()
}

fn days(n: i64) -> DateTime<Utc> {
    at(0) + chrono::Duration::days(n)
}

fn nov(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, day, hour, 0, 0)
        .single()
        .expect("time")
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 11, day).expect("date")
}

/// A service that signs, with a clock the test sets.
fn signer(env: &Env, now: DateTime<Utc>) -> MetadataService {
    let now = Arc::new(Mutex::new(now));
    MetadataService::new(
        env.db.clone(),
        env.keys.clone() as Arc<dyn TenantKeys>,
        env.catalogue.clone(),
    )
    .with_manifest_keys(ManifestKeys::new(MANIFEST_SECRET.to_vec()))
    .with_clock(Arc::new(move || *now.lock().expect("clock")))
}

async fn append(env: &Env, tenant: TenantId, n: u32) {
    for i in 0..n {
        audit::append(
            &env.db,
            tenant,
            &member(Role::Supervisor, tenant),
            nov(14, 9) + chrono::Duration::seconds(i64::from(i)),
            AuditRecord {
                action: AuditAction::Search,
                target: None,
                reason: Some(format!("review {i}")),
                details: json!({"i": i, "filter": {"queue": "sales"}}),
            },
        )
        .await
        .expect("append");
    }
}

fn kept(manifest: &SignedManifest) -> KeptManifest {
    KeptManifest {
        body: manifest.body.clone(),
        signature: manifest.signature.clone(),
    }
}

/// What someone with write access to the database and time on their hands
/// does: changes entry `from` and recomputes every later hash and the
/// head, so the chain alone still verifies.
async fn rewrite_chain(env: &Env, tenant: TenantId, from: u64) {
    let mut entries = env.audit_entries(tenant).await;
    let start = usize::try_from(from - 1).expect("index");
    let mut prev = match start {
        0 => ZEROS.to_owned(),
        _ => entries[start - 1].hash.clone(),
    };
    for entry in entries.iter_mut().skip(start) {
        if entry.seq == from {
            entry.reason = Some("nothing to see".into());
        }
        entry.prev_hash = prev.clone();
        entry.hash = audit::entry_hash(entry);
        prev = entry.hash.clone();
        let update = Query::update()
            .table(Alias::new("audit_entries"))
            .value(Alias::new("reason"), entry.reason.clone())
            .value(Alias::new("prev_hash"), entry.prev_hash.clone())
            .value(Alias::new("hash"), entry.hash.clone())
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(Alias::new("seq")).eq(i64::try_from(entry.seq).expect("seq")))
            .to_owned();
        let result = env.db.execute(&update).await.expect("rewrite entry");
        assert_eq!(result.rows_affected(), 1);
    }
    let head = Query::update()
        .table(Alias::new("audit_heads"))
        .value(Alias::new("hash"), prev)
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .to_owned();
    env.db.execute(&head).await.expect("rewrite head");
    let alone = audit::verify_against(&env.db, tenant, &[])
        .await
        .expect("verify");
    assert_eq!(alone.first_bad_seq, None, "the rewrite is consistent");
}

async fn manifests_carry_the_audit_head_they_were_signed_with(env: Env) {
    let w = env.world().await;
    let svc = signer(&env, nov(16, 9));
    let auditor = member(Role::Auditor, w.a);
    // An empty chain: seq 0 and the genesis hash.
    let empty = svc
        .daily_manifest(&auditor, w.a, date(13))
        .await
        .expect("13");
    let body: Value = serde_json::from_str(&empty.body).expect("json");
    assert_eq!(body["audit_head"], json!({"seq": 0, "hash": ZEROS}));
    append(&env, w.a, 3).await;
    append(&env, w.b, 1).await;
    let manifest = svc
        .daily_manifest(&auditor, w.a, date(14))
        .await
        .expect("14");
    let body: Value = serde_json::from_str(&manifest.body).expect("json");
    let entries = env.audit_entries(w.a).await;
    assert_eq!(body["version"], 2);
    assert_eq!(body["kind"], "daily_manifest");
    assert_eq!(body["tenant_id"], w.a.0.to_string());
    assert_eq!(
        body["audit_head"],
        json!({"seq": 3, "hash": entries[2].hash})
    );
    assert!(
        body["signed_at"]
            .as_str()
            .expect("signed_at")
            .ends_with('Z')
    );
    let public = svc.manifest_public_key(w.a).await.expect("key");
    assert!(verifies(&public, &manifest.body, &manifest.signature));
    // Signed once: later entries don't move a stored manifest's head.
    append(&env, w.a, 2).await;
    let again = svc
        .daily_manifest(&auditor, w.a, date(14))
        .await
        .expect("14");
    assert_eq!(again, manifest);
    let verified = svc
        .verify_audit_chain(&auditor, w.a, &[kept(&manifest)])
        .await
        .expect("verify");
    assert_eq!(verified.first_bad_seq, None);
    assert_eq!(verified.mismatched_manifest, None);
    // The two stored manifests and the kept one.
    assert_eq!(verified.manifests_checked, 3);
    assert_eq!(verified.entries_checked, 5);
}

async fn a_chain_rewritten_to_the_end_fails_against_a_kept_manifest(env: Env) {
    let w = env.world().await;
    let svc = signer(&env, nov(20, 9));
    let auditor_a = member(Role::Auditor, w.a);
    append(&env, w.a, 3).await;
    let day14 = svc
        .daily_manifest(&auditor_a, w.a, date(14))
        .await
        .expect("14");
    append(&env, w.a, 2).await;
    let day15 = svc
        .daily_manifest(&auditor_a, w.a, date(15))
        .await
        .expect("15");
    append(&env, w.b, 4).await;
    let auditor_b = member(Role::Auditor, w.b);
    let b14 = svc
        .daily_manifest(&auditor_b, w.b, date(14))
        .await
        .expect("b14");

    // Rewritten from entry 2: the stored manifests already disagree.
    rewrite_chain(&env, w.a, 2).await;
    let verified = svc
        .verify_audit_chain(&auditor_a, w.a, &[])
        .await
        .expect("verify");
    assert_eq!(verified.mismatched_manifest, Some(date(14)));
    assert_eq!(verified.first_bad_seq, Some(1), "no manifest agreed before");
    assert_eq!(verified.entries_checked, 0);
    // The command line's check (stored manifests) says so too.
    let direct = audit::verify(&env.db, w.a).await.expect("verify");
    assert_eq!(direct.mismatched_manifest, Some(date(14)));

    // The operator hides the stored manifests as well: the chain alone
    // verifies, but not against the manifests the tenant kept.
    let hide = Query::delete()
        .from_table(Alias::new("daily_manifests"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(w.a.0))
        .to_owned();
    env.db.execute(&hide).await.expect("hide manifests");
    let alone = svc
        .verify_audit_chain(&auditor_a, w.a, &[])
        .await
        .expect("verify");
    assert_eq!(
        (alone.first_bad_seq, alone.mismatched_manifest),
        (None, None)
    );
    assert_eq!(alone.manifests_checked, 0);
    let against = svc
        .verify_audit_chain(&auditor_a, w.a, &[kept(&day15), kept(&day14)])
        .await
        .expect("verify");
    assert_eq!(against.mismatched_manifest, Some(date(14)));
    assert_eq!(against.first_bad_seq, Some(1));
    assert_eq!(against.manifests_checked, 1);

    // Tenant B's chain is its own: untouched by A's rewrite…
    let b = svc
        .verify_audit_chain(&auditor_b, w.b, &[kept(&b14)])
        .await
        .expect("b");
    assert_eq!((b.first_bad_seq, b.mismatched_manifest), (None, None));
    assert_eq!(b.manifests_checked, 2);
    // …and rewritten after its manifest's head, only the later part is
    // suspect: the manifest of the 14th (head 4) agrees, the 15th's not.
    append(&env, w.b, 2).await;
    let b15 = svc
        .daily_manifest(&auditor_b, w.b, date(15))
        .await
        .expect("b15");
    rewrite_chain(&env, w.b, 5).await;
    let b = svc
        .verify_audit_chain(&auditor_b, w.b, &[])
        .await
        .expect("b");
    assert_eq!(b.mismatched_manifest, Some(date(15)));
    assert_eq!((b.first_bad_seq, b.entries_checked), (Some(5), 4));
    assert_eq!(b.manifests_checked, 2);
    // A manifest whose head lies beyond a chain cut back and rewritten.
    let cut = Query::delete()
        .from_table(Alias::new("audit_entries"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(w.b.0))
        .and_where(Expr::col(Alias::new("seq")).gt(4i64))
        .to_owned();
    env.db.execute(&cut).await.expect("cut");
    let entries = env.audit_entries(w.b).await;
    let head = Query::update()
        .table(Alias::new("audit_heads"))
        .value(Alias::new("seq"), 4i64)
        .value(Alias::new("hash"), entries[3].hash.clone())
        .and_where(Expr::col(Alias::new("tenant_id")).eq(w.b.0))
        .to_owned();
    env.db.execute(&head).await.expect("head");
    let b = svc
        .verify_audit_chain(&auditor_b, w.b, &[kept(&b15)])
        .await
        .expect("b");
    assert_eq!(b.mismatched_manifest, Some(date(15)));
    assert_eq!(b.first_bad_seq, Some(5));
}

async fn kept_manifests_must_be_signed_daily_manifests_of_the_tenant(env: Env) {
    let w = env.world().await;
    let svc = signer(&env, nov(20, 9));
    append(&env, w.a, 2).await;
    let auditor_a = member(Role::Auditor, w.a);
    let auditor_b = member(Role::Auditor, w.b);
    let day14 = svc
        .daily_manifest(&auditor_a, w.a, date(14))
        .await
        .expect("14");
    let mut forged = kept(&day14);
    forged.body = forged.body.replace(r#""seq":2"#, r#""seq":1"#);
    assert_ne!(forged.body, day14.body);
    let mut bad_base64 = kept(&day14);
    bad_base64.signature = "not base64!".into();
    // Signed with the right key but not a manifest: a certificate body
    // can't be passed off as one.
    let keys = ManifestKeys::new(MANIFEST_SECRET.to_vec());
    let Value::Object(fields) =
        json!({"audit_head": {"seq": 0, "hash": ZEROS}, "date": "2023-11-14"})
    else {
        unreachable!()
    };
    let other_kind = evidence::sign(&keys, w.a, evidence::DELETION_CERTIFICATE, 2, fields);
    let other_kind = KeptManifest {
        body: other_kind.body,
        signature: other_kind.signature,
    };
    for kept_one in [forged, bad_base64, other_kind] {
        let outcome = svc.verify_audit_chain(&auditor_a, w.a, &[kept_one]).await;
        assert_eq!(code(outcome), ErrorCode::InvalidInput);
    }
    // A's manifest does not verify under B's key: refused for B's chain.
    let outcome = svc
        .verify_audit_chain(&auditor_b, w.b, &[kept(&day14)])
        .await;
    assert_eq!(code(outcome), ErrorCode::InvalidInput);
    // B's auditor can't verify A's chain, with or without manifests.
    for manifests in [vec![], vec![kept(&day14)]] {
        let outcome = svc.verify_audit_chain(&auditor_b, w.a, &manifests).await;
        assert_eq!(code(outcome), ErrorCode::Forbidden);
    }
    let too_many = vec![kept(&day14); 367];
    let outcome = svc.verify_audit_chain(&auditor_a, w.a, &too_many).await;
    assert_eq!(code(outcome), ErrorCode::InvalidInput);
    // Without signing keys the kept ones can't be checked.
    let outcome = env
        .svc
        .verify_audit_chain(&auditor_a, w.a, &[kept(&day14)])
        .await;
    assert_eq!(code(outcome), ErrorCode::Unavailable);
}

async fn deletion_certificates_are_signed_and_verify_with_the_public_key(env: Env) {
    let lab = Lab::new(&env).await;
    let bpo = env.bpo("bpo").await;
    let t = lab.tenant(bpo, "acme").await;
    let u = lab.tenant(bpo, "other").await;
    let officer = member(Role::ComplianceOfficer, t);
    let r1 = lab.record(&env, event(t, 0)).await;
    let r2 = lab.record(&env, event(t, 100)).await;
    let r3 = lab.record(&env, event(t, 200)).await;
    lab.set_clock(days(31));
    let single = lab
        .svc
        .delete_recording(&officer, t, r2, DeletionReason::Erasure, "art. 17".into())
        .await
        .expect("delete");
    lab.hold(&officer, t, HoldScope::Recordings { ids: vec![r3] })
        .await;
    let run = lab.run(t).await;
    let public = lab.svc.manifest_public_key(t).await.expect("key");
    let other = lab.svc.manifest_public_key(u).await.expect("key");

    let body = single.body.clone().expect("signed");
    let signature = single.signature.clone().expect("signed");
    assert!(verifies(&public, &body, &signature));
    assert!(!verifies(&other, &body, &signature));
    let content: Value = serde_json::from_str(&body).expect("json");
    let stamp = "2023-12-15T22:13:20.000000Z";
    assert_eq!(
        content,
        json!({
            "kind": "deletion_certificate",
            "version": 2,
            "tenant_id": t.0.to_string(),
            "certificate_id": single.id.to_string(),
            "started_at": stamp,
            "finished_at": stamp,
            "deleted": [{
                "recording_id": r2.0.to_string(),
                "sha256": "ab".repeat(32),
                "ingested_at": "2023-11-14T22:16:30.000000Z",
                "deleted_at": stamp,
                "reason": "erasure",
                "policy": "art. 17",
                "deleted_by": officer.subject,
            }],
            "held_back": [],
            "held_by_request": [],
            "failed": [],
        })
    );
    // Canonical JSON: sorted keys, no whitespace between tokens.
    assert!(body.starts_with(r#"{"certificate_id":"#), "{body}");
    assert!(!body.contains(": ") && !body.contains(", "), "{body}");

    let body = run.body.clone().expect("signed");
    assert!(verifies(
        &public,
        &body,
        run.signature.as_deref().expect("signed")
    ));
    let content: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(content["deleted"][0]["recording_id"], r1.0.to_string());
    assert_eq!(content["deleted"].as_array().expect("deleted").len(), 1);
    assert_eq!(content["held_back"], json!([r3.0.to_string()]));
    // Any change to the body breaks the signature.
    let tampered = body.replace(&r1.0.to_string(), &r3.0.to_string());
    assert!(!verifies(
        &public,
        &tampered,
        run.signature.as_deref().expect("signed")
    ));

    // Listed with the same body and signature; another tenant reaches
    // neither the list nor (by its key) a valid signature.
    let mut listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("list");
    listed.sort_by_key(|certificate| certificate.id);
    let mut made = vec![run.clone(), single.clone()];
    made.sort_by_key(|certificate| certificate.id);
    assert_eq!(listed, made);
    let officer_u = member(Role::ComplianceOfficer, u);
    assert_eq!(
        code(lab.svc.list_deletion_certificates(&officer_u, t).await),
        ErrorCode::Forbidden
    );
    let own = lab
        .svc
        .list_deletion_certificates(&officer_u, u)
        .await
        .expect("u list");
    assert!(own.is_empty());
}

async fn certificates_from_before_signing_are_signed_on_first_read(env: Env) {
    let lab = Lab::new(&env).await;
    let t = lab.tenant(env.bpo("bpo").await, "acme").await;
    let officer = member(Role::ComplianceOfficer, t);
    let r1 = lab.record(&env, event(t, 0)).await;
    lab.set_clock(days(31));
    let certificate = lab.run(t).await;
    assert_eq!(certificate.deleted.len(), 1);
    assert_eq!(certificate.deleted[0].recording_id, r1);
    // What the migration leaves a certificate made before signing existed:
    // finished, no body, no signature.
    let unsign = Query::update()
        .table(Alias::new("deletion_certificates"))
        .value(Alias::new("body"), Option::<String>::None)
        .value(Alias::new("signature"), Option::<String>::None)
        .and_where(Expr::col(Alias::new("id")).eq(certificate.id))
        .to_owned();
    env.db.execute(&unsign).await.expect("unsign");
    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("list");
    // Signed from the same rows, deterministically: the same body and
    // (Ed25519 being deterministic) the same signature.
    assert_eq!(listed, vec![certificate.clone()]);
    assert_eq!(
        lab.svc
            .list_deletion_certificates(&officer, t)
            .await
            .expect("again"),
        vec![certificate.clone()]
    );

    // A run that never finished (in progress, or crashed) is not signed.
    let unfinished = Query::update()
        .table(Alias::new("deletion_certificates"))
        .value(Alias::new("body"), Option::<String>::None)
        .value(Alias::new("signature"), Option::<String>::None)
        .value(Alias::new("finished"), false)
        .and_where(Expr::col(Alias::new("id")).eq(certificate.id))
        .to_owned();
    env.db.execute(&unfinished).await.expect("unfinish");
    let listed = lab
        .svc
        .list_deletion_certificates(&officer, t)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].body.clone(), listed[0].signature.clone()),
        (None, None)
    );
}

on_both_backends!(
    manifests_carry_the_audit_head_they_were_signed_with,
    a_chain_rewritten_to_the_end_fails_against_a_kept_manifest,
    kept_manifests_must_be_signed_daily_manifests_of_the_tenant,
    deletion_certificates_are_signed_and_verify_with_the_public_key,
    certificates_from_before_signing_are_signed_on_first_read,
);
