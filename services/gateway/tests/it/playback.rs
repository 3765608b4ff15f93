//! The playback URL: signed like the storage service expects, and short-lived.

use callvault_auth::signed_url::{self, Grant, Operation, PlaybackTerms, UrlError};
use callvault_contracts::lifecycle_api::Access;
use callvault_contracts::{RecordingId, Role, TenantId};
use callvault_gateway::{
    PLAYBACK_PATH_FORMAT, PlaybackLinks, StateError, byte_rate, playback_path,
};
use serde_json::json;
use uuid::Uuid;

use crate::support::keys::now;
use crate::support::{PLAYBACK_BASE, PLAYBACK_TTL, URL_SECRET, spawn_app, tenant_user, token};

#[tokio::test]
async fn recording_playback_url_verifies_and_expires_after_the_ttl() {
    let app = spawn_app().await;
    let w = &app.metadata.world;
    let supervisor = token(&tenant_user(Role::Supervisor, w.tenant_a));
    let before = now();
    let answer = app
        .gql(
            Some(&supervisor),
            "query($t: UUID!, $r: UUID!) { recording(tenantId: $t, id: $r) { playbackUrl } }",
            json!({ "t": w.tenant_a.0, "r": w.rec_a1.0 }),
        )
        .await;
    let url = answer["data"]["recording"]["playbackUrl"]
        .as_str()
        .expect("playback url")
        .to_owned();

    // The recording's byte rate is signed in (storage meters what it
    // serves with it), then the expiry and the signature.
    let prefix = format!(
        "{PLAYBACK_BASE}/v1/playback/{}/{}?byte_rate=",
        w.tenant_a.0, w.rec_a1.0
    );
    let rest = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected url {url}"));
    let (rate, rest) = rest.split_once("&exp=").expect("byte_rate then exp");
    let (exp, sig) = rest.split_once("&sig=").expect("exp then sig");
    let rate: u64 = rate.parse().expect("byte_rate is a number");
    assert!(rate > 0, "{url}");
    let expires_at: u64 = exp.parse().expect("exp is unix seconds");
    assert!(
        (before + PLAYBACK_TTL..=now() + PLAYBACK_TTL).contains(&expires_at),
        "{url}"
    );

    let terms = PlaybackTerms {
        byte_rate: Some(rate),
        download: false,
    };
    let grant = terms.grant(
        &w.tenant_a.0.to_string(),
        &w.rec_a1.0.to_string(),
        expires_at,
    );
    // Without its terms (a forged rate, or none) the signature fails.
    let bare = Grant {
        operation: Operation::Playback,
        tenant: w.tenant_a.0.to_string(),
        recording: w.rec_a1.0.to_string(),
        expires_at,
    };
    assert_eq!(
        app.signer.verify(&bare, sig, now()),
        Err(UrlError::BadSignature)
    );
    assert_eq!(app.signer.verify(&grant, sig, now()), Ok(()));
    assert_eq!(
        app.signer.verify(&grant, sig, expires_at + 1),
        Err(UrlError::Expired)
    );
    // It is a playback capability for this one recording only.
    let upload = Grant {
        operation: Operation::Upload,
        ..grant.clone()
    };
    assert_eq!(
        app.signer.verify(&upload, sig, now()),
        Err(UrlError::BadSignature)
    );
    let other = terms.grant(
        &w.tenant_a.0.to_string(),
        &w.rec_a2.0.to_string(),
        expires_at,
    );
    assert_eq!(
        app.signer.verify(&other, sig, now()),
        Err(UrlError::BadSignature)
    );
}

