//! Which JWKS keys are taken, and for which algorithm. The keys here only
//! have to parse: signatures are the integration tests' business.

use serde_json::{Value, json};

use super::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA JWK whose modulus has `bits` significant bits.
fn rsa(kid: &str, bits: usize, extra: Value) -> Value {
    let mut modulus = vec![0xC5; bits / 8];
    // A leading zero byte (as some encoders write) doesn't count.
    modulus.insert(0, 0);
    let mut key = json!({ "kty": "RSA", "kid": kid, "n": b64(&modulus), "e": "AQAB" });
    merge(&mut key, extra);
    key
}

fn ec(kid: &str, crv: &str, extra: Value) -> Value {
    let mut key = json!({
        "kty": "EC", "kid": kid, "crv": crv, "x": b64(&[7; 32]), "y": b64(&[9; 32]),
    });
    merge(&mut key, extra);
    key
}

fn merge(key: &mut Value, extra: Value) {
    if let (Some(key), Value::Object(extra)) = (key.as_object_mut(), extra) {
        key.extend(extra);
    }
}

fn set(keys: Vec<Value>) -> Vec<u8> {
    json!({ "keys": keys }).to_string().into_bytes()
}

#[test]
fn each_key_verifies_the_one_algorithm_its_type_allows() {
    let keys = parse(&set(vec![
        rsa("rsa", 2048, json!({ "alg": "RS256", "use": "sig" })),
        rsa("rsa-no-alg", 4096, json!({})),
        ec("ec", "P-256", json!({ "alg": "ES256" })),
        ec("ec-no-alg", "P-256", json!({ "use": "sig" })),
    ]))
    .expect("keys");
    assert_eq!(keys.len(), 4);
    for (kid, algorithm) in [
        ("rsa", Algorithm::RS256),
        ("rsa-no-alg", Algorithm::RS256),
        ("ec", Algorithm::ES256),
        ("ec-no-alg", Algorithm::ES256),
    ] {
        assert_eq!(keys.get(kid).expect(kid).algorithm, algorithm, "{kid}");
    }
}

#[test]
fn keys_that_are_unsafe_or_unusable_are_skipped_not_fatal() {
    let keys = parse(&set(vec![
        rsa("good", 2048, json!({})),
        rsa("short", 2040, json!({})),
        rsa("rs512", 2048, json!({ "alg": "RS512" })),
        rsa("ps256", 2048, json!({ "alg": "PS256" })),
        rsa("encryption", 2048, json!({ "use": "enc" })),
        rsa("odd-alg", 2048, json!({ "alg": "RSA-OAEP" })),
        ec("p384", "P-384", json!({})),
        ec("es384", "P-256", json!({ "alg": "ES384" })),
        ec("k256", "secp256k1", json!({})),
        json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256" }),
        json!({ "kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(&[1; 32]) }),
        json!({ "kty": "quantum", "kid": "future" }),
        json!({ "kid": "no-kty" }),
        rsa("", 2048, json!({ "kid": null })),
    ]))
    .expect("the good key");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys.get("good").expect("good").algorithm, Algorithm::RS256);
}

#[test]
fn rsa_keys_shorter_than_2048_bits_are_refused() {
    // 2047 bits: one byte short once the leading zero is dropped.
    let mut modulus = vec![0xC5; 256];
    modulus[0] = 0;
    let almost = json!({ "kty": "RSA", "kid": "almost", "n": b64(&modulus), "e": "AQAB" });
    assert!(matches!(
        parse(&set(vec![almost, rsa("tiny", 1024, json!({}))])),
        Err(AuthError::JwksUnavailable(_))
    ));
    assert!(parse(&set(vec![rsa("exact", 2048, json!({}))])).is_ok());
}

#[test]
fn a_document_that_is_not_a_key_set_is_an_error() {
    for document in [
        &b"not json"[..],
        &b"{}"[..],
        &b"{\"keys\": {}}"[..],
        &b"{\"keys\": []}"[..],
    ] {
        assert!(
            matches!(parse(document), Err(AuthError::JwksUnavailable(_))),
            "{}",
            String::from_utf8_lossy(document)
        );
    }
}
