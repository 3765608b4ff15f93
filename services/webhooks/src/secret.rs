//! Endpoint secrets: made here (`whsec_` and 32 random bytes in base64, as
//! Standard Webhooks receivers expect), stored sealed under a key the
//! operator's secret derives (a database dump alone doesn't sign webhooks),
//! and used to sign every attempt.
//!
//! A secret never reaches a log or a span: [`SigningSecret`]'s `Debug`
//! hides it and its bytes are wiped when dropped.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;
use zeroize::Zeroizing;

const PREFIX: &str = "whsec_";
const SECRET_BYTES: usize = 32;

/// A `whsec_…` secret.
pub struct SigningSecret(Zeroizing<String>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
        // The system RNG failing is the platform broken: nothing to sign with.
        if SystemRandom::new().fill(bytes.as_mut()).is_err() {
            panic!("the system random number generator failed");
        }
        Self(Zeroizing::new(format!(
            "{PREFIX}{}",
            STANDARD.encode(bytes.as_ref())
        )))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `v1,<base64>` signature of one attempt, per Standard Webhooks:
    /// HMAC-SHA256 of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> Result<String, SealError> {
        let webhook = standardwebhooks::Webhook::new(&self.0).map_err(|_| SealError)?;
        webhook
            .sign(id, timestamp, body.as_bytes())
            .map_err(|_| SealError)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a stored webhook secret does not open")]
pub struct SealError;

/// Seals secrets for the database: AES-256-GCM under a key derived from
/// the operator's secret, a random nonce each time, the endpoint id as
/// associated data (a sealed secret moved to another endpoint won't open).
#[derive(Clone)]
pub struct SecretSeal {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for SecretSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSeal(<redacted>)")
    }
}

impl SecretSeal {
    /// Derives the sealing key from `root` (the process's `secrets.pii` in
    /// the binary: every process has it and it never rotates).
    pub fn derive(root: &[u8; 32]) -> Self {
        let mac = hmac::Key::new(hmac::HMAC_SHA256, root);
        let tag = hmac::sign(&mac, b"callvault webhooks: endpoint secret seal v1");
        let key = match UnboundKey::new(&AES_256_GCM, tag.as_ref()) {
            Ok(key) => key,
            // A 32-byte key for AES-256: can't fail.
            Err(_) => unreachable!("HMAC-SHA256 is 32 bytes"),
        };
        Self {
            key: std::sync::Arc::new(LessSafeKey::new(key)),
        }
    }

    pub fn seal(&self, endpoint: Uuid, secret: &SigningSecret) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        if SystemRandom::new().fill(&mut nonce).is_err() {
            panic!("the system random number generator failed");
        }
        let mut sealed = secret.expose().as_bytes().to_vec();
        let sealing = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(endpoint.as_bytes()),
            &mut sealed,
        );
        if sealing.is_err() {
            unreachable!("sealing a short secret can't fail");
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    pub fn open(&self, endpoint: Uuid, sealed: &str) -> Result<SigningSecret, SealError> {
        let mut bytes = Zeroizing::new(STANDARD.decode(sealed).map_err(|_| SealError)?);
        if bytes.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, body) = bytes.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(endpoint.as_bytes()), body)
            .map_err(|_| SealError)?;
        let text = std::str::from_utf8(plain).map_err(|_| SealError)?;
        Ok(SigningSecret(Zeroizing::new(text.to_owned())))
    }
}

/// The `webhook-signature` header: one `v1,` signature per secret, space
/// separated (during a rotation, the new secret's and the old one's).
pub fn signature_header(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, SealError> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        signatures.push(secret.sign(id, timestamp, body)?);
    }
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_for_its_endpoint_only() {
        let seal = SecretSeal::derive(&[7; 32]);
        let secret = SigningSecret::generate();
        let endpoint = Uuid::new_v4();
        let sealed = seal.seal(endpoint, &secret);
        assert!(!sealed.contains(secret.expose()));
        let opened = seal.open(endpoint, &sealed).expect("opens");
        assert_eq!(opened.expose(), secret.expose());
        assert!(seal.open(Uuid::new_v4(), &sealed).is_err());
        assert!(
            SecretSeal::derive(&[8; 32])
                .open(endpoint, &sealed)
                .is_err()
        );
    }

    #[test]
    fn signs_the_specifications_example() {
        // The Standard Webhooks libraries' own test vector.
        let secret = SigningSecret(Zeroizing::new(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        ));
        let body = r#"{"test": 2432232314}"#;
        let signature = secret
            .sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
            .expect("signs");
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(!format!("{secret:?}").contains("MfKQ"));
    }

    #[test]
    fn a_generated_secret_is_whsec_and_32_bytes() {
        let secret = SigningSecret::generate();
        let key = secret.expose().strip_prefix(PREFIX).expect("prefixed");
        assert_eq!(STANDARD.decode(key).expect("base64").len(), SECRET_BYTES);
    }
}
