//! Minting HS256 tokens for embedded mode (`callvault admin token`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callvault_contracts::Actor;
use serde_json::{Map, Value, json};

/// A signed HS256 token for `actor`, valid from now for `ttl`, that
/// [`super::TokenVerifier`] configured with the same secret, issuer and
/// audience accepts.
///
/// Signed by hand with aws-lc-rs rather than `jsonwebtoken::encode` so that
/// there is no error path: the header is constant, the claims are JSON
/// values, and HMAC cannot fail. The caller keeps the secret at least
/// [`super::MIN_HS256_SECRET_LEN`] bytes, or the verifier won't start.
pub fn issue_hs256(
    secret: &[u8],
    issuer: &str,
    audience: &str,
    actor: &Actor,
    ttl: Duration,
) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(actor.subject));
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(audience));
    claims.insert("iat".into(), json!(now));
    claims.insert("nbf".into(), json!(now));
    claims.insert("exp".into(), json!(now.saturating_add(ttl.as_secs())));
    claims.insert("role".into(), json!(actor.role.as_str()));
    if let Some(tenant) = actor.tenant_id {
        claims.insert("tenant_id".into(), json!(tenant.0.to_string()));
    }
    if let Some(bpo) = actor.bpo_id {
        claims.insert("bpo_id".into(), json!(bpo.0.to_string()));
    }
    if let Some(agent) = &actor.agent_id {
        claims.insert("agent_id".into(), json!(agent));
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    let message = format!("{header}.{payload}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let signature = URL_SAFE_NO_PAD.encode(hmac::sign(&key, message.as_bytes()).as_ref());
    format!("{message}.{signature}")
}
