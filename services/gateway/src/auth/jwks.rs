//! Loading a JWKS into keys bound to exactly one algorithm each.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
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
/// (`JwkSet` takes keys of unknown types and algorithms as such, so an odd
/// key doesn't fail the parse either.)
pub(super) fn parse(bytes: &[u8]) -> Result<KeySet, AuthError> {
    let set: JwkSet = serde_json::from_slice(bytes)
        .map_err(|_| AuthError::JwksUnavailable("jwks is not a json web key set".into()))?;
    let mut keys = KeySet::default();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            warn!(kty = key_type(jwk), "skipping jwk without kid");
            continue;
        };
        match to_verify_key(jwk) {
            Ok(key) => {
                keys.by_kid.insert(kid, Arc::new(key));
            }
            Err(reason) => warn!(%kid, kty = key_type(jwk), reason, "skipping jwk"),
        }
    }
    if keys.by_kid.is_empty() {
        return Err(AuthError::JwksUnavailable(
            "jwks holds no usable key".into(),
        ));
    }
    Ok(keys)
}

/// The key bound to the one algorithm its type (and `alg`, when given)
/// allows: RSA keys verify RS256 only, P-256 keys ES256 only.
fn to_verify_key(jwk: &Jwk) -> Result<VerifyKey, &'static str> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|use_| *use_ != PublicKeyUse::Signature)
    {
        return Err("not a signing key");
    }
    let stated = jwk.common.key_algorithm;
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            if stated.is_some_and(|alg| alg != KeyAlgorithm::RS256) {
                return Err("rsa key for another algorithm");
            }
            let modulus = URL_SAFE_NO_PAD
                .decode(&rsa.n)
                .map_err(|_| "rsa modulus is not base64url")?;
            let modulus_len = modulus.iter().skip_while(|byte| **byte == 0).count();
            if modulus_len < MIN_RSA_MODULUS_BYTES {
                return Err("rsa key shorter than 2048 bits");
            }
            Algorithm::RS256
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            if stated.is_some_and(|alg| alg != KeyAlgorithm::ES256) {
                return Err("ec key for another algorithm");
            }
            if ec.curve != EllipticCurve::P256 {
                return Err("ec key not on p-256");
            }
            Algorithm::ES256
        }
        // Symmetric ("oct") keys are never taken from a JWKS: HMAC keys come
        // only from the configured secret.
        _ => return Err("unsupported key type"),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "key does not decode")?;
    Ok(VerifyKey { algorithm, key })
}

/// The JWK's `kty`, for the logs.
fn key_type(jwk: &Jwk) -> &str {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => "RSA",
        AlgorithmParameters::EllipticCurve(_) => "EC",
        AlgorithmParameters::OctetKey(_) => "oct",
        AlgorithmParameters::OctetKeyPair(_) => "OKP",
        AlgorithmParameters::Other(other) => other
            .fields
            .get("kty")
            .and_then(|kty| kty.as_str())
            .unwrap_or("unknown"),
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests;
