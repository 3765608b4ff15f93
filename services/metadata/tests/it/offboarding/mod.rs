//! Tenant offboarding through the real storage service and keyring:
//! export, freeze, crypto-shred, certificate; the refusals that change
//! nothing; an interrupted offboarding that resumes; who may do it.

pub mod lab;

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_contracts::lifecycle_api::{HoldScope, NewLegalHold};
use callvault_contracts::metadata_api::{ErrorCode, PageRequest, RecordingFilter};
use callvault_contracts::{Actor, Role, TenantId};
use callvault_keys::KeyProvider;
use sea_orm::Condition;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

use self::lab::{Lab, failing_storage};
use crate::support::{Env, bpo_admin, code, event, member, platform};

const ROLES: [Role; 5] = [
    Role::TenantAdmin,
    Role::Supervisor,
    Role::ComplianceOfficer,
    Role::Agent,
    Role::Auditor,
];

async fn search(lab: &Lab, tenant: TenantId) -> Result<usize, ErrorCode> {
    lab.svc
        .search_recordings(
            &member(Role::TenantAdmin, tenant),
            tenant,
            RecordingFilter::default(),
            PageRequest {
                first: 50,
                after: None,
            },
        )
        .await
        .map(|page| page.items.len())
        .map_err(|err| err.code)
}

/// Nothing of the tenant changed: its recordings are catalogued and
/// readable, its key is there, and it is not frozen.
async fn assert_untouched(
    lab: &Lab,
    tenant: TenantId,
    recordings: &[callvault_contracts::RecordingId],
) {
    assert!(lab.has_key(tenant).await, "{tenant} lost its key");
    for id in recordings {
        lab.assert_readable(tenant, *id).await;
    }
    assert_eq!(search(lab, tenant).await, Ok(recordings.len()));
}

fn verifies(public_key: &str, body: &str, signature: &str) -> bool {
    let key = BASE64.decode(public_key).expect("base64 key");
    let signature = BASE64.decode(signature).expect("base64 signature");
    UnparsedPublicKey::new(&ED25519, key)
        .verify(body.as_bytes(), &signature)
        .is_ok()
}

