//! Fuzz harnesses over what storage parses from a request before it touches
//! a recording: the `Range` header and the signed URLs of playback, object
//! upload/discard and listing. The targets in `fuzz/fuzz_targets/` and the
//! regression test replaying the checked-in corpus
//! (`tests/it/fuzz_corpus.rs`) call these same functions.
//!
//! Not an API: hidden from the docs, nothing else calls it. Each function
//! takes arbitrary bytes and must return, whatever they are.

use actix_web::http::Uri;
use actix_web::web;
use callvault_auth::signed_url::{Grant, PlaybackTerms, UrlSigner};
use callvault_contracts::{RecordingId, TenantId};
use serde::Deserialize;

use crate::playback::{RangeRequest, parse_range};
use crate::{listing, upload};

/// The `Range` header against a body length: the first 8 bytes are the
/// length (big-endian), the rest the header value. Every part served must
/// be a non-empty slice of the body.
pub fn range(data: &[u8]) -> Option<RangeRequest> {
    let (len, value) = data.split_first_chunk::<8>()?;
    let len = u64::from_be_bytes(*len);
    let value = std::str::from_utf8(value).ok()?;
    let wanted = parse_range(Some(value), len);
    if let RangeRequest::Part(range) = &wanted {
        assert!(
            range.start < range.end && range.end <= len,
            "{value:?} on {len} bytes served {range:?}"
        );
    }
    Some(wanted)
}

/// The secret of [`signer`], shared by the seed URLs.
pub const SECRET: [u8; 32] = [0x42; 32];
/// The verifier's clock: seed URLs expire ten minutes after it.
pub const NOW: u64 = 1_700_000_000;

/// The signer of the seed URLs (`None` only if [`SECRET`] were too short).
pub fn signer() -> Option<UrlSigner> {
    UrlSigner::new(&SECRET).ok()
}

/// What the playback route takes from its query (the handler's own
/// extractor has the same fields and types).
#[derive(Deserialize)]
struct PlaybackQuery {
    exp: Option<u64>,
    sig: Option<String>,
    byte_rate: Option<String>,
    #[serde(rename = "as")]
    served_as: Option<String>,
}

/// A request target (`/v1/…?…`) as storage's routes parse it: playback,
/// object upload and discard, and the listing, each down to the signature
/// check. Returns whether the URL verified. Whatever a grant parsed to, its
/// own signature must verify (signing and checking agree on every input).
pub fn signed_url(data: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(data).ok()?;
    let uri: Uri = text.parse().ok()?;
    let request = actix_web::test::TestRequest::default()
        .uri(&uri.to_string())
        .to_http_request();
    let query = request.query_string();
    let segments: Vec<&str> = uri.path().split('/').collect();
    let signer = signer()?;
    let grants: Vec<(Grant, String)> = match segments.as_slice() {
        ["", "v1", "playback", tenant, recording] => {
            let (Ok(tenant), Ok(recording)) =
                (tenant.parse::<TenantId>(), recording.parse::<RecordingId>())
            else {
                return Some(false);
            };
            let Ok(query) = web::Query::<PlaybackQuery>::from_query(query) else {
                return Some(false);
            };
            let (Some(expires_at), Some(signature)) = (query.exp, query.sig.clone()) else {
                return Some(false);
            };
            let Ok(terms) =
                PlaybackTerms::from_query(query.byte_rate.as_deref(), query.served_as.as_deref())
            else {
                return Some(false);
            };
            let grant = terms.grant(&tenant.to_string(), &recording.to_string(), expires_at);
            vec![(grant, signature)]
        }
        ["", "v1", "objects", tenant, recording] => {
            let Ok(signed) = upload::parse(&request, (tenant.to_string(), recording.to_string()))
            else {
                return Some(false);
            };
            let mut grants = vec![(
                upload::discard_grant(signed.tenant, signed.recording, signed.expires_at),
                signed.signature.clone(),
            )];
            if let Some(key_ref) = signed.key_ref.as_deref().filter(|k| !k.is_empty()) {
                let grant = upload::upload_grant(
                    signed.tenant,
                    signed.recording,
                    key_ref,
                    signed.expires_at,
                );
                grants.push((grant, signed.signature.clone()));
            }
            grants
        }
        ["", "v1", "objects"] => {
            let Ok(listing) = listing::parse(&request) else {
                return Some(false);
            };
            let grant = listing::list_grant(
                listing.before,
                listing.after.as_ref(),
                listing.limit,
                listing.expires_at,
            );
            vec![(grant, listing.signature)]
        }
        _ => return Some(false),
    };
    let mut verified = false;
    for (grant, signature) in grants {
        verified |= signer.verify(&grant, &signature, NOW).is_ok();
        let own = signer.sign(&grant);
        let newline = grant.tenant.contains('\n') || grant.recording.contains('\n');
        assert!(
            newline || signer.verify(&grant, &own, grant.expires_at).is_ok(),
            "a grant does not verify under its own signature: {grant:?}"
        );
    }
    Some(verified)
}

/// Signed URLs of every kind, valid at [`NOW`] under [`signer`]: the seed
/// corpus of the `signed_url` target.
pub fn seed_urls() -> Vec<(String, String)> {
    let Some(signer) = signer() else {
        return Vec::new();
    };
    let tenant: TenantId = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
        .parse()
        .unwrap_or_else(|_| TenantId::new());
    let recording: RecordingId = "0b9f6a3e-5c1d-4e8f-9a2b-3c4d5e6f7a8b"
        .parse()
        .unwrap_or_else(|_| RecordingId::new());
    let expires_at = NOW + 600;
    let before =
        chrono::DateTime::from_timestamp(NOW as i64 - 3600, 123_456_000).unwrap_or_default();
    let after = crate::ListedRecord {
        created_at: before,
        tenant_id: tenant,
        recording_id: recording,
    };
    vec![
        (
            "playback".to_owned(),
            crate::playback::playback_path(&signer, tenant, recording, expires_at),
        ),
        (
            "playback-metered".to_owned(),
            callvault_auth::signed_url::playback_path(
                &signer,
                &tenant.to_string(),
                &recording.to_string(),
                &PlaybackTerms {
                    byte_rate: Some(16_000),
                    download: true,
                },
                expires_at,
            ),
        ),
        (
            "upload".to_owned(),
            upload::upload_path(
                &signer,
                tenant,
                recording,
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                expires_at,
            ),
        ),
        (
            "discard".to_owned(),
            upload::discard_path(&signer, tenant, recording, expires_at),
        ),
        (
            "listing".to_owned(),
            listing::list_path(&signer, before, None, 500, expires_at),
        ),
        (
            "listing-after".to_owned(),
            listing::list_path(&signer, before, Some(&after), 10, expires_at),
        ),
    ]
}
