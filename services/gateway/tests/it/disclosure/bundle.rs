//! The bundle download link: signed for `Operation::Bundle` only, on the
//! playback base unless given its own.

use callvault_auth::signed_url::{Grant, Operation, UrlError, UrlSigner};
use callvault_contracts::Role;
use callvault_gateway::{PlaybackLinks, StateError, bundle_path};
use serde_json::json;
use uuid::Uuid;

use super::{operation, variables};
use crate::support::disclosure::{BUNDLE, BUNDLE_SIZE};
use crate::support::keys::now;
use crate::support::{
    PLAYBACK_BASE, PLAYBACK_TTL, URL_SECRET, error_codes, spawn_app, tenant_user, token,
};

/// The exp and sig of a bundle URL for `tenant`'s `bundle` on `base`.
fn split_bundle_url<'u>(url: &'u str, base: &str, tenant: Uuid, bundle: Uuid) -> (u64, &'u str) {
    let prefix = format!("{base}/v1/disclosure/bundles/{tenant}/{bundle}?exp=");
    let rest = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected url {url}"));
    let (exp, sig) = rest.split_once("&sig=").expect("exp then sig");
    (exp.parse().expect("exp is unix seconds"), sig)
}

#[tokio::test]
async fn the_bundle_url_is_signed_for_bundles_only() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let officer = token(&tenant_user(Role::ComplianceOfficer, w.tenant_a));
    let request = Uuid::new_v4();
    let before = now();
    let answer = app
        .gql(
            Some(&officer),
            &operation("disclosureBundleUrl"),
            variables(&app, request),
        )
        .await;
    assert!(error_codes(&answer).is_empty(), "{answer}");
    let link = &answer["data"]["disclosureBundleUrl"];
    assert_eq!(link["fileName"], "disclosure-2025-0001.zip");
    assert_eq!(link["size"], json!(BUNDLE_SIZE));
    assert_eq!(link["sha256"], "cd".repeat(32));
    // Authorised (and audited by the service) for this request, once.
    let calls = app.disclosure.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].request["id"], json!(request));

    let url = link["url"].as_str().expect("a url");
    let (expires_at, sig) = split_bundle_url(url, PLAYBACK_BASE, w.tenant_a.0, BUNDLE);
    assert!(
        (before + PLAYBACK_TTL..=now() + PLAYBACK_TTL).contains(&expires_at),
        "{url}"
    );
    let expected_expiry =
        chrono::DateTime::from_timestamp(i64::try_from(expires_at).expect("fits"), 0)
            .expect("a time");
    let said: chrono::DateTime<chrono::Utc> = link["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .parse()
        .expect("rfc 3339");
    assert_eq!(said, expected_expiry);

    let bundle = Grant {
        operation: Operation::Bundle,
        tenant: w.tenant_a.0.to_string(),
        recording: BUNDLE.to_string(),
        expires_at,
    };
    assert_eq!(app.signer.verify(&bundle, sig, now()), Ok(()));
    assert_eq!(
        app.signer.verify(&bundle, sig, expires_at + 1),
        Err(UrlError::Expired)
    );
    // Not a playback URL, nor a bundle URL of another tenant.
    for other in [
        Grant {
            operation: Operation::Playback,
            ..bundle.clone()
        },
        Grant {
            tenant: w.tenant_b.0.to_string(),
            ..bundle.clone()
        },
    ] {
        assert_eq!(
            app.signer.verify(&other, sig, now()),
            Err(UrlError::BadSignature),
            "{other:?}"
        );
    }
}

#[test]
fn bundle_links_use_their_own_base_when_given_one() {
    let signer = UrlSigner::new(URL_SECRET).expect("signer");
    let (tenant, bundle) = (Uuid::new_v4(), Uuid::new_v4());
    let grant = Grant {
        operation: Operation::Bundle,
        tenant: tenant.to_string(),
        recording: bundle.to_string(),
        expires_at: 1_700_000_000,
    };
    assert_eq!(
        bundle_path(&signer, tenant, bundle, 1_700_000_000),
        format!(
            "/v1/disclosure/bundles/{tenant}/{bundle}?{}",
            signer.query(&grant)
        )
    );

    let links = PlaybackLinks::new(signer.clone(), "http://x:8080", 60).expect("links");
    // The embedded default: the playback base.
    let same = links.bundle_url_at(tenant, bundle, 100);
    assert_eq!(same.expires_at, 160);
    assert_eq!(
        split_bundle_url(&same.url, "http://x:8080", tenant, bundle).0,
        160
    );
    let own = links
        .clone()
        .with_bundle_base("https://disclosure.test/")
        .expect("bundle base");
    let url = own.bundle_url_at(tenant, bundle, 100).url;
    let (_, sig) = split_bundle_url(&url, "https://disclosure.test", tenant, bundle);
    assert_eq!(
        signer.verify(
            &Grant {
                expires_at: 160,
                ..grant
            },
            sig,
            100
        ),
        Ok(())
    );
    // Playback URLs stay on the playback base.
    assert!(
        own.url_at(tenant, bundle, 100)
            .starts_with("http://x:8080/v1/playback/")
    );
    assert_eq!(
        links.with_bundle_base("ftp://x").err(),
        Some(StateError::BundleBaseUrl)
    );
}
