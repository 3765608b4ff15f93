//! Minting HS256 tokens for embedded mode (`callvault admin token`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use callvault_contracts::Actor;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::{AuthError, MIN_HS256_SECRET_LEN};

/// What a minted token says: the registered claims the verifier checks and
/// the ones `claims::Claims` reads back into the [`Actor`].
#[derive(Serialize)]
struct Minted<'a> {
    sub: &'a str,
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
    role: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bpo_id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<&'a str>,
}

/// A signed HS256 token for `actor`, valid from now for `ttl`, that
/// [`super::TokenVerifier`] configured with the same secret, issuer and
/// audience accepts. Refuses a secret the verifier would refuse (shorter
/// than [`MIN_HS256_SECRET_LEN`] bytes) rather than mint a token nothing
/// accepts.
pub fn issue_hs256(
    secret: &[u8],
    issuer: &str,
    audience: &str,
    actor: &Actor,
    ttl: Duration,
) -> Result<String, AuthError> {
    if secret.len() < MIN_HS256_SECRET_LEN {
        return Err(AuthError::Config(format!(
            "hs256 secret shorter than {MIN_HS256_SECRET_LEN} bytes"
        )));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = Minted {
        sub: &actor.subject,
        iss: issuer,
        aud: audience,
        iat: now,
        nbf: now,
        exp: now.saturating_add(ttl.as_secs()),
        role: actor.role.as_str(),
        tenant_id: actor.tenant_id.map(|tenant| tenant.0),
        bpo_id: actor.bpo_id.map(|bpo| bpo.0),
        agent_id: actor.agent_id.as_deref(),
    };
    // The key and the header name the same algorithm, HS256, whatever the
    // caller passes: a mismatch is jsonwebtoken's error, never a token.
    let key = EncodingKey::from_secret(secret)
        .map_err(|error| AuthError::Config(format!("hs256 secret: {error}")))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|error| AuthError::Config(format!("cannot sign the token: {error}")))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use callvault_contracts::{Actor, Role, TenantId};
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &[u8] = b"unit-test-hs256-secret-of-32-bytes!!";

    fn part(token: &str, index: usize) -> Value {
        let encoded = token.split('.').nth(index).expect("part");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).expect("base64url")).expect("json")
    }

    #[test]
    fn the_token_names_hs256_and_carries_the_actor() {
        let tenant = TenantId(uuid::Uuid::new_v4());
        let actor = Actor {
            subject: "agent-7".into(),
            role: Role::Agent,
            bpo_id: None,
            tenant_id: Some(tenant),
            agent_id: Some("a-7".into()),
            origin: None,
        };
        let token =
            issue_hs256(SECRET, "iss", "aud", &actor, Duration::from_secs(60)).expect("token");
        assert_eq!(part(&token, 0), json!({ "typ": "JWT", "alg": "HS256" }));
        let claims = part(&token, 1);
        assert_eq!(claims["sub"], "agent-7");
        assert_eq!(claims["iss"], "iss");
        assert_eq!(claims["aud"], "aud");
        assert_eq!(claims["role"], "agent");
        assert_eq!(claims["tenant_id"], tenant.0.to_string());
        assert_eq!(claims["agent_id"], "a-7");
        assert!(claims.get("bpo_id").is_none(), "{claims}");
        let iat = claims["iat"].as_u64().expect("iat");
        assert_eq!(claims["nbf"].as_u64(), Some(iat));
        assert_eq!(claims["exp"].as_u64(), Some(iat + 60));
    }

    #[test]
    fn a_secret_the_verifier_would_refuse_mints_nothing() {
        let actor = Actor {
            subject: "admin".into(),
            role: Role::PlatformAdmin,
            bpo_id: None,
            tenant_id: None,
            agent_id: None,
            origin: None,
        };
        let short = &SECRET[..MIN_HS256_SECRET_LEN - 1];
        assert!(matches!(
            issue_hs256(short, "iss", "aud", &actor, Duration::from_secs(60)),
            Err(AuthError::Config(_))
        ));
    }
}
