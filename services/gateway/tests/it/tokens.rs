//! Token verification: what is accepted, and every way a token is refused.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use callvault_contracts::{Role, TenantId};
use callvault_gateway::{AuthConfig, AuthError, JwksSource, TokenVerifier, issue_hs256};
use serde_json::{Value, json};

use crate::support::keys::{
    self, AUDIENCE, EC_KID, HS_SECRET, ISSUER, Keys, RSA_KID, claims, hmac_token, hs256,
};
use crate::support::{error_codes, spawn_app};

struct Fixture {
    keys: Keys,
    verifier: TokenVerifier,
    tenant: TenantId,
    _jwks_file: tempfile::NamedTempFile,
}

/// A verifier accepting HS256 (embedded secret) and RS256/ES256 (JWKS file).
async fn fixture() -> Fixture {
    let keys = Keys::generate();
    let jwks_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(jwks_file.path(), keys.jwks().to_string()).expect("write jwks");
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.hs256_secret = Some(HS_SECRET.to_vec());
    config.jwks = Some(JwksSource::File(jwks_file.path().to_owned()));
    let verifier = TokenVerifier::new(config).await.expect("verifier");
    Fixture {
        keys,
        verifier,
        tenant: TenantId::new(),
        _jwks_file: jwks_file,
    }
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().expect("object") {
        if value.is_null() {
            claims.as_object_mut().expect("object").remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

#[tokio::test]
async fn valid_rs256_es256_and_hs256_tokens_are_accepted() {
    let f = fixture().await;
    let claims = claims(f.tenant.0);
    for token in [
        f.keys.rs256(RSA_KID, &claims),
        f.keys.es256(EC_KID, &claims),
        hs256(&claims),
    ] {
        let actor = f.verifier.verify(&token).await.expect("valid token");
        assert_eq!(actor.subject, "user-1");
        assert_eq!(actor.role, Role::Supervisor);
        assert_eq!(actor.tenant_id, Some(f.tenant));
    }
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let f = fixture().await;
    let now = keys::now();
    let expired = with(claims(f.tenant.0), json!({ "exp": now - 3600 }));
    assert_eq!(
        f.verifier.verify(&hs256(&expired)).await,
        Err(AuthError::Expired)
    );
    assert_eq!(
        f.verifier.verify(&f.keys.rs256(RSA_KID, &expired)).await,
        Err(AuthError::Expired)
    );
    let early = with(claims(f.tenant.0), json!({ "nbf": now + 3600 }));
    assert_eq!(
        f.verifier.verify(&hs256(&early)).await,
        Err(AuthError::NotYetValid)
    );
    // Within the 30 s leeway both still pass: clocks drift.
    let skewed = with(
        claims(f.tenant.0),
        json!({ "exp": now - 10, "nbf": now + 10 }),
    );
    assert!(f.verifier.verify(&hs256(&skewed)).await.is_ok());
}

#[tokio::test]
async fn tokens_valid_for_longer_than_the_maximum_are_refused() {
    let f = fixture().await;
    let now = keys::now();
    let ten_years = 10 * 366 * 24 * 3600;
    // Issued now for ten years, or with no `iat` and ten years left.
    let issued = with(
        claims(f.tenant.0),
        json!({ "iat": now, "exp": now + ten_years }),
    );
    let no_iat = with(claims(f.tenant.0), json!({ "exp": now + ten_years }));
    for token in [
        hs256(&issued),
        f.keys.rs256(RSA_KID, &issued),
        hs256(&no_iat),
    ] {
        assert_eq!(
            f.verifier.verify(&token).await,
            Err(AuthError::LifetimeTooLong)
        );
    }
    // A day, the default maximum, passes; issued a week ago for eight days
    // does not, though it has a day left.
    let day = with(
        claims(f.tenant.0),
        json!({ "iat": now, "exp": now + 24 * 3600 }),
    );
    assert!(f.verifier.verify(&hs256(&day)).await.is_ok());
    let week = 7 * 24 * 3600;
    let old = with(
        claims(f.tenant.0),
        json!({ "iat": now - week, "exp": now - week + 8 * 24 * 3600 }),
    );
    assert_eq!(
        f.verifier.verify(&hs256(&old)).await,
        Err(AuthError::LifetimeTooLong)
    );
}

#[tokio::test]
async fn wrong_audience_or_issuer_is_refused() {
    let f = fixture().await;
    let wrong_aud = with(claims(f.tenant.0), json!({ "aud": "another-service" }));
    assert_eq!(
        f.verifier.verify(&hs256(&wrong_aud)).await,
        Err(AuthError::WrongAudience)
    );
    assert_eq!(
        f.verifier.verify(&f.keys.es256(EC_KID, &wrong_aud)).await,
        Err(AuthError::WrongAudience)
    );
    let wrong_iss = with(claims(f.tenant.0), json!({ "iss": "https://evil.test" }));
    assert_eq!(
        f.verifier.verify(&hs256(&wrong_iss)).await,
        Err(AuthError::WrongIssuer)
    );
}

#[tokio::test]
async fn missing_required_claims_are_refused() {
    let f = fixture().await;
    for claim in ["exp", "iss", "aud", "sub"] {
        let token = hs256(&with(claims(f.tenant.0), json!({ claim: null })));
        assert_eq!(
            f.verifier.verify(&token).await,
            Err(AuthError::MissingClaim(claim.into())),
            "{claim}"
        );
    }
}

#[tokio::test]
async fn bad_signatures_are_refused() {
    let f = fixture().await;
    let claims = claims(f.tenant.0);
    let other = hmac_token(
        &json!({ "alg": "HS256" }),
        &claims,
        b"another-secret-that-is-32-bytes-long",
    );
    assert_eq!(
        f.verifier.verify(&other).await,
        Err(AuthError::BadSignature)
    );
    // A valid RS256 token whose payload was swapped for a more powerful one.
    let genuine = f.keys.rs256(RSA_KID, &claims);
    let forged_payload = keys::signing_input(
        &json!({}),
        &with(claims.clone(), json!({ "role": "tenant_admin" })),
    );
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged_body: Vec<&str> = forged_payload.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_body[1], parts[2]);
    assert_eq!(
        f.verifier.verify(&forged).await,
        Err(AuthError::BadSignature)
    );
    // An ES256 token signed by a key the JWKS doesn't hold, under its kid.
    let stranger = Keys::generate();
    assert_eq!(
        f.verifier.verify(&stranger.es256(EC_KID, &claims)).await,
        Err(AuthError::BadSignature)
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let f = fixture().await;
    let claims = claims(f.tenant.0);
    for alg in ["none", "None", "NONE"] {
        let unsigned = format!(
            "{}.",
            keys::signing_input(&json!({ "alg": alg, "typ": "JWT" }), &claims)
        );
        assert_eq!(
            f.verifier.verify(&unsigned).await,
            Err(AuthError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let f = fixture().await;
    let claims = with(claims(f.tenant.0), json!({ "role": "tenant_admin" }));
    let pem = f.keys.rsa_public_pem();
    // The classic confusion: the attacker knows the public key and signs an
    // HS256 token with it, pointing `kid` at the RSA key.
    let header = json!({ "alg": "HS256", "typ": "JWT", "kid": RSA_KID });
    let confused = hmac_token(&header, &claims, pem.as_bytes());
    assert_eq!(
        f.verifier.verify(&confused).await,
        Err(AuthError::BadSignature)
    );

    // With no HS256 secret configured at all, HS256 isn't even considered.
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    let jwks_file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(jwks_file.path(), f.keys.jwks().to_string()).expect("write jwks");
    config.jwks = Some(JwksSource::File(jwks_file.path().to_owned()));
    let jwks_only = TokenVerifier::new(config).await.expect("verifier");
    assert_eq!(
        jwks_only.verify(&confused).await,
        Err(AuthError::UnsupportedAlgorithm)
    );
    assert!(
        jwks_only
            .verify(&f.keys.rs256(RSA_KID, &claims))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unknown_kid_or_a_key_of_another_type_is_refused() {
    let f = fixture().await;
    let claims = claims(f.tenant.0);
    assert_eq!(
        f.verifier
            .verify(&f.keys.rs256("no-such-key", &claims))
            .await,
        Err(AuthError::UnknownKey)
    );
    // An ES256 token naming the RSA key: the key decides the algorithm.
    assert_eq!(
        f.verifier.verify(&f.keys.es256(RSA_KID, &claims)).await,
        Err(AuthError::UnsupportedAlgorithm)
    );
    // Algorithms we don't accept at all.
    let rs512 = format!(
        "{}.c2ln",
        keys::signing_input(&json!({ "alg": "RS512", "kid": RSA_KID }), &claims)
    );
    assert_eq!(
        f.verifier.verify(&rs512).await,
        Err(AuthError::UnsupportedAlgorithm)
    );
}

#[tokio::test]
async fn role_and_scope_must_agree() {
    let f = fixture().await;
    let bpo = uuid::Uuid::new_v4().to_string();
    let cases = [
        json!({ "tenant_id": null }), // supervisor without tenant
        json!({ "role": "bpo_admin", "tenant_id": null }), // bpo admin without bpo
        json!({ "role": "bpo_admin", "bpo_id": bpo }), // bpo admin with a tenant
        json!({ "role": "platform_admin" }), // platform admin with a tenant
        json!({ "role": "agent" }),   // agent without agent id
        json!({ "role": "root" }),    // no such role
        json!({ "role": "Supervisor" }), // roles are snake_case
        json!({ "sub": " " }),        // empty subject
    ];
    for changes in cases {
        let token = hs256(&with(claims(f.tenant.0), changes.clone()));
        assert!(
            matches!(
                f.verifier.verify(&token).await,
                Err(AuthError::InvalidClaims(_))
            ),
            "{changes}"
        );
    }
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let f = fixture().await;
    for token in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.e30"] {
        assert_eq!(
            f.verifier.verify(token).await,
            Err(AuthError::Malformed),
            "{token}"
        );
    }
    // `crit` names extensions we would have to understand: refuse.
    let crit = hmac_token(
        &json!({ "alg": "HS256", "crit": ["exp"] }),
        &claims(f.tenant.0),
        HS_SECRET,
    );
    assert_eq!(f.verifier.verify(&crit).await, Err(AuthError::Malformed));
}

#[tokio::test]
async fn issued_hs256_tokens_verify() {
    let f = fixture().await;
    let actor = crate::support::tenant_user(Role::Agent, f.tenant);
    let token =
        issue_hs256(HS_SECRET, ISSUER, AUDIENCE, &actor, Duration::from_secs(60)).expect("token");
    assert_eq!(f.verifier.verify(&token).await, Ok(actor.clone()));
    let elsewhere = issue_hs256(
        HS_SECRET,
        ISSUER,
        "another-audience",
        &actor,
        Duration::from_secs(60),
    )
    .expect("token");
    assert_eq!(
        f.verifier.verify(&elsewhere).await,
        Err(AuthError::WrongAudience)
    );
}

#[tokio::test]
async fn misconfigurations_fail_at_startup() {
    let mut short = AuthConfig::new(ISSUER, AUDIENCE);
    short.hs256_secret = Some(b"short".to_vec());
    assert!(matches!(
        TokenVerifier::new(short).await,
        Err(AuthError::Config(_))
    ));
    let keyless = AuthConfig::new(ISSUER, AUDIENCE);
    assert!(matches!(
        TokenVerifier::new(keyless).await,
        Err(AuthError::Config(_))
    ));
    // A JWKS holding only a symmetric key: never taken as an HMAC secret.
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let oct = json!({ "keys": [{ "kty": "oct", "kid": "k", "k": "c2VjcmV0" }] });
    std::fs::write(file.path(), oct.to_string()).expect("write");
    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.jwks = Some(JwksSource::File(file.path().to_owned()));
    assert!(matches!(
        TokenVerifier::new(config).await,
        Err(AuthError::JwksUnavailable(_))
    ));
}

#[tokio::test]
async fn jwks_is_fetched_from_a_url() {
    let keys = Keys::generate();
    let jwks = keys.jwks().to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = HttpServer::new(move || {
        let jwks = jwks.clone();
        App::new().route(
            "/.well-known/jwks.json",
            web::get().to(move || {
                let jwks = jwks.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(jwks)
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);

    let mut config = AuthConfig::new(ISSUER, AUDIENCE);
    config.jwks = Some(JwksSource::Url(format!(
        "http://127.0.0.1:{port}/.well-known/jwks.json"
    )));
    let verifier = TokenVerifier::new(config).await.expect("jwks fetched");
    let claims = claims(uuid::Uuid::new_v4());
    assert!(verifier.verify(&keys.es256(EC_KID, &claims)).await.is_ok());
    assert!(verifier.verify(&keys.rs256(RSA_KID, &claims)).await.is_ok());
    assert_eq!(
        verifier.verify(&keys.rs256("rotated-away", &claims)).await,
        Err(AuthError::UnknownKey)
    );
}

#[tokio::test]
async fn a_refused_token_makes_every_field_unauthenticated() {
    let app = spawn_app().await;
    let tenant = app.metadata.world.tenant_a.0;
    let expired = hs256(&with(claims(tenant), json!({ "exp": keys::now() - 3600 })));
    let query = "query($t: UUID!) { me { role } users(tenantId: $t) { id } }";
    for token in [None, Some(expired.as_str()), Some("garbage")] {
        let answer = app.gql(token, query, json!({ "t": tenant })).await;
        assert_eq!(
            error_codes(&answer),
            ["UNAUTHENTICATED", "UNAUTHENTICATED"],
            "{answer}"
        );
        assert!(answer["data"].is_null(), "{answer}");
    }
    assert!(app.metadata.calls().is_empty());
    let valid = hs256(&claims(tenant));
    let answer = app
        .gql(Some(&valid), "{ me { role subject tenantId } }", json!({}))
        .await;
    assert_eq!(answer["data"]["me"]["role"], "SUPERVISOR", "{answer}");
}
