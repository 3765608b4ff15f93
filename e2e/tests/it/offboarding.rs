//! A tenant's offboarding through the real binary (embedded mode: SQLite,
//! filesystem blobs, local keyring): uploads, the refusals that change
//! nothing, the export, the offboarding, then: the tenant's playback,
//! search and uploads refused, its master key gone from the keyring, a
//! certificate that verifies with the published key, and another tenant
//! untouched and unable to reach it.

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use callvault_e2e::{Callvault, graphql, mulaw_wav};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{call, create_bpo, onboard, search_until, upload};

const CALLER: &str = "+819011113333";

const EXPORT: &str = "mutation($t: UUID!) { exportTenant(tenantId: $t) { id tenantId sha256 sizeBytes recordings auditEntries content } }";
const OFFBOARD: &str = "mutation($t: UUID!, $c: String!) { offboardTenant(tenantId: $t, confirm: $c) { id tenantId bpoId requestedBy exportSha256 recordingsShredded keyRef keyDestroyed body signature algorithm } }";
const CERTIFICATE: &str =
    "query($t: UUID!) { offboardingCertificate(tenantId: $t) { id body signature } }";
const SEARCH: &str = "query($t: UUID!) { recordings(tenantId: $t, first: 10) { nodes { id } } }";

fn keyring(cv: &Callvault) -> String {
    std::fs::read_to_string(cv.data_dir.path().join("data").join("keyring.json")).expect("keyring")
}