async fn offboarding_shreds_everything_and_signs_a_certificate(env: Env) {
    let lab = Lab::new(&env).await;
    let w = env.world().await;
    let b = w.b;
    // The world's tenants were onboarded through the env's fake keys: give
    // B a keyring key, as the binary would have.
    lab.keyring
        .create_tenant_key(&b.to_string())
        .await
        .expect("key");
    let a = lab
        .svc
        .onboard_tenant(&platform(), crate::support::onboard(w.x, "leaving"))
        .await
        .expect("onboard")
        .id;
    let r1 = lab.record(event(a, 0)).await;
    let r2 = lab.record(event(a, 100)).await;
    let kept = lab.record(event(b, 0)).await;
    let key = lab
        .svc
        .create_api_key(&member(Role::TenantAdmin, a), a, "pbx".into())
        .await
        .expect("api key");
    lab.svc
        .create_user(
            &platform(),
            callvault_contracts::metadata_api::NewUser {
                subject: "qa@leaving.example".into(),
                role: Role::Supervisor,
                tenant_id: Some(a),
                bpo_id: None,
                agent_id: None,
            },
        )
        .await
        .expect("user");
    // A released case hold on a phone number: its encrypted number outlives
    // the release, and must go with the tenant.
    let officer = member(Role::ComplianceOfficer, a);
    let hold = lab
        .svc
        .place_hold(
            &officer,
            a,
            NewLegalHold {
                case_name: "Case 9".into(),
                reason: "dispute".into(),
                scope: HoldScope::Filter {
                    filter: RecordingFilter {
                        phone_number: Some("+1 201 555 0100".into()),
                        ..RecordingFilter::default()
                    },
                },
            },
        )
        .await
        .expect("hold");
    lab.svc
        .release_hold(&officer, a, hold.id, "settled".into())
        .await
        .expect("release");

    let export = lab.svc.export_tenant(&platform(), a).await.expect("export");
    assert_eq!(export.tenant_id, a);
    assert_eq!(export.recordings, 2);
    let lines: Vec<serde_json::Value> = export
        .content
        .lines()
        .map(|line| serde_json::from_str(line).expect("a json line"))
        .collect();
    assert_eq!(lines[0]["type"], "tenant");
    let recordings: Vec<_> = lines.iter().filter(|l| l["type"] == "recording").collect();
    assert_eq!(recordings.len(), 2);
    for line in &recordings {
        assert_eq!(line["recording"]["caller_number"], "+1 201 555 0100");
        assert_eq!(line["recording"]["tenant_id"], a.0.to_string());
    }
    let audit_lines = lines.iter().filter(|l| l["type"] == "audit_entry").count();
    assert_eq!(audit_lines as u64, export.audit_entries);
    assert!(
        export.audit_entries >= 3,
        "role change, hold placed and released"
    );
    let digest = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        export.content.as_bytes(),
    ));
    assert_eq!(export.sha256, digest);
    assert_eq!(export.size_bytes, export.content.len() as u64);

    let started = chrono::Utc::now();
    let certificate = lab
        .svc
        .offboard_tenant(&bpo_admin(w.x), a, &a.to_string())
        .await
        .expect("offboard");
    assert_eq!(certificate.tenant_id, a);
    assert_eq!(certificate.bpo_id, w.x);
    assert_eq!(certificate.recordings_shredded, 2);
    assert_eq!(certificate.export_sha256, export.sha256);
    assert_eq!(certificate.key_ref, format!("tenant/{a}"));
    assert!(certificate.key_destroyed);
    assert_eq!(certificate.requested_by, bpo_admin(w.x).subject);
    assert!(certificate.finished_at >= certificate.started_at);
    assert!(certificate.started_at >= started - chrono::Duration::seconds(1));
    let body: serde_json::Value = serde_json::from_str(&certificate.body).expect("json body");
    assert_eq!(body["tenant_id"], a.0.to_string());
    assert_eq!(body["export_sha256"], export.sha256);
    assert_eq!(body["recordings_shredded"], 2);
    assert_eq!(body["key_destroyed"], true);
    let public_key = lab.svc.manifest_public_key(a).await.expect("public key");
    assert!(verifies(
        &public_key,
        &certificate.body,
        &certificate.signature
    ));
    let tampered = certificate
        .body
        .replace("\"recordings_shredded\":2", "\"recordings_shredded\":1");
    assert!(!verifies(&public_key, &tampered, &certificate.signature));
    let other_key = lab.svc.manifest_public_key(b).await.expect("public key");
    assert!(!verifies(
        &other_key,
        &certificate.body,
        &certificate.signature
    ));

    // Shredded, key gone, frozen.
    lab.assert_shredded(a, r1).await;
    lab.assert_shredded(a, r2).await;
    assert!(!lab.has_key(a).await, "the tenant's master key survived");
    assert_eq!(search(&lab, a).await, Err(ErrorCode::TenantOffboarded));
    assert_eq!(
        code(
            lab.svc
                .get_recording(&member(Role::TenantAdmin, a), a, r1)
                .await
        ),
        ErrorCode::TenantOffboarded
    );
    assert_eq!(
        code(lab.svc.verify_api_key(&key.secret).await),
        ErrorCode::TenantOffboarded
    );
    assert_eq!(
        code(lab.svc.export_tenant(&platform(), a).await),
        ErrorCode::TenantOffboarded
    );
    // A late ingest event (an upload that raced the freeze) is refused.
    let late = callvault_bus::Message::new(&event(a, 500)).expect("message");
    use callvault_bus::EventHandler;
    assert!(lab.consumer.handle(late).await.is_err());
    assert_eq!(
        rows(&env, "catalogue_keys", a, None).await,
        0,
        "no fresh catalogue key for an offboarded tenant"
    );

    // Nothing personal is left of it in the database.
    assert_eq!(
        rows(&env, "legal_holds", a, None).await,
        1,
        "the hold row stays"
    );
    for table in ["recordings", "users", "recording_tags"] {
        assert_eq!(rows(&env, table, a, None).await, 0, "{table} of {a}");
    }
    assert_eq!(rows(&env, "recording_tombstones", a, None).await, 2);
    assert_eq!(rows(&env, "recording_tombstones", b, None).await, 0);
    let phone = Condition::any()
        .add(Expr::col(Alias::new("filter_phone_ciphertext")).is_not_null())
        .add(Expr::col(Alias::new("filter_phone_index")).is_not_null());
    assert_eq!(rows(&env, "legal_holds", a, Some(phone)).await, 0);

    // The certificate: readable by the platform and the tenant's BPO,
    // verifiable, and the same on a repeated offboarding.
    for reader in [platform(), bpo_admin(w.x)] {
        let read = lab
            .svc
            .offboarding_certificate(&reader, a)
            .await
            .expect("certificate");
        assert_eq!(read, certificate);
    }
    let again = lab
        .svc
        .offboard_tenant(&platform(), a, &a.to_string())
        .await
        .expect("offboard again");
    assert_eq!(again, certificate);

    // The other tenant is untouched, and can neither offboard A nor read
    // its certificate.
    assert_untouched(&lab, b, &[kept]).await;
    for role in ROLES {
        let outsider = member(role, b);
        assert_eq!(
            code(lab.svc.offboarding_certificate(&outsider, a).await),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(lab.svc.offboard_tenant(&outsider, a, &a.to_string()).await),
            ErrorCode::Forbidden
        );
    }
    assert_eq!(
        code(lab.svc.offboarding_certificate(&bpo_admin(w.y), a).await),
        ErrorCode::Forbidden
    );
    // Its own members can't read it either: offboarding is the operator's.
    assert_eq!(
        code(
            lab.svc
                .offboarding_certificate(&member(Role::TenantAdmin, a), a)
                .await
        ),
        ErrorCode::Forbidden
    );
    // Tenant settings stay readable (the BPO's list, the certificate's key).
    lab.svc
        .get_tenant(&platform(), a)
        .await
        .expect("tenant row kept");
}

