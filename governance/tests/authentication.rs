//! Bearer tokens checked against real keys (RSA, EC P-256, HMAC) from JWKS documents
//! read from a file and served over HTTP.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use dictamesh_governance::authn::AuthenticationError;
use dictamesh_governance::authn::Authenticator;
use dictamesh_governance::authn::JwksConfig;
use dictamesh_governance::authn::JwtConfig;
use jsonwebtoken::Algorithm;
use jsonwebtoken::EncodingKey;
use jsonwebtoken::Header;
use serde_json::Value;
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Signs `claims` with a fixture key (`rsa`, `ec`, `hmac` or `other-rsa`), naming `kid`.
fn sign(key: &str, kid: &str, claims: &Value) -> String {
    let read = |name: &str| std::fs::read(fixture(name)).expect("fixture key");
    let (algorithm, encoding) = match key {
        "rsa" | "other-rsa" => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(&read(&format!("{key}.pem"))).expect("rsa key"),
        ),
        "ec" => (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(&read("ec.pem")).expect("ec key"),
        ),
        _ => (Algorithm::HS256, EncodingKey::from_secret(&read("hmac.secret"))),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &encoding).expect("token")
}

fn claims() -> Value {
    json!({
        "sub": "ada",
        "iss": "https://issuer.example",
        "aud": "dictamesh",
        "exp": now() + 300,
        "scope": "read:users read:email",
    })
}

fn config(url: String) -> JwtConfig {
    JwtConfig {
        jwks: vec![JwksConfig {
            url,
            poll_interval: Duration::from_millis(100),
        }],
        issuer: Some("https://issuer.example".into()),
        audience: vec!["dictamesh".into()],
        algorithms: vec![Algorithm::HS256, Algorithm::RS256, Algorithm::ES256],
        clock_skew: Duration::from_secs(30),
        header_name: "authorization".into(),
        header_value_prefix: "Bearer".into(),
    }
}

fn file_authenticator() -> Authenticator {
    let url = format!("file://{}", fixture("jwks.json").display());
    Authenticator::new(&config(url)).expect("the JWKS file loads")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn tokens_signed_with_rs256_es256_and_hs256_authenticate_with_their_scopes() {
    let authenticator = file_authenticator();
    for (key, kid) in [("rsa", "rsa-1"), ("ec", "ec-1"), ("hmac", "hmac-1")] {
        let caller = authenticator
            .authenticate(Some(&bearer(&sign(key, kid, &claims()))))
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(caller.is_authenticated(), "{key}");
        assert_eq!(caller.subject(), Some("ada"));
        assert!(caller.scopes().contains("read:email"));
    }
    let anonymous = authenticator.authenticate(None).expect("no header is anonymous");
    assert!(!anonymous.is_authenticated());
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_reason() {
    let authenticator = file_authenticator();
    let refuse = |header: String| authenticator.authenticate(Some(&header)).expect_err("refused");
    let with = |change: Value| {
        let mut claims = claims();
        if let (Some(claims), Some(change)) = (claims.as_object_mut(), change.as_object()) {
            claims.extend(change.clone());
        }
        claims
    };
    assert_eq!(
        refuse(bearer(&sign(
            "rsa",
            "rsa-1",
            &with(json!({ "exp": now() - 120 }))
        ))),
        AuthenticationError::Expired
    );
    assert!(
        authenticator
            .authenticate(Some(&bearer(&sign(
                "rsa",
                "rsa-1",
                &with(json!({ "exp": now() - 10 }))
            ))))
            .is_ok(),
        "within the clock skew"
    );
    assert_eq!(
        refuse(bearer(&sign(
            "rsa",
            "rsa-1",
            &with(json!({ "aud": "someone-else" }))
        ))),
        AuthenticationError::WrongAudience
    );
    assert_eq!(
        refuse(bearer(&sign(
            "ec",
            "ec-1",
            &with(json!({ "iss": "https://evil.example" }))
        ))),
        AuthenticationError::WrongIssuer
    );
    assert_eq!(
        refuse(bearer(&sign("other-rsa", "rsa-1", &claims()))),
        AuthenticationError::InvalidSignature
    );
    assert!(matches!(
        refuse(bearer("not.a.token")),
        AuthenticationError::Malformed(_)
    ));
    assert!(matches!(
        refuse(sign("rsa", "rsa-1", &claims())),
        AuthenticationError::MissingPrefix { .. }
    ));
    assert!(matches!(
        refuse(bearer(&sign("rsa", "unknown-kid", &claims()))),
        AuthenticationError::UnknownKey { .. }
    ));
    let mut no_expiry = claims();
    no_expiry.as_object_mut().map(|c| c.remove("exp"));
    assert_eq!(
        refuse(bearer(&sign("hmac", "hmac-1", &no_expiry))),
        AuthenticationError::MissingClaim("exp".into())
    );
}

#[test]
fn a_missing_jwks_file_stops_the_start() {
    let error = Authenticator::new(&config("file:///nonexistent/jwks.json".into())).expect_err("no file");
    assert!(error.to_string().contains("/nonexistent/jwks.json"), "{error}");
}

#[tokio::test]
async fn a_jwks_url_is_fetched_and_refreshed() {
    let full: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("jwks.json")).expect("jwks")).expect("json");
    let only_ec = json!({ "keys": [full["keys"][1].clone()] });
    let served = Arc::new(Mutex::new(only_ec.to_string()));
    let document = served.clone();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let document = document.clone();
            async move { document.lock().map(|d| d.clone()).unwrap_or_default() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let authenticator =
        Authenticator::new(&config(format!("http://{address}/jwks.json"))).expect("authenticator");
    let ec_token = bearer(&sign("ec", "ec-1", &claims()));
    let rsa_token = bearer(&sign("rsa", "rsa-1", &claims()));
    let accepted = |token: &str| authenticator.authenticate(Some(token)).is_ok();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !accepted(&ec_token) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(accepted(&ec_token), "the EC key was fetched");
    assert!(!accepted(&rsa_token), "the RSA key is not published yet");

    *served.lock().expect("lock") = full.to_string();
    while !accepted(&rsa_token) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        accepted(&rsa_token),
        "the rotated-in RSA key was picked up by a refresh"
    );
}

#[tokio::test]
async fn a_remembered_token_still_expires() {
    let mut config = config(format!("file://{}", fixture("jwks.json").display()));
    config.clock_skew = Duration::ZERO;
    let authenticator = Authenticator::new(&config).expect("authenticator");
    let mut claims = claims();
    claims["exp"] = json!(now() + 1);
    let header = bearer(&sign("rsa", "rsa-1", &claims));
    assert!(authenticator.authenticate(Some(&header)).is_ok());
    assert!(authenticator.authenticate(Some(&header)).is_ok(), "remembered");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        authenticator.authenticate(Some(&header)).expect_err("expired"),
        AuthenticationError::Expired
    );
}
