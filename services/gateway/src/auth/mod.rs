//! JWT verification: who is calling.
//!
//! Two key sources, usable together:
//! - an HS256 secret (embedded mode: `callvault admin token` mints tokens
//!   with [`issue_hs256`]);
//! - a JWKS (a file or a URL) of RS256 and ES256 public keys, selected by
//!   the token's `kid` (an external identity provider).
//!
//! The algorithm in the token header only ever selects among keys we hold
//! *for that algorithm*: HS256 verifies with the configured HMAC secret and
//! nothing else, so a public key can never be used as an HMAC secret (the
//! classic RS256→HS256 confusion), and a JWKS key verifies only the one
//! algorithm its `kty`/`alg` bind it to. `none` and every other algorithm
//! are refused.

mod claims;
mod issue;
mod jwks;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callvault_contracts::Actor;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tracing::{debug, warn};

pub use issue::issue_hs256;
use jwks::KeySet;

/// The default clock skew tolerated on `exp` and `nbf`.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// The longest a token may be valid, from when it was issued (or, without
/// `iat`, from now): a day, a working shift with room to spare. A stolen
/// token valid for years is refused however well it is signed.
pub const DEFAULT_MAX_TOKEN_LIFETIME_SECS: u64 = 24 * 3600;

/// The shortest HS256 secret accepted: as long as the hash output, as
/// RFC 7518 §3.2 asks.
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// How often an unknown `kid` may trigger a JWKS reload: key rotation at
/// the identity provider is picked up, but a stream of forged `kid`s cannot
/// turn the gateway into a JWKS-fetching amplifier.
const JWKS_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Where the identity provider's public keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS JSON file (e.g. a mounted Kubernetes ConfigMap).
    File(PathBuf),
    /// A JWKS URL. Only `http://` works with the workspace's reqwest (no TLS
    /// feature); an `https://` provider needs reqwest's `rustls-tls`.
    Url(String),
}

#[derive(Clone)]
pub struct AuthConfig {
    /// The expected `iss`.
    pub issuer: String,
    /// The expected `aud` (one of the token's audiences).
    pub audience: String,
    /// The embedded mode's HMAC secret; HS256 is refused without it.
    pub hs256_secret: Option<Vec<u8>>,
    /// RS256 / ES256 keys; both are refused without it.
    pub jwks: Option<JwksSource>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// The longest validity accepted (`exp` − `iat`, or `exp` − now).
    pub max_lifetime_secs: u64,
}

impl AuthConfig {
    /// A config with the default leeway and no keys yet.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            hs256_secret: None,
            jwks: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            max_lifetime_secs: DEFAULT_MAX_TOKEN_LIFETIME_SECS,
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "<secret>"),
            )
            .field("jwks", &self.jwks)
            .field("leeway_secs", &self.leeway_secs)
            .field("max_lifetime_secs", &self.max_lifetime_secs)
            .finish()
    }
}

/// Why a token was refused (or the verifier could not be built). Every
/// variant reaches the client as `UNAUTHENTICATED`; the messages name the
/// rule broken, never the token or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token algorithm not accepted")]
    UnsupportedAlgorithm,
    #[error("token key id not recognised")]
    UnknownKey,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not yet valid")]
    NotYetValid,
    #[error("token audience not accepted")]
    WrongAudience,
    #[error("token issuer not accepted")]
    WrongIssuer,
    #[error("token lacks the {0} claim")]
    MissingClaim(String),
    #[error("token claims are invalid: {0}")]
    InvalidClaims(&'static str),
    #[error("token is valid for longer than this site accepts")]
    LifetimeTooLong,
    #[error("auth configuration is invalid: {0}")]
    Config(String),
    #[error("jwks is unavailable: {0}")]
    JwksUnavailable(String),
}

/// The token header fields we act on. Parsed ourselves rather than through
/// `jsonwebtoken::Header` so that `alg: none` and unknown algorithms are
/// refused by name, and `crit` extensions we don't implement are refused.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

