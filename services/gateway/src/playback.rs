//! Signed playback URLs handed out with recordings, and signed download
//! URLs of disclosure bundles.
//!
//! The storage service serves `/v1/playback/{tenant}/{recording}` and checks
//! only the URL's signature and expiry, so the URL is a capability: it is
//! built only for recordings the caller was allowed to read. Likewise the
//! disclosure service serves `/v1/disclosure/bundles/{tenant}/{bundle}`,
//! signed for [`Operation::Bundle`], built only after the disclosure
//! service authorised (and audited) the download.

use std::time::{SystemTime, UNIX_EPOCH};

use callvault_auth::signed_url::{
    Grant, MAX_LIFETIME_SECS, Operation, PlaybackTerms, UrlSigner, playback_path as signed_path,
};
use callvault_contracts::lifecycle_api::Access;
use callvault_contracts::metadata_api::Recording;
use uuid::Uuid;

use crate::http::StateError;

/// How long a playback URL lives unless configured: enough to start
/// listening, short enough that a leaked URL dies soon. A player that seeks
/// later re-queries `recording` for a fresh URL.
pub const DEFAULT_PLAYBACK_TTL_SECS: u64 = 300;

/// The format string of services/storage's `playback::playback_path`. The
/// gateway does not depend on the storage crate (services never import one
/// another), so this copy is checked against that function's source by a
/// test.
pub const PLAYBACK_PATH_FORMAT: &str =
    r#""/v1/playback/{tenant}/{recording}?{}", signer.query(&grant)"#;

/// The path and query of a playback URL, exactly as the storage service's
/// `playback::playback_path` builds it.
pub fn playback_path(signer: &UrlSigner, tenant: Uuid, recording: Uuid, expires_at: u64) -> String {
    let grant = Grant {
        operation: Operation::Playback,
        tenant: tenant.to_string(),
        recording: recording.to_string(),
        expires_at,
    };
    format!("/v1/playback/{tenant}/{recording}?{}", signer.query(&grant))
}

/// A recording's audio bytes per second, from its catalogue entry: what
/// storage meters a playback's seconds with. `None` when the catalogue
/// can't tell (no duration, no bytes).
pub fn byte_rate(size: u64, duration_ms: u64) -> Option<u64> {
    if size == 0 || duration_ms == 0 {
        return None;
    }
    // Rounded to the nearest byte per second; never zero.
    let rate = (u128::from(size) * 1000 + u128::from(duration_ms) / 2) / u128::from(duration_ms);
    Some(u64::try_from(rate).unwrap_or(u64::MAX).max(1))
}

/// What the gateway signs into a recording's playback URL beside the
/// grant: its byte rate, and whether it was asked for as a download.
pub fn playback_terms(recording: &Recording, access: Access) -> PlaybackTerms {
    PlaybackTerms {
        byte_rate: byte_rate(recording.size, recording.duration_ms),
        download: access == Access::Download,
    }
}

/// The path and query of a disclosure bundle's download URL, signed for
/// [`Operation::Bundle`] with the bundle id in the grant's `recording`
/// field: what the disclosure service verifies with the same signer.
pub fn bundle_path(signer: &UrlSigner, tenant: Uuid, bundle: Uuid, expires_at: u64) -> String {
    let grant = Grant {
        operation: Operation::Bundle,
        tenant: tenant.to_string(),
        recording: bundle.to_string(),
        expires_at,
    };
    format!(
        "/v1/disclosure/bundles/{tenant}/{bundle}?{}",
        signer.query(&grant)
    )
}

/// A signed bundle download URL and when it stops working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBundleUrl {
    pub url: String,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Everything needed to hand out playback and bundle URLs.
#[derive(Clone, Debug)]
pub struct PlaybackLinks {
    signer: UrlSigner,
    base_url: String,
    /// Where the disclosure service's bundle endpoint is reached; the
    /// playback base unless set (in one process both are served together).
    bundle_base_url: String,
    ttl_secs: u64,
}

fn checked_base(base_url: &str) -> Option<&str> {
    let base_url = base_url.trim_end_matches('/');
    (base_url.starts_with("http://") || base_url.starts_with("https://")).then_some(base_url)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl PlaybackLinks {
    /// `base_url` is where the storage service's playback endpoint is
    /// reached by clients, e.g. `http://127.0.0.1:8080`. Bundle URLs use
    /// the same base until [`PlaybackLinks::with_bundle_base`] says
    /// otherwise.
    pub fn new(signer: UrlSigner, base_url: &str, ttl_secs: u64) -> Result<Self, StateError> {
        let Some(base_url) = checked_base(base_url) else {
            return Err(StateError::PlaybackBaseUrl);
        };
        if ttl_secs == 0 || ttl_secs > MAX_LIFETIME_SECS {
            return Err(StateError::PlaybackTtl {
                max: MAX_LIFETIME_SECS,
            });
        }
        Ok(Self {
            signer,
            base_url: base_url.to_owned(),
            bundle_base_url: base_url.to_owned(),
            ttl_secs,
        })
    }

    /// Bundle URLs on `base_url`: where the disclosure service's bundle
    /// endpoint is reached by clients, when it is not the playback base.
    pub fn with_bundle_base(mut self, base_url: &str) -> Result<Self, StateError> {
        let Some(base_url) = checked_base(base_url) else {
            return Err(StateError::BundleBaseUrl);
        };
        self.bundle_base_url = base_url.to_owned();
        Ok(self)
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The URL for `recording` of `tenant`, valid for the TTL from `now`
    /// (unix seconds).
    pub fn url_at(&self, tenant: Uuid, recording: Uuid, now: u64) -> String {
        let path = playback_path(
            &self.signer,
            tenant,
            recording,
            now.saturating_add(self.ttl_secs),
        );
        format!("{}{path}", self.base_url)
    }

    pub fn url(&self, tenant: Uuid, recording: Uuid) -> String {
        self.url_at(tenant, recording, unix_now())
    }

    /// The URL for `recording` as authorised for `access`, valid for the
    /// TTL from `now` (unix seconds), with its [`PlaybackTerms`] signed in:
    /// storage meters what it serves with the byte rate, and answers a
    /// download as an attachment. Prefer it to [`PlaybackLinks::url_at`],
    /// whose links storage serves unmetered.
    pub fn recording_url_at(&self, recording: &Recording, access: Access, now: u64) -> String {
        let path = signed_path(
            &self.signer,
            &recording.tenant_id.to_string(),
            &recording.id.to_string(),
            &playback_terms(recording, access),
            now.saturating_add(self.ttl_secs),
        );
        format!("{}{path}", self.base_url)
    }

    pub fn recording_url(&self, recording: &Recording, access: Access) -> String {
        self.recording_url_at(recording, access, unix_now())
    }

    /// The download URL of `bundle` of `tenant`, valid for the TTL from
    /// `now` (unix seconds). Only for a bundle the disclosure service
    /// authorised: the URL is a capability.
    pub fn bundle_url_at(&self, tenant: Uuid, bundle: Uuid, now: u64) -> SignedBundleUrl {
        let expires_at = now.saturating_add(self.ttl_secs);
        let path = bundle_path(&self.signer, tenant, bundle, expires_at);
        SignedBundleUrl {
            url: format!("{}{path}", self.bundle_base_url),
            expires_at,
        }
    }

    pub fn bundle_url(&self, tenant: Uuid, bundle: Uuid) -> SignedBundleUrl {
        self.bundle_url_at(tenant, bundle, unix_now())
    }
}
