//! Short-lived signed URLs for audio transfers (and disclosure bundles).
//!
//! Audio never crosses the bus: the gateway hands a client a URL naming the
//! operation, the tenant, the recording and an expiry, signed with
//! HMAC-SHA256 under a secret it shares with the storage and ingestion
//! services. Those services check the signature and the expiry and nothing
//! else, so a URL is a capability: whoever holds it may do exactly that one
//! thing until it expires.
//!
//! A playback URL may also carry [`PlaybackTerms`] (the recording's byte
//! rate, a download), signed with its grant so a client can't change them.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What a signed URL allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Playback,
    Upload,
    /// Removing a recording ingestion gave up on. Its own operation so that
    /// a URL able to write a recording can never also delete one.
    Discard,
    /// Listing the stored objects of every tenant, for ingestion's
    /// reconciler. Its own operation so that no URL granted for one
    /// recording can enumerate others, and no listing URL can touch one.
    Reconcile,
    /// Downloading a data-subject request's export bundle from the
    /// disclosure service (the grant's `recording` carries the bundle id).
    /// Its own operation so that no playback URL can fetch a bundle, and no
    /// bundle URL can play a recording.
    Bundle,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Playback => "playback",
            Operation::Upload => "upload",
            Operation::Discard => "discard",
            Operation::Reconcile => "reconcile",
            Operation::Bundle => "bundle",
        }
    }
}

/// The signed part of a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub operation: Operation,
    pub tenant: String,
    pub recording: String,
    /// Unix seconds after which the URL is refused.
    pub expires_at: u64,
}

/// What a playback URL says about the response it asks for, beyond its
/// grant: signed with it, so a client can't change them.
///
/// The terms ride in the grant's `recording` field after the recording id
/// (`<id>|byte_rate=<n>|as=download`), the way an upload grant carries its
/// key reference. Without terms the field is the bare id, exactly what was
/// signed before terms existed: those URLs verify unchanged (and say
/// nothing about the recording), while a URL signed with terms verifies
/// neither without them nor with others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlaybackTerms {
    /// The recording's audio bytes per second, which the signer knew from
    /// the catalogue: storage meters what it serves in seconds of audio.
    pub byte_rate: Option<u64>,
    /// Asked for as a download (a copy to keep), not a stream to listen to.
    pub download: bool,
}

impl PlaybackTerms {
    /// The playback grant of `recording` of `tenant` under these terms.
    pub fn grant(&self, tenant: &str, recording: &str, expires_at: u64) -> Grant {
        let mut signed = recording.to_owned();
        if let Some(byte_rate) = self.byte_rate {
            signed.push_str(&format!("|byte_rate={byte_rate}"));
        }
        if self.download {
            signed.push_str("|as=download");
        }
        Grant {
            operation: Operation::Playback,
            tenant: tenant.to_owned(),
            recording: signed,
            expires_at,
        }
    }

    /// The query parameters carrying the terms, each followed by `&`, to
    /// put before the signature's (`exp=…&sig=…`); empty without terms.
    pub fn query(&self) -> String {
        let mut query = String::new();
        if let Some(byte_rate) = self.byte_rate {
            query.push_str(&format!("byte_rate={byte_rate}&"));
        }
        if self.download {
            query.push_str("as=download&");
        }
        query
    }

    /// The terms a URL's `byte_rate` and `as` parameters state (not yet
    /// verified: check the grant they make). `as` is `download` or absent.
    pub fn from_query(byte_rate: Option<&str>, served_as: Option<&str>) -> Result<Self, UrlError> {
        let byte_rate = byte_rate
            .map(|value| {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(UrlError::Malformed("byte_rate is not a decimal number"));
                }
                value
                    .parse::<u64>()
                    .map_err(|_| UrlError::Malformed("byte_rate is out of range"))
            })
            .transpose()?;
        let download = match served_as {
            None => false,
            Some("download") => true,
            Some(_) => return Err(UrlError::Malformed("as is not `download`")),
        };
        Ok(Self {
            byte_rate,
            download,
        })
    }
}

/// The path and query of a playback URL on the storage service:
/// `/v1/playback/{tenant}/{recording}?[byte_rate=…&][as=download&]exp=…&sig=…`.
/// Without terms, the URL every signer built before terms existed.
pub fn playback_path(
    signer: &UrlSigner,
    tenant: &str,
    recording: &str,
    terms: &PlaybackTerms,
    expires_at: u64,
) -> String {
    let grant = terms.grant(tenant, recording, expires_at);
    format!(
        "/v1/playback/{tenant}/{recording}?{}{}",
        terms.query(),
        signer.query(&grant)
    )
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("signed url has expired")]
    Expired,
    #[error("signed url signature does not verify")]
    BadSignature,
    #[error("signed url is malformed: {0}")]
    Malformed(&'static str),
}