/// Rows of `table` of the tenant (and matching `condition`), with the
/// tenant id bound as the backend stores it (a blob on SQLite).
async fn rows(env: &Env, table: &str, tenant: TenantId, condition: Option<Condition>) -> usize {
    use sea_orm::ConnectionTrait;
    let mut select = Query::select()
        .expr(Expr::val(1))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .to_owned();
    if let Some(condition) = condition {
        select.cond_where(condition);
    }
    env.db.query_all(&select).await.expect("select").len()
}

async fn refusals_change_nothing(env: Env) {
    let lab = Lab::new(&env).await;
    let w = env.world().await;
    let a = lab
        .svc
        .onboard_tenant(&platform(), crate::support::onboard(w.x, "staying"))
        .await
        .expect("onboard")
        .id;
    let r1 = lab.record(event(a, 0)).await;
    let confirm = a.to_string();

    // No export yet.
    let refused = lab.svc.offboard_tenant(&platform(), a, &confirm).await;
    assert_eq!(code(refused), ErrorCode::ExportRequired);
    assert_untouched(&lab, a, &[r1]).await;

    // Exported, but the tenant changed since (a new recording).
    lab.svc.export_tenant(&platform(), a).await.expect("export");
    let r2 = lab.record(event(a, 100)).await;
    let refused = lab.svc.offboard_tenant(&platform(), a, &confirm).await;
    assert_eq!(code(refused), ErrorCode::ExportRequired);
    assert_untouched(&lab, a, &[r1, r2]).await;

    // Exported, but the audit trail grew since (the search above).
    lab.svc.export_tenant(&platform(), a).await.expect("export");
    search(&lab, a).await.expect("search");
    let refused = lab.svc.offboard_tenant(&platform(), a, &confirm).await;
    assert_eq!(code(refused), ErrorCode::ExportRequired);

    // A legal hold is active.
    let officer = member(Role::ComplianceOfficer, a);
    let hold = lab
        .svc
        .place_hold(
            &officer,
            a,
            NewLegalHold {
                case_name: "Case 1".into(),
                reason: "litigation".into(),
                scope: HoldScope::Recordings { ids: vec![r1] },
            },
        )
        .await
        .expect("hold");
    lab.svc.export_tenant(&platform(), a).await.expect("export");
    let refused = lab.svc.offboard_tenant(&platform(), a, &confirm).await;
    assert_eq!(code(refused), ErrorCode::LegalHoldActive);
    assert_untouched(&lab, a, &[r1, r2]).await;

    // The wrong confirmation, and none.
    lab.svc
        .release_hold(&officer, a, hold.id, "settled".into())
        .await
        .expect("release");
    lab.svc.export_tenant(&platform(), a).await.expect("export");
    for wrong in [String::new(), w.b.to_string(), "yes".to_owned()] {
        let refused = lab.svc.offboard_tenant(&platform(), a, &wrong).await;
        assert_eq!(code(refused), ErrorCode::InvalidInput);
    }

    // The wrong roles, and another BPO's admin.
    let mut outsiders: Vec<Actor> = ROLES.iter().map(|role| member(*role, a)).collect();
    outsiders.push(bpo_admin(w.y));
    for actor in &outsiders {
        assert_eq!(
            code(lab.svc.export_tenant(actor, a).await),
            ErrorCode::Forbidden,
            "{:?}",
            actor.role
        );
        assert_eq!(
            code(lab.svc.offboard_tenant(actor, a, &confirm).await),
            ErrorCode::Forbidden,
            "{:?}",
            actor.role
        );
        assert_eq!(
            code(lab.svc.offboarding_certificate(actor, a).await),
            ErrorCode::Forbidden,
            "{:?}",
            actor.role
        );
    }
    // None of this froze it; the export made before the refusals is still
    // current (refusals audit nothing), so offboarding now goes through.
    assert_untouched(&lab, a, &[r1, r2]).await;
    lab.svc.export_tenant(&platform(), a).await.expect("export");
    assert_eq!(
        code(lab.svc.offboarding_certificate(&platform(), a).await),
        ErrorCode::NotFound
    );
    let certificate = lab
        .svc
        .offboard_tenant(&platform(), a, &format!(" {confirm} "))
        .await
        .expect("offboard");
    assert_eq!(certificate.recordings_shredded, 2);
}