#[tokio::test]
async fn an_offboarded_tenant_is_exported_shredded_and_certified() {
    let cv = Callvault::start_with(&[("CALLVAULT_LIFECYCLE__DELETION_INTERVAL_SECS", "0")]).await;
    let client = reqwest::Client::new();
    let admin = cv.admin_token(&[]);
    let bpo_x = create_bpo(&cv, &client, &admin, "Acme Contact Centers").await;
    let bpo_y = create_bpo(&cv, &client, &admin, "Other Contact Centers").await;
    let leaving = onboard(&cv, &client, &admin, &bpo_x, "Leaving Co").await;
    let staying = onboard(&cv, &client, &admin, &bpo_x, "Staying Co").await;
    let x_admin = cv.admin_token(&[
        "--role",
        "bpo_admin",
        "--bpo",
        &bpo_x,
        "--subject",
        "ops@acme.example",
    ]);
    let y_admin = cv.admin_token(&["--role", "bpo_admin", "--bpo", &bpo_y]);
    let member = |role: &str, tenant: &str| {
        cv.admin_token(&[
            "--role",
            role,
            "--tenant",
            tenant,
            "--subject",
            &format!("{role}@{tenant}"),
        ])
    };
    let supervisor = member("supervisor", &leaving.id);
    let compliance = member("compliance_officer", &leaving.id);
    let leaving_admin = member("tenant_admin", &leaving.id);
    let staying_admin = member("tenant_admin", &staying.id);
    let staying_supervisor = member("supervisor", &staying.id);
    let gql = |token: &str, query: &str, variables: Value| {
        let (client, base, token) = (client.clone(), cv.base_url.clone(), token.to_owned());
        let query = query.to_owned();
        async move { graphql(&client, &base, &token, &query, variables).await }
    };

    for (n, tenant) in [(0, &leaving), (1, &leaving), (2, &staying)] {
        let response = upload(
            &cv,
            &client,
            &tenant.key,
            &call(&format!("leave-{n}"), CALLER, "agent-7"),
            &mulaw_wav(5, n),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let found = search_until(&cv, &client, &supervisor, &leaving.id, json!({}), 2).await;
    search_until(&cv, &client, &staying_supervisor, &staying.id, json!({}), 1).await;
    let playback_url = found[0]["playbackUrl"].as_str().expect("url").to_owned();
    let played = client.get(&playback_url).send().await.expect("play");
    assert_eq!(played.status(), StatusCode::OK);
    let t = json!({ "t": leaving.id });
    let with_confirm = json!({ "t": leaving.id, "c": leaving.id });

    // Refused, and nothing changes: no export yet; the wrong roles; a legal
    // hold; the wrong confirmation.
    assert_eq!(
        gql(&x_admin, OFFBOARD, with_confirm.clone()).await,
        Err("EXPORT_REQUIRED".into())
    );
    for (who, token) in [
        ("tenant admin", &leaving_admin),
        ("compliance officer", &compliance),
        ("another BPO's admin", &y_admin),
        ("another tenant's admin", &staying_admin),
    ] {
        assert_eq!(
            gql(token, EXPORT, t.clone()).await,
            Err("FORBIDDEN".into()),
            "{who}"
        );
        assert_eq!(
            gql(token, OFFBOARD, with_confirm.clone()).await,
            Err("FORBIDDEN".into()),
            "{who}"
        );
        assert_eq!(
            gql(token, CERTIFICATE, t.clone()).await,
            Err("FORBIDDEN".into()),
            "{who}"
        );
    }
    let hold = gql(
        &compliance,
        "mutation($t: UUID!, $r: UUID!) { placeLegalHold(tenantId: $t, input: {caseName: \"case 3\", reason: \"dispute\", recordingIds: [$r]}) { id } }",
        json!({ "t": leaving.id, "r": found[0]["id"] }),
    )
    .await
    .expect("hold");
    gql(&x_admin, EXPORT, t.clone()).await.expect("export");
    assert_eq!(
        gql(&x_admin, OFFBOARD, with_confirm.clone()).await,
        Err("LEGAL_HOLD_ACTIVE".into())
    );
    gql(
        &compliance,
        "mutation($t: UUID!, $h: UUID!) { releaseLegalHold(tenantId: $t, id: $h, reason: \"settled\") { active } }",
        json!({ "t": leaving.id, "h": hold["placeLegalHold"]["id"] }),
    )
    .await
    .expect("release");
    assert!(keyring(&cv).contains(&format!("tenant/{}", leaving.id)));
    let played = client.get(&playback_url).send().await.expect("play");
    assert_eq!(
        played.status(),
        StatusCode::OK,
        "still playable after the refusals"
    );

    // The export: every recording with its number in clear, its digest.
    let export = gql(&x_admin, EXPORT, t.clone()).await.expect("export")["exportTenant"].clone();
    let content = export["content"].as_str().expect("content");
    let digest = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        content.as_bytes(),
    ));
    assert_eq!(export["sha256"], digest);
    assert_eq!(export["recordings"], 2);
    let recordings: Vec<Value> = content
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json line"))
        .filter(|line| line["type"] == "recording")
        .collect();
    assert_eq!(recordings.len(), 2);
    assert!(
        recordings
            .iter()
            .all(|line| line["recording"]["caller_number"] == CALLER)
    );
    let wrong = json!({ "t": leaving.id, "c": staying.id });
    assert_eq!(
        gql(&x_admin, OFFBOARD, wrong).await,
        Err("BAD_USER_INPUT".into())
    );

    // The offboarding.
    let certificate = gql(&x_admin, OFFBOARD, with_confirm.clone())
        .await
        .expect("offboard")["offboardTenant"]
        .clone();
    assert_eq!(certificate["tenantId"], leaving.id);
    assert_eq!(certificate["bpoId"], bpo_x);
    assert_eq!(certificate["requestedBy"], "ops@acme.example");
    assert_eq!(certificate["exportSha256"], digest);
    assert_eq!(certificate["recordingsShredded"], 2);
    assert_eq!(certificate["keyDestroyed"], true);
    assert_eq!(certificate["algorithm"], "Ed25519");

    // It verifies with the published key (no token needed).
    let published: Value = client
        .get(format!(
            "{}/v1/tenants/{}/manifest-key",
            cv.base_url, leaving.id
        ))
        .send()
        .await
        .expect("manifest key")
        .json()
        .await
        .expect("json");
    let public_key = BASE64
        .decode(published["public_key"].as_str().expect("key"))
        .expect("base64");
    let body = certificate["body"].as_str().expect("body");
    let signature = BASE64
        .decode(certificate["signature"].as_str().expect("sig"))
        .expect("base64");
    UnparsedPublicKey::new(&ED25519, &public_key)
        .verify(body.as_bytes(), &signature)
        .expect("the certificate verifies");
    let signed: Value = serde_json::from_str(body).expect("json body");
    assert_eq!(signed["tenant_id"], leaving.id);
    assert_eq!(signed["recordings_shredded"], 2);

    // The tenant is gone: playback, search, uploads refused; the key is out
    // of the keyring, so no copy of its objects decrypts.
    let gone = client.get(&playback_url).send().await.expect("play");
    assert_ne!(
        gone.status(),
        StatusCode::OK,
        "an offboarded recording played"
    );
    assert!(
        !keyring(&cv).contains(&format!("tenant/{}", leaving.id)),
        "the master key survived"
    );
    assert_eq!(
        gql(&supervisor, SEARCH, t.clone()).await,
        Err("TENANT_OFFBOARDED".into())
    );
    let refused = upload(
        &cv,
        &client,
        &leaving.key,
        &call("late", CALLER, "agent-7"),
        &mulaw_wav(5, 9),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused: Value = refused.json().await.expect("json error");
    assert_eq!(refused["error"]["code"], "tenant_offboarded");

    // The certificate is read again by the platform and the BPO, not by the
    // other tenant nor another BPO.
    for token in [&admin, &x_admin] {
        let read = gql(token, CERTIFICATE, t.clone())
            .await
            .expect("certificate");
        assert_eq!(read["offboardingCertificate"]["body"], certificate["body"]);
    }
    for token in [&staying_admin, &y_admin, &leaving_admin] {
        assert_eq!(
            gql(token, CERTIFICATE, t.clone()).await,
            Err("FORBIDDEN".into())
        );
    }
    let again = gql(&admin, OFFBOARD, with_confirm)
        .await
        .expect("offboard again");
    assert_eq!(again["offboardTenant"]["body"], certificate["body"]);

    // The other tenant is untouched.
    assert!(keyring(&cv).contains(&format!("tenant/{}", staying.id)));
    let response = upload(
        &cv,
        &client,
        &staying.key,
        &call("stay-2", CALLER, "agent-7"),
        &mulaw_wav(5, 7),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let kept = search_until(&cv, &client, &staying_supervisor, &staying.id, json!({}), 2).await;
    let url = kept[0]["playbackUrl"].as_str().expect("url");
    let played = client.get(url).send().await.expect("play");
    assert_eq!(played.status(), StatusCode::OK);
}
