//! Test keys, generated per run, and hand-signed tokens.
//!
//! Tokens are assembled and signed here with aws-lc-rs directly rather
//! than with the crate under test, so that malformed and hostile tokens
//! (`alg: none`, algorithm confusion) can be built at all, and so that a
//! bug in the gateway's own signing can't hide a bug in its verification.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "callvault";
pub const HS_SECRET: &[u8] = b"test-only-hs256-secret-32-bytes-long!";
pub const RSA_KID: &str = "rsa-1";
pub const EC_KID: &str = "ec-1";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub struct Keys {
    pub rsa: aws_lc_rs::rsa::KeyPair,
    pub ec: EcdsaKeyPair,
}

impl Keys {
    pub fn generate() -> Self {
        Self {
            rsa: aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).expect("rsa key"),
            ec: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .expect("ec key"),
        }
    }

    /// A JWKS with the RSA key (RS256) and the EC key (ES256).
    pub fn jwks(&self) -> Value {
        let rsa = self.rsa.public_key();
        let point = self.ec.public_key().as_ref();
        assert_eq!(point.len(), 65, "uncompressed p-256 point");
        json!({ "keys": [
            {
                "kty": "RSA", "kid": RSA_KID, "alg": "RS256", "use": "sig",
                "n": b64(rsa.modulus().big_endian_without_leading_zero()),
                "e": b64(rsa.exponent().big_endian_without_leading_zero()),
            },
            {
                "kty": "EC", "kid": EC_KID, "crv": "P-256", "use": "sig",
                "x": b64(&point[1..33]), "y": b64(&point[33..65]),
            },
        ]})
    }

    /// The RSA public key as a PEM `PUBLIC KEY` (SPKI), the bytes an
    /// attacker would use as an HMAC secret in the confusion attack.
    pub fn rsa_public_pem(&self) -> String {
        let der = self.rsa.public_key().as_der().expect("spki der");
        let body = STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).expect("base64 is ascii"))
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    pub fn rs256(&self, kid: &str, claims: &Value) -> String {
        let message = signing_input(&json!({ "alg": "RS256", "typ": "JWT", "kid": kid }), claims);
        let mut signature = vec![0; self.rsa.public_modulus_len()];
        self.rsa
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message.as_bytes(),
                &mut signature,
            )
            .expect("rsa sign");
        format!("{message}.{}", b64(signature))
    }

    pub fn es256(&self, kid: &str, claims: &Value) -> String {
        let message = signing_input(&json!({ "alg": "ES256", "typ": "JWT", "kid": kid }), claims);
        let signature = self
            .ec
            .sign(&SystemRandom::new(), message.as_bytes())
            .expect("ec sign");
        format!("{message}.{}", b64(signature.as_ref()))
    }
}

pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header.to_string()), b64(claims.to_string()))
}

/// An HS256 token over `header` (which may lie about anything) signed with
/// `secret`.
pub fn hmac_token(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let message = signing_input(header, claims);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    format!(
        "{message}.{}",
        b64(hmac::sign(&key, message.as_bytes()).as_ref())
    )
}

pub fn hs256(claims: &Value) -> String {
    hmac_token(&json!({ "alg": "HS256", "typ": "JWT" }), claims, HS_SECRET)
}

/// Valid claims for a supervisor of `tenant`, to be altered by each test.
pub fn claims(tenant: uuid::Uuid) -> Value {
    let now = now();
    json!({
        "sub": "user-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "role": "supervisor",
        "tenant_id": tenant.to_string(),
    })
}
