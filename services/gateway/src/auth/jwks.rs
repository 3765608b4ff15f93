//! Loading a JWKS into keys bound to exactly one algorithm each.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tracing::warn;

use super::{AuthError, JwksSource};

/// The smallest RSA modulus accepted (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// A public key and the one algorithm it verifies.
pub(super) struct VerifyKey {
    pub(super) algorithm: Algorithm,
    pub(super) key: DecodingKey,
}

#[derive(Default)]
pub(super) struct KeySet {
    by_kid: HashMap<String, Arc<VerifyKey>>,
}

impl KeySet {
    pub(super) fn get(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        self.by_kid.get(kid).cloned()
    }

    pub(super) fn len(&self) -> usize {
        self.by_kid.len()
    }
}

pub(super) fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::HS256 => "HS256",
        _ => "unsupported",
    }
}

#[derive(Deserialize)]
struct JwkSetJson {
    keys: Vec<JwkJson>,
}

#[derive(Deserialize)]
struct JwkJson {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

pub(super) async fn load(http: &reqwest::Client, source: &JwksSource) -> Result<KeySet, AuthError> {
    let bytes = match source {
        JwksSource::File(path) => tokio::fs::read(path).await.map_err(|error| {
            AuthError::JwksUnavailable(format!("reading {}: {error}", path.display()))
        })?,
        JwksSource::Url(url) => fetch(http, url).await?,
    };
    parse(&bytes)
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, AuthError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|error| AuthError::JwksUnavailable(format!("fetching jwks: {error}")))?;
    if !response.status().is_success() {
        return Err(AuthError::JwksUnavailable(format!(
            "jwks url answered {}",
            response.status()
        )));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| AuthError::JwksUnavailable(format!("reading jwks: {error}")))?;
    Ok(body.to_vec())
}

/// Parses a JWKS. Keys we can't use safely are skipped with a warning
/// rather than failing the whole set, so one odd key at the provider
/// doesn't lock everyone out; a set with no usable key is an error.
pub(super) fn parse(bytes: &[u8]) -> Result<KeySet, AuthError> {
    let set: JwkSetJson = serde_json::from_slice(bytes)
        .map_err(|_| AuthError::JwksUnavailable("jwks is not a json web key set".into()))?;
    let mut keys = KeySet::default();
    for jwk in set.keys {
        let Some(kid) = jwk.kid.clone() else {
            warn!(kty = %jwk.kty, "skipping jwk without kid");
            continue;
        };
        match to_verify_key(&jwk) {
            Ok(key) => {
                keys.by_kid.insert(kid, Arc::new(key));
            }
            Err(reason) => warn!(%kid, kty = %jwk.kty, reason, "skipping jwk"),
        }
    }
    if keys.by_kid.is_empty() {
        return Err(AuthError::JwksUnavailable(
            "jwks holds no usable key".into(),
        ));
    }
    Ok(keys)
}

fn to_verify_key(jwk: &JwkJson) -> Result<VerifyKey, &'static str> {
    if jwk.use_.as_deref().is_some_and(|use_| use_ != "sig") {
        return Err("not a signing key");
    }
    match jwk.kty.as_str() {
        "RSA" => {
            if jwk.alg.as_deref().is_some_and(|alg| alg != "RS256") {
                return Err("rsa key for another algorithm");
            }
            let (Some(n), Some(e)) = (&jwk.n, &jwk.e) else {
                return Err("rsa key without n or e");
            };
            let modulus = URL_SAFE_NO_PAD
                .decode(n)
                .map_err(|_| "rsa modulus is not base64url")?;
            let modulus_len = modulus.iter().skip_while(|byte| **byte == 0).count();
            if modulus_len < MIN_RSA_MODULUS_BYTES {
                return Err("rsa key shorter than 2048 bits");
            }
            let key =
                DecodingKey::from_rsa_components(n, e).map_err(|_| "rsa key does not decode")?;
            Ok(VerifyKey {
                algorithm: Algorithm::RS256,
                key,
            })
        }
        "EC" => {
            if jwk.alg.as_deref().is_some_and(|alg| alg != "ES256") {
                return Err("ec key for another algorithm");
            }
            if jwk.crv.as_deref() != Some("P-256") {
                return Err("ec key not on p-256");
            }
            let (Some(x), Some(y)) = (&jwk.x, &jwk.y) else {
                return Err("ec key without x or y");
            };
            let key =
                DecodingKey::from_ec_components(x, y).map_err(|_| "ec key does not decode")?;
            Ok(VerifyKey {
                algorithm: Algorithm::ES256,
                key,
            })
        }
        // Symmetric ("oct") keys are never taken from a JWKS: HMAC keys come
        // only from the configured secret.
        _ => Err("unsupported key type"),
    }
}