/// The longest lifetime a URL may be signed for: long enough to listen to
/// a long call without re-issuing, short enough that a leaked URL dies soon.
pub const MAX_LIFETIME_SECS: u64 = 4 * 3600;

/// How far the signer's clock may run ahead of the verifier's.
const CLOCK_SKEW_SECS: u64 = 300;

/// Signs and verifies grants. The secret is at least 32 bytes.
#[derive(Clone)]
pub struct UrlSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(<secret>)")
    }
}

impl UrlSigner {
    pub fn new(secret: &[u8]) -> Result<Self, UrlError> {
        if secret.len() < 32 {
            return Err(UrlError::Malformed("signing secret shorter than 32 bytes"));
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        })
    }

    fn message(grant: &Grant) -> Vec<u8> {
        // Newline-separated; none of the fields may contain a newline (ids
        // are checked by the callers' parsers, and verify re-checks).
        format!(
            "callvault-url-v1\n{}\n{}\n{}\n{}",
            grant.operation.as_str(),
            grant.tenant,
            grant.recording,
            grant.expires_at
        )
        .into_bytes()
    }

    /// The URL-safe signature of `grant`.
    pub fn sign(&self, grant: &Grant) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &Self::message(grant)).as_ref())
    }

    /// The query string (`exp=…&sig=…`) to append to the operation's path.
    pub fn query(&self, grant: &Grant) -> String {
        format!("exp={}&sig={}", grant.expires_at, self.sign(grant))
    }

    /// Checks `signature` against `grant` (constant time) and the expiry
    /// against `now` (unix seconds).
    pub fn verify(&self, grant: &Grant, signature: &str, now: u64) -> Result<(), UrlError> {
        if [&grant.tenant, &grant.recording]
            .iter()
            .any(|f| f.contains('\n'))
        {
            return Err(UrlError::Malformed("newline in a field"));
        }
        let tag = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| UrlError::Malformed("signature is not base64url"))?;
        hmac::verify(&self.key, &Self::message(grant), &tag).map_err(|_| UrlError::BadSignature)?;
        // The signature is checked first so that a forged expiry is reported
        // as forged, not as expired.
        if now > grant.expires_at {
            return Err(UrlError::Expired);
        }
        // Signers cap the lifetime too; checking it here means no signer
        // holding the secret can mint a URL that never expires.
        if grant.expires_at > now.saturating_add(MAX_LIFETIME_SECS + CLOCK_SKEW_SECS) {
            return Err(UrlError::Malformed("expiry beyond the maximum lifetime"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner::new(&[7u8; 32]).expect("secret is long enough")
    }

    fn grant() -> Grant {
        Grant {
            operation: Operation::Playback,
            tenant: "t1".into(),
            recording: "r1".into(),
            expires_at: 1_000,
        }
    }

    #[test]
    fn a_fresh_url_verifies() {
        let sig = signer().sign(&grant());
        assert_eq!(signer().verify(&grant(), &sig, 999), Ok(()));
        assert_eq!(signer().verify(&grant(), &sig, 1_000), Ok(()));
    }

    #[test]
    fn an_expired_url_is_refused() {
        let sig = signer().sign(&grant());
        assert_eq!(
            signer().verify(&grant(), &sig, 1_001),
            Err(UrlError::Expired)
        );
    }

    #[test]
    fn altering_any_field_breaks_the_signature() {
        let sig = signer().sign(&grant());
        let mut altered = vec![grant(), grant(), grant(), grant()];
        altered[0].tenant = "t2".into();
        altered[1].recording = "r2".into();
        altered[2].expires_at = 9_999;
        altered[3].operation = Operation::Upload;
        for grant in altered {
            assert_eq!(
                signer().verify(&grant, &sig, 0),
                Err(UrlError::BadSignature),
                "{grant:?}"
            );
        }
    }

    #[test]
    fn a_grant_for_one_operation_is_refused_for_another() {
        let operations = [
            Operation::Playback,
            Operation::Upload,
            Operation::Discard,
            Operation::Reconcile,
            Operation::Bundle,
        ];
        for signed_for in operations {
            let sig = signer().sign(&Grant {
                operation: signed_for,
                ..grant()
            });
            for used_for in operations.into_iter().filter(|op| *op != signed_for) {
                let used = Grant {
                    operation: used_for,
                    ..grant()
                };
                assert_eq!(
                    signer().verify(&used, &sig, 0),
                    Err(UrlError::BadSignature),
                    "signed for {signed_for:?}, used for {used_for:?}"
                );
            }
        }
    }

    #[test]
    fn a_bundle_url_is_not_a_playback_url_and_vice_versa() {
        // Same tenant, same id in the `recording` slot, same expiry: only
        // the operation differs, and that alone must break the signature.
        let bundle = Grant {
            operation: Operation::Bundle,
            ..grant()
        };
        let playback = grant();
        let bundle_sig = signer().sign(&bundle);
        let playback_sig = signer().sign(&playback);
        assert_eq!(signer().verify(&bundle, &bundle_sig, 0), Ok(()));
        assert_eq!(
            signer().verify(&playback, &bundle_sig, 0),
            Err(UrlError::BadSignature)
        );
        assert_eq!(
            signer().verify(&bundle, &playback_sig, 0),
            Err(UrlError::BadSignature)
        );
    }

    #[test]
    fn another_secret_or_garbage_signature_is_refused() {
        let other = UrlSigner::new(&[8u8; 32]).expect("secret");
        let sig = other.sign(&grant());
        assert_eq!(
            signer().verify(&grant(), &sig, 0),
            Err(UrlError::BadSignature)
        );
        assert!(matches!(
            signer().verify(&grant(), "%%%", 0),
            Err(UrlError::Malformed(_))
        ));
        assert_eq!(
            signer().verify(&grant(), "", 0),
            Err(UrlError::BadSignature)
        );
    }

    #[test]
    fn urls_valid_for_longer_than_the_maximum_are_refused() {
        let mut long = grant();
        long.expires_at = 1_000 + MAX_LIFETIME_SECS + CLOCK_SKEW_SECS + 1;
        let sig = signer().sign(&long);
        assert!(matches!(
            signer().verify(&long, &sig, 1_000),
            Err(UrlError::Malformed(_))
        ));
        long.expires_at -= 1;
        let sig = signer().sign(&long);
        assert_eq!(signer().verify(&long, &sig, 1_000), Ok(()));
    }

    #[test]
    fn playback_terms_ride_in_the_signed_recording_field() {
        let none = PlaybackTerms::default();
        assert_eq!(none.grant("t1", "r1", 1_000), grant());
        assert_eq!(none.query(), "");
        let terms = PlaybackTerms {
            byte_rate: Some(16_000),
            download: true,
        };
        let signed = terms.grant("t1", "r1", 1_000);
        assert_eq!(signed.recording, "r1|byte_rate=16000|as=download");
        assert_eq!(terms.query(), "byte_rate=16000&as=download&");
        assert_eq!(
            PlaybackTerms::from_query(Some("16000"), Some("download")),
            Ok(terms)
        );
        assert_eq!(PlaybackTerms::from_query(None, None), Ok(none));
    }

    #[test]
    fn playback_terms_cannot_be_stripped_or_changed() {
        let terms = PlaybackTerms {
            byte_rate: Some(8_000),
            download: false,
        };
        let sig = signer().sign(&terms.grant("t1", "r1", 1_000));
        assert_eq!(
            signer().verify(&terms.grant("t1", "r1", 1_000), &sig, 0),
            Ok(())
        );
        let others = [
            PlaybackTerms::default(),
            PlaybackTerms {
                byte_rate: Some(1),
                download: false,
            },
            PlaybackTerms {
                byte_rate: Some(8_000),
                download: true,
            },
            PlaybackTerms {
                byte_rate: None,
                download: true,
            },
        ];
        for other in others {
            assert_eq!(
                signer().verify(&other.grant("t1", "r1", 1_000), &sig, 0),
                Err(UrlError::BadSignature),
                "{other:?}"
            );
        }
        // And a URL signed without terms can't gain any.
        let bare = signer().sign(&grant());
        assert_eq!(
            signer().verify(&terms.grant("t1", "r1", 1_000), &bare, 0),
            Err(UrlError::BadSignature)
        );
    }

    #[test]
    fn malformed_playback_terms_are_refused() {
        for (rate, served_as) in [
            (Some(""), None),
            (Some("+5"), None),
            (Some("-5"), None),
            (Some("1e3"), None),
            (Some("99999999999999999999999"), None),
            (None, Some("playback")),
            (None, Some("")),
            (None, Some("DOWNLOAD")),
        ] {
            assert!(
                matches!(
                    PlaybackTerms::from_query(rate, served_as),
                    Err(UrlError::Malformed(_))
                ),
                "{rate:?} {served_as:?}"
            );
        }
    }

    #[test]
    fn the_playback_path_without_terms_is_the_old_one() {
        let path = playback_path(&signer(), "t1", "r1", &PlaybackTerms::default(), 1_000);
        assert_eq!(
            path,
            format!("/v1/playback/t1/r1?{}", signer().query(&grant()))
        );
        let terms = PlaybackTerms {
            byte_rate: Some(32_000),
            download: true,
        };
        let path = playback_path(&signer(), "t1", "r1", &terms, 1_000);
        assert_eq!(
            path,
            format!(
                "/v1/playback/t1/r1?byte_rate=32000&as=download&{}",
                signer().query(&terms.grant("t1", "r1", 1_000))
            )
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(UrlSigner::new(b"short").is_err());
    }
}