#[test]
fn playback_path_matches_the_storage_service() {
    // The storage service builds (and checks) this path in
    // services/storage/src/playback.rs. The gateway may not depend on that
    // crate, so the format is compared at the source level.
    let source_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../storage/src/playback.rs");
    let source = std::fs::read_to_string(source_path).expect("storage playback source");
    let start = source
        .find("pub fn playback_path(")
        .expect("storage has playback_path");
    let body = &source[start..];
    let body = &body[..body.find("\n}").expect("end of fn")];
    assert!(
        body.contains(&format!("format!({PLAYBACK_PATH_FORMAT})")),
        "storage's playback_path changed:\n{body}"
    );
    for field in [
        "operation: Operation::Playback",
        "tenant: tenant.to_string()",
        "recording: recording.to_string()",
        "expires_at,",
    ] {
        assert!(
            body.contains(field),
            "storage's grant changed ({field}):\n{body}"
        );
    }

    let signer = callvault_auth::signed_url::UrlSigner::new(URL_SECRET).expect("signer");
    let (tenant, recording) = (Uuid::new_v4(), Uuid::new_v4());
    let grant = Grant {
        operation: Operation::Playback,
        tenant: tenant.to_string(),
        recording: recording.to_string(),
        expires_at: 1_700_000_000,
    };
    assert_eq!(
        playback_path(&signer, tenant, recording, 1_700_000_000),
        format!("/v1/playback/{tenant}/{recording}?{}", signer.query(&grant))
    );
}

#[test]
fn playback_links_refuse_bad_settings() {
    let signer = callvault_auth::signed_url::UrlSigner::new(URL_SECRET).expect("signer");
    assert_eq!(
        PlaybackLinks::new(signer.clone(), "ftp://x", 300).err(),
        Some(StateError::PlaybackBaseUrl)
    );
    assert!(PlaybackLinks::new(signer.clone(), "http://x", 0).is_err());
    assert!(PlaybackLinks::new(signer.clone(), "http://x", 5 * 3600).is_err());
    let links = PlaybackLinks::new(signer, "http://x:8080/", 60).expect("links");
    let url = links.url_at(Uuid::nil(), Uuid::nil(), 100);
    assert!(url.starts_with("http://x:8080/v1/playback/"), "{url}");
    assert!(url.contains("exp=160&"), "{url}");
}

#[test]
fn recording_urls_sign_the_byte_rate_and_the_download() {
    let signer = callvault_auth::signed_url::UrlSigner::new(URL_SECRET).expect("signer");
    let links = PlaybackLinks::new(signer.clone(), "http://x:8080/", 60).expect("links");
    // 976,044 bytes over 61 s: 16,000.7 bytes a second.
    let recording =
        crate::support::metadata::recording(TenantId::new(), RecordingId::new(), "agent-1");
    let (tenant, id) = (recording.tenant_id.to_string(), recording.id.to_string());
    for (access, download) in [(Access::Playback, false), (Access::Download, true)] {
        let url = links.recording_url_at(&recording, access, 100);
        let terms = PlaybackTerms {
            byte_rate: Some(16_001),
            download,
        };
        // Exactly the URL storage checks (libs/auth builds both sides).
        assert_eq!(
            url,
            format!(
                "http://x:8080{}",
                signed_url::playback_path(&signer, &tenant, &id, &terms, 160)
            )
        );
        let (_, sig) = url.rsplit_once("&sig=").expect("a signature");
        assert_eq!(
            signer.verify(&terms.grant(&tenant, &id, 160), sig, 100),
            Ok(())
        );
        // Without its terms (or with others) it is no URL at all.
        let stripped = PlaybackTerms::default().grant(&tenant, &id, 160);
        assert_eq!(
            signer.verify(&stripped, sig, 100),
            Err(UrlError::BadSignature)
        );
    }
    // A recording whose duration the catalogue doesn't know: no byte rate
    // (storage serves it unmetered).
    let mut unknown = recording.clone();
    unknown.duration_ms = 0;
    let url = links.recording_url_at(&unknown, Access::Playback, 100);
    assert!(!url.contains("byte_rate="), "{url}");
    assert!(
        url.contains(&format!("/v1/playback/{tenant}/{id}?exp=160&")),
        "{url}"
    );
}

#[test]
fn byte_rates_are_rounded_and_never_zero() {
    assert_eq!(byte_rate(8_000, 1_000), Some(8_000));
    assert_eq!(byte_rate(8_044, 1_000), Some(8_044));
    assert_eq!(byte_rate(16_001, 2_000), Some(8_001));
    assert_eq!(byte_rate(16_000, 2_001), Some(7_996));
    assert_eq!(byte_rate(1, 3_600_000), Some(1));
    assert_eq!(byte_rate(u64::MAX, 1), Some(u64::MAX));
    assert_eq!(byte_rate(0, 1_000), None);
    assert_eq!(byte_rate(1_000, 0), None);
}
