//! Signed playback URLs handed out with recordings.
//!
//! The storage service serves `/v1/playback/{tenant}/{recording}` and checks
//! only the URL's signature and expiry, so the URL is a capability: it is
//! built only for recordings the caller was allowed to read.

use std::time::{SystemTime, UNIX_EPOCH};

use callvault_auth::signed_url::{Grant, MAX_LIFETIME_SECS, Operation, UrlSigner};
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

/// Everything needed to hand out playback URLs.
#[derive(Clone, Debug)]
pub struct PlaybackLinks {
    signer: UrlSigner,
    base_url: String,
    ttl_secs: u64,
}

impl PlaybackLinks {
    /// `base_url` is where the storage service's playback endpoint is
    /// reached by clients, e.g. `http://127.0.0.1:8080`.
    pub fn new(signer: UrlSigner, base_url: &str, ttl_secs: u64) -> Result<Self, StateError> {
        let base_url = base_url.trim_end_matches('/');
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(StateError::PlaybackBaseUrl);
        }
        if ttl_secs == 0 || ttl_secs > MAX_LIFETIME_SECS {
            return Err(StateError::PlaybackTtl {
                max: MAX_LIFETIME_SECS,
            });
        }
        Ok(Self {
            signer,
            base_url: base_url.to_owned(),
            ttl_secs,
        })
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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.url_at(tenant, recording, now)
    }
}