async fn an_interrupted_offboarding_stays_frozen_and_resumes(env: Env) {
    let lab = Lab::new(&env).await;
    let w = env.world().await;
    let a = lab
        .svc
        .onboard_tenant(&platform(), crate::support::onboard(w.x, "leaving"))
        .await
        .expect("onboard")
        .id;
    let r1 = lab.record(event(a, 0)).await;
    lab.svc.export_tenant(&platform(), a).await.expect("export");

    let broken = lab.service(Some(failing_storage().await));
    let failed = broken.offboard_tenant(&platform(), a, &a.to_string()).await;
    assert_eq!(code(failed), ErrorCode::Unavailable);
    // Frozen, not half alive: nothing reads or changes it, there is no
    // certificate yet, and its audio waits for the shred.
    assert_eq!(search(&lab, a).await, Err(ErrorCode::TenantOffboarded));
    assert_eq!(
        code(lab.svc.offboarding_certificate(&platform(), a).await),
        ErrorCode::NotFound
    );
    lab.assert_readable(a, r1).await;

    // The timer's pass resumes it, with no export needed any more.
    lab.svc.resume_offboardings().await;
    let certificate = lab
        .svc
        .offboarding_certificate(&platform(), a)
        .await
        .expect("certificate after the resume");
    assert_eq!(certificate.recordings_shredded, 1);
    assert!(certificate.key_destroyed);
    lab.assert_shredded(a, r1).await;
    assert!(!lab.has_key(a).await);
    // Calling again answers the same certificate.
    let again = lab
        .svc
        .offboard_tenant(&bpo_admin(w.x), a, &a.to_string())
        .await
        .expect("offboard again");
    assert_eq!(again, certificate);
}

on_both_backends!(
    offboarding_shreds_everything_and_signs_a_certificate,
    refusals_change_nothing,
    an_interrupted_offboarding_stays_frozen_and_resumes,
);
