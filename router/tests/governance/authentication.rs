//! Authentication through the router: bad tokens get 401 `UNAUTHENTICATED` without
//! detail, no token is an anonymous request, and bad governance files stop the start.

use dictamesh_router::config::RouterConfig;
use dictamesh_router::server;
use serde_json::{Value, json};

use crate::mesh::{self, Who, claims, token};

fn refused_body() -> Value {
    json!({ "errors": [{ "message": "The request is not authenticated.", "extensions": { "code": "UNAUTHENTICATED" } }] })
}

#[tokio::test]
async fn bad_tokens_get_401_unauthenticated_without_detail() {
    let mesh = mesh::start("{}").await;
    let query = json!({ "query": "{ users { name } }" });
    let expired = token(&claims("", "guest", json!({ "exp": 1_000_000 })), "rsa.pem");
    let wrong_audience = token(&claims("", "guest", json!({ "aud": "another-api" })), "rsa.pem");
    let forged = token(&claims("hr:read", "auditor", json!({})), "other-rsa.pem");
    for (case, header) in [
        ("expired", format!("Bearer {expired}")),
        ("wrong audience", format!("Bearer {wrong_audience}")),
        ("wrong signature", format!("Bearer {forged}")),
        ("malformed", "Bearer abc.def".to_string()),
        ("not a bearer token", "Basic dXNlcjpwYXNz".to_string()),
    ] {
        let (status, body) = mesh.post(query.clone(), Some(header)).await;
        assert_eq!(status, 401, "{case}: {body}");
        assert_eq!(body, refused_body(), "{case}: nothing but the code is told");
    }
    let response = reqwest::Client::new()
        .get(format!(
            "http://{}/graphql?query=%7Busers%7Bname%7D%7D",
            mesh.router
        ))
        .header("authorization", "Bearer abc.def")
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .expect("router answers");
    assert_eq!(response.status().as_u16(), 401, "GET is authenticated too");
}

#[tokio::test]
async fn no_token_is_an_anonymous_request_and_a_valid_one_is_authenticated() {
    let mesh = mesh::start("{}").await;
    let (status, body) = mesh.query("{ user(id: \"u2\") { name } }", Who::Anonymous).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["name"], "Alan");
    let (status, body) = mesh.query("{ user(id: \"u2\") { email } }", Who::Denied).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["user"]["email"], "alan@example.com",
        "a valid token authenticates"
    );
}

#[tokio::test]
async fn require_authentication_refuses_anonymous_requests() {
    let yaml = format!("{}  require_authentication: true\n", mesh::config_yaml("{}"));
    let config = RouterConfig::from_yaml(&yaml, "router.yaml", |_| None).expect("config");
    assert!(config.authorization.require_authentication);
    let mesh = mesh::start_with(&yaml).await;
    let (status, body) = mesh.query("{ users { name } }", Who::Anonymous).await;
    assert_eq!((status, body), (401, refused_body()));
    let (status, _) = mesh.query("{ users { name } }", Who::Denied).await;
    assert_eq!(status, 200);
}

const SUPERGRAPH: &str = include_str!("../fixtures/products_reviews.graphql");

#[test]
fn a_policy_file_that_does_not_parse_stops_the_start_with_its_file_and_line() {
    let policy = std::env::temp_dir().join(format!("dictamesh-broken-{}.rego", std::process::id()));
    std::fs::write(&policy, "package authz\n\nallow if {\n  input.x ==\n}\n").expect("write");
    let yaml = format!(
        "authorization:\n  policies: {{ files: [\"{}\"] }}\n",
        policy.display()
    );
    let config = RouterConfig::from_yaml(&yaml, "router.yaml", |_| None).expect("config");
    let error = server::build_pipeline(SUPERGRAPH, &config, server::subgraph_client(&config))
        .err()
        .expect("the start fails");
    let text = error.to_string();
    let at = format!("{}:5:", policy.display());
    assert!(text.contains(&at), "names the file and line: {text}");
}

#[test]
fn a_missing_jwks_file_stops_the_start_and_bad_keys_are_reported_with_their_line() {
    let yaml = "authentication:\n  jwt:\n    jwks: [{ url: \"file:///nonexistent/jwks.json\" }]\n";
    let config = RouterConfig::from_yaml(yaml, "router.yaml", |_| None).expect("config");
    let error = server::build_pipeline(SUPERGRAPH, &config, server::subgraph_client(&config))
        .err()
        .expect("the start fails");
    assert!(error.to_string().contains("/nonexistent/jwks.json"), "{error}");
    let bad = "authentication:\n  jwt:\n    jwks: []\n    clock_skew: soon\n";
    let error = RouterConfig::from_yaml(bad, "router.yaml", |_| None).expect_err("bad duration");
    assert!(error.to_string().contains("router.yaml:4"), "{error}");
}

#[tokio::test]
async fn the_rate_limit_can_be_keyed_by_a_token_claim() {
    let yaml = format!(
        "{}traffic_shaping:\n  router:\n    rate_limit: {{ per_second: 1, burst: 2, key: {{ claim: sub }} }}\n",
        mesh::config_yaml("{}")
    );
    let mesh = mesh::start_with(&yaml).await;
    let as_subject = |subject: &str| {
        Some(format!(
            "Bearer {}",
            token(&claims("", "guest", json!({ "sub": subject })), "rsa.pem")
        ))
    };
    let query = json!({ "query": "{ __typename }" });
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(mesh.post(query.clone(), as_subject("alice")).await.0);
    }
    assert_eq!(&statuses[..2], &[200, 200], "{statuses:?}");
    assert!(
        statuses.contains(&429),
        "alice's budget of 2 at once runs out: {statuses:?}"
    );
    let (status, body) = mesh.post(query, as_subject("bob")).await;
    assert_eq!(status, 200, "bob has his own budget: {body}");
}