pub struct TokenVerifier {
    issuer: String,
    audience: String,
    leeway_secs: u64,
    max_lifetime_secs: u64,
    hmac: Option<DecodingKey>,
    jwks_source: Option<JwksSource>,
    jwks: RwLock<Arc<KeySet>>,
    /// When the JWKS was last (re)loaded; held across a reload so that
    /// concurrent unknown `kid`s wait for one fetch instead of each fetching.
    last_reload: tokio::sync::Mutex<Instant>,
    http: reqwest::Client,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_source", &self.jwks_source)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Builds the verifier, loading the JWKS once (a verifier that can't
    /// load its keys at startup should fail startup, not every request).
    pub async fn new(config: AuthConfig) -> Result<Self, AuthError> {
        if config.issuer.is_empty() || config.audience.is_empty() {
            return Err(AuthError::Config("issuer and audience are required".into()));
        }
        let hmac = match &config.hs256_secret {
            None => None,
            Some(secret) if secret.len() < MIN_HS256_SECRET_LEN => {
                return Err(AuthError::Config(format!(
                    "hs256 secret shorter than {MIN_HS256_SECRET_LEN} bytes"
                )));
            }
            Some(secret) => Some(
                DecodingKey::from_secret(secret)
                    .map_err(|_| AuthError::Config("hs256 secret is unusable".into()))?,
            ),
        };
        if hmac.is_none() && config.jwks.is_none() {
            return Err(AuthError::Config(
                "neither an hs256 secret nor a jwks is configured".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| AuthError::Config(format!("http client: {error}")))?;
        let keys = match &config.jwks {
            Some(source) => jwks::load(&http, source).await?,
            None => KeySet::default(),
        };
        Ok(Self {
            issuer: config.issuer,
            audience: config.audience,
            leeway_secs: config.leeway_secs,
            max_lifetime_secs: config.max_lifetime_secs,
            hmac,
            jwks_source: config.jwks,
            jwks: RwLock::new(Arc::new(keys)),
            last_reload: tokio::sync::Mutex::new(Instant::now()),
            http,
        })
    }

    /// Verifies `token` (without the `Bearer ` prefix) and returns the
    /// caller it names.
    pub async fn verify(&self, token: &str) -> Result<Actor, AuthError> {
        let header = parse_header(token)?;
        if header.crit.is_some() {
            return Err(AuthError::Malformed);
        }
        let (algorithm, key) = match header.alg.as_str() {
            "HS256" => {
                // Only ever the configured secret, whatever `kid` says.
                let key = self.hmac.clone().ok_or(AuthError::UnsupportedAlgorithm)?;
                (Algorithm::HS256, key)
            }
            "RS256" | "ES256" => {
                let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
                let key = self.jwks_key(kid).await?;
                let algorithm = key.algorithm;
                // The key's kty/alg, not the header, decides what it verifies.
                if header.alg != jwks::algorithm_name(algorithm) {
                    return Err(AuthError::UnsupportedAlgorithm);
                }
                (algorithm, key.key.clone())
            }
            _ => return Err(AuthError::UnsupportedAlgorithm),
        };
        let data = jsonwebtoken::decode::<claims::Claims>(token, &key, &self.validation(algorithm))
            .map_err(|error| map_jwt_error(error.into_kind()))?;
        data.claims
            .check_lifetime(self.max_lifetime_secs, self.leeway_secs)?;
        data.claims.into_actor()
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.leeway = self.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation
    }

    async fn jwks_key(&self, kid: &str) -> Result<Arc<jwks::VerifyKey>, AuthError> {
        if let Some(key) = self.current_keys().get(kid) {
            return Ok(key);
        }
        let Some(source) = &self.jwks_source else {
            return Err(AuthError::UnknownKey);
        };
        let mut last_reload = self.last_reload.lock().await;
        // Someone may have reloaded while we waited for the lock.
        if let Some(key) = self.current_keys().get(kid) {
            return Ok(key);
        }
        if last_reload.elapsed() < JWKS_RELOAD_INTERVAL {
            return Err(AuthError::UnknownKey);
        }
        *last_reload = Instant::now();
        match jwks::load(&self.http, source).await {
            Ok(keys) => {
                debug!(keys = keys.len(), "reloaded jwks");
                let keys = Arc::new(keys);
                if let Ok(mut current) = self.jwks.write() {
                    *current = keys.clone();
                }
                keys.get(kid).ok_or(AuthError::UnknownKey)
            }
            Err(error) => {
                // Keep serving with the keys we have.
                warn!(%error, "jwks reload failed");
                Err(AuthError::UnknownKey)
            }
        }
    }

    fn current_keys(&self) -> Arc<KeySet> {
        match self.jwks.read() {
            Ok(keys) => keys.clone(),
            // A writer only swaps an Arc, so a poisoned lock still holds a
            // whole key set.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

fn parse_header(token: &str) -> Result<RawHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

fn map_jwt_error(kind: ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim),
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) | ErrorKind::InvalidToken => {
            AuthError::InvalidClaims("claims do not parse")
        }
        ErrorKind::InvalidAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::MissingAlgorithm => AuthError::UnsupportedAlgorithm,
        _ => AuthError::Malformed,
    }
}
