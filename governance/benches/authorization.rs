//! Authorization overhead per request with a cached plan: deciding what a caller may
//! select in a 50-field operation (the plan cache key included), for a caller
//! allowed everything and for one denied ten fields; and, for comparison,
//! authenticating a bearer token already verified once (the signature check itself
//! is paid by a token's first request).

use std::hint::black_box;
use std::time::Duration;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Schema;
use criterion::Criterion;
use criterion::criterion_group;
use criterion::criterion_main;
use dictamesh_governance::Caller;
use dictamesh_governance::authn::Authenticator;
use dictamesh_governance::authn::JwksConfig;
use dictamesh_governance::authn::JwtConfig;
use dictamesh_governance::authz::Authorizer;
use dictamesh_governance::authz::DirectivesConfig;
use dictamesh_governance::policy::PolicyEngine;

/// `Query.items: [Item]`, `Item` with 49 fields: every fifth one restricted
/// (alternately `@authenticated` and `@requiresScopes`).
fn schema_and_operation() -> (Schema, String) {
    let mut sdl = String::from(
        "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n\
         directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n\
         type Query { items: [Item] }\ntype Item {\n",
    );
    let mut selection = String::from("{ items {");
    for index in 0..49 {
        let directive = match index % 5 {
            0 if index % 10 == 0 => " @authenticated",
            0 => " @requiresScopes(scopes: [[\"read:items\", \"read:more\"], [\"admin\"]])",
            _ => "",
        };
        sdl.push_str(&format!("  f{index}: String{directive}\n"));
        selection.push_str(&format!(" f{index}"));
    }
    sdl.push_str("}\n");
    selection.push_str(" } }");
    let schema = Schema::parse_and_validate(sdl, "bench.graphql").expect("schema");
    (schema.into_inner(), selection)
}

fn caller(scope: &str) -> Caller {
    let claims = serde_json::json!({ "sub": "bench", "scope": scope });
    Caller::authenticated(claims.as_object().cloned().unwrap_or_default())
}

fn authorization(c: &mut Criterion) {
    let (schema, query) = schema_and_operation();
    let authorizer = Authorizer::new(
        &schema,
        &DirectivesConfig::default(),
        None,
        PolicyEngine::default(),
    );
    let valid = Schema::parse_and_validate(schema.to_string(), "bench.graphql").expect("schema");
    let document = ExecutableDocument::parse_and_validate(&valid, &query, "q.graphql").expect("operation");
    let operation = document.operations.get(None).expect("operation");
    let allowed = caller("read:items read:more");
    let anonymous = Caller::anonymous();
    c.bench_function("authorize 50 fields, all allowed", |b| {
        b.iter(|| {
            let decision = authorizer.decide(&document, operation, black_box(&allowed));
            black_box(decision.plan_key())
        })
    });
    c.bench_function("authorize 50 fields, 10 denied (with errors)", |b| {
        b.iter(|| {
            let decision = authorizer.decide(&document, operation, black_box(&anonymous));
            black_box((decision.plan_key(), decision.errors()))
        })
    });
}

fn authentication(c: &mut Criterion) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let authenticator = Authenticator::new(&JwtConfig {
        jwks: vec![JwksConfig {
            url: format!("file://{}", fixtures.join("jwks.json").display()),
            poll_interval: Duration::from_secs(3600),
        }],
        issuer: None,
        audience: Vec::new(),
        algorithms: vec![jsonwebtoken::Algorithm::HS256, jsonwebtoken::Algorithm::RS256],
        clock_skew: Duration::from_secs(60),
        header_name: "authorization".into(),
        header_value_prefix: "Bearer".into(),
    })
    .expect("authenticator");
    let claims = serde_json::json!({ "sub": "bench", "exp": 4_000_000_000u64, "scope": "read:items" });
    for (name, algorithm, key) in [
        (
            "authenticate HS256, remembered token",
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::EncodingKey::from_secret(
                &std::fs::read(fixtures.join("hmac.secret")).expect("secret"),
            ),
        ),
        (
            "authenticate RS256, remembered token",
            jsonwebtoken::Algorithm::RS256,
            jsonwebtoken::EncodingKey::from_rsa_pem(&std::fs::read(fixtures.join("rsa.pem")).expect("key"))
                .expect("rsa"),
        ),
    ] {
        let mut header = jsonwebtoken::Header::new(algorithm);
        header.kid = Some(
            if algorithm == jsonwebtoken::Algorithm::HS256 {
                "hmac-1"
            } else {
                "rsa-1"
            }
            .into(),
        );
        let token = format!(
            "Bearer {}",
            jsonwebtoken::encode(&header, &claims, &key).expect("token")
        );
        c.bench_function(name, |b| {
            b.iter(|| black_box(authenticator.authenticate(Some(black_box(&token))).is_ok()))
        });
    }
}

criterion_group!(benches, authorization, authentication);
criterion_main!(benches);
