//! The governed mesh: `accounts` (users whose fields carry the directives),
//! `billing` (a user's credit score, `@authenticated`), `records` (types that carry
//! the directives) and `notices` (interfaces that carry them), behind a router that
//! checks JWTs against the fixture JWKS and evaluates `@policy` with a Rego file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use async_graphql::dynamic;
use dictamesh::testing::MemoryAdapter;
use dictamesh::{ID, Subgraph};
use dictamesh_router::compose::SubgraphInput;
use dictamesh_router::config::RouterConfig;
use dictamesh_router::http::RouterState;
use dictamesh_router::server;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A user of `accounts`: each restricted field carries one directive.
#[dictamesh::entity(key = "id", lookup = "user", list = "users")]
#[derive(Clone, Debug)]
pub struct User {
    pub id: ID,
    pub name: String,
    /// Non-null: denying it nulls the user (null propagation).
    #[dictamesh(authenticated)]
    pub email: String,
    #[dictamesh(requires_scopes = [["hr:read"], ["admin"]])]
    pub salary: Option<i32>,
    #[dictamesh(policy = [["authz.pii"]])]
    pub ssn: Option<String>,
    /// Personal data: masked without the PII scope, its reads audited.
    #[dictamesh(pii)]
    pub phone: Option<String>,
}

/// `billing`'s view of a user.
#[dictamesh::entity(key = "id", name = "User", lookup = "billingOf")]
#[derive(Clone, Debug)]
pub struct BillingUser {
    pub id: ID,
    #[dictamesh(authenticated)]
    pub credit_score: Option<i32>,
}

/// A type that needs authentication.
#[dictamesh::entity(key = "id", authenticated, list = "invoices")]
#[derive(Clone, Debug)]
pub struct Invoice {
    pub id: ID,
    pub total: i32,
}

/// A type that needs a scope.
#[dictamesh::entity(key = "id", requires_scopes = [["hr:read"]], list = "payslips")]
#[derive(Clone, Debug)]
pub struct Payslip {
    pub id: ID,
    pub amount: i32,
}

/// A type behind a policy.
#[dictamesh::entity(key = "id", policy = [["authz.medical"]], list = "medicalRecords")]
#[derive(Clone, Debug)]
pub struct MedicalRecord {
    pub id: ID,
    pub diagnosis: String,
}

/// The `notices` subgraph's SDL: one interface per directive.
const NOTICES_SDL: &str = r#"
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@authenticated", "@requiresScopes", "@policy"])
type Query {
  notices: [Notice!]
  memos: [Memo!]
  ledgers: [Ledger!]
}
interface Notice @authenticated { id: ID! text: String }
type Bulletin implements Notice { id: ID! text: String }
interface Memo @requiresScopes(scopes: [["memo:read"]]) { id: ID! text: String }
type Note implements Memo { id: ID! text: String }
interface Ledger @policy(policies: [["authz.ledger"]]) { id: ID! text: String }
type Entry implements Ledger { id: ID! text: String }
"#;

/// The policies: auditors may read PII, medical records and ledgers.
const POLICY: &str = r#"package authz

pii if input.claims.role == "auditor"

medical if {
  input.claims.role == "auditor"
  input.returnType == "MedicalRecord"
}

ledger if input.claims.role == "auditor"
"#;

/// One interface implementation, as the `notices` subgraph holds it.
struct Item {
    id: &'static str,
    text: &'static str,
}

fn notices_schema() -> dynamic::Schema {
    use dynamic::{Field, FieldFuture, FieldValue, Interface, InterfaceField, Object, TypeRef};
    let item_field = |name: &'static str, ty: TypeRef| {
        Field::new(name, ty, move |ctx| {
            FieldFuture::new(async move {
                let item = ctx.parent_value.try_downcast_ref::<Item>()?;
                let value = if name == "id" { item.id } else { item.text };
                Ok(Some(async_graphql::Value::from(value)))
            })
        })
    };
    let mut query = Object::new("Query");
    let mut builder: Vec<dynamic::Type> = Vec::new();
    for (root, interface, object, id) in [
        ("notices", "Notice", "Bulletin", "n1"),
        ("memos", "Memo", "Note", "m1"),
        ("ledgers", "Ledger", "Entry", "l1"),
    ] {
        builder.push(
            Interface::new(interface)
                .field(InterfaceField::new("id", TypeRef::named_nn(TypeRef::ID)))
                .field(InterfaceField::new("text", TypeRef::named(TypeRef::STRING)))
                .into(),
        );
        builder.push(
            Object::new(object)
                .implement(interface)
                .field(item_field("id", TypeRef::named_nn(TypeRef::ID)))
                .field(item_field("text", TypeRef::named(TypeRef::STRING)))
                .into(),
        );
        query = query.field(Field::new(root, TypeRef::named_nn_list(interface), move |_| {
            FieldFuture::new(async move {
                Ok(Some(FieldValue::list([FieldValue::owned_any(Item {
                    id,
                    text: "posted",
                })
                .with_type(object)])))
            })
        }));
    }
    let mut schema = dynamic::Schema::build("Query", None, None).register(query);
    for ty in builder {
        schema = schema.register(ty);
    }
    schema.finish().expect("the notices schema builds")
}

/// Serves an async-graphql schema (POST /graphql).
async fn serve_dynamic(schema: dynamic::Schema) -> SocketAddr {
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move |axum::Json(request): axum::Json<async_graphql::Request>| {
            let schema = schema.clone();
            async move { axum::Json(schema.execute(request).await) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

async fn serve_subgraph(subgraph: Subgraph) -> (SocketAddr, String) {
    let sdl = subgraph.sdl().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(dictamesh::serve(subgraph, listener, std::future::pending()));
    (address, sdl)
}

/// A fixture of the governance crate (keys, JWKS).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../governance/tests/fixtures")
        .join(name)
}

/// The running router.
pub struct Mesh {
    /// Its address.
    pub router: SocketAddr,
}

/// The router configuration for the mesh, with `authorization_directives` as the YAML
/// flow mapping of `authorization.directives`.
pub fn config_yaml(authorization_directives: &str) -> String {
    // Written once: tests running in parallel read it while others start.
    static POLICY_FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let policy = POLICY_FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("dictamesh-governance-e2e-{}.rego", std::process::id()));
        std::fs::write(&path, POLICY).expect("write the policy");
        path
    });
    format!(
        "authentication:\n  jwt:\n    jwks: [{{ url: \"file://{}\" }}]\n    issuer: https://issuer.example\n    audience: [dictamesh]\n    clock_skew: 30s\nauthorization:\n  directives: {authorization_directives}\n  policies: {{ files: [\"{}\"] }}\n",
        fixture("jwks.json").display(),
        policy.display(),
    )
}

/// Starts the subgraphs and a router configured by `config_yaml(directives)`.
pub async fn start(directives: &str) -> Mesh {
    start_with(&config_yaml(directives)).await
}

/// Starts the subgraphs and a router configured by `yaml`.
pub async fn start_with(yaml: &str) -> Mesh {
    let users = vec![
        User {
            id: ID("u1".into()),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            salary: Some(100),
            ssn: Some("123-45".into()),
            phone: Some("+44 1".into()),
        },
        User {
            id: ID("u2".into()),
            name: "Alan".into(),
            email: "alan@example.com".into(),
            salary: Some(90),
            ssn: Some("678-90".into()),
            phone: Some("+44 2".into()),
        },
    ];
    let billing = vec![
        BillingUser {
            id: ID("u1".into()),
            credit_score: Some(700),
        },
        BillingUser {
            id: ID("u2".into()),
            credit_score: Some(650),
        },
    ];
    let accounts = Subgraph::builder("accounts")
        .entity(MemoryAdapter::new(users))
        .build()
        .expect("accounts");
    let billing = Subgraph::builder("billing")
        .entity(MemoryAdapter::new(billing))
        .build()
        .expect("billing");
    let records = Subgraph::builder("records")
        .entity(MemoryAdapter::new(vec![Invoice {
            id: ID("i1".into()),
            total: 42,
        }]))
        .entity(MemoryAdapter::new(vec![Payslip {
            id: ID("p1".into()),
            amount: 3000,
        }]))
        .entity(MemoryAdapter::new(vec![MedicalRecord {
            id: ID("r1".into()),
            diagnosis: "healthy".into(),
        }]))
        .build()
        .expect("records");
    let mut inputs = Vec::new();
    for (name, subgraph) in [("accounts", accounts), ("billing", billing), ("records", records)] {
        let (address, sdl) = serve_subgraph(subgraph).await;
        if std::env::var("SHOW_SDL").is_ok() {
            eprintln!("{sdl}");
        }
        inputs.push(SubgraphInput {
            name: name.to_string(),
            url: format!("http://{address}/graphql"),
            sdl,
        });
    }
    let notices = serve_dynamic(notices_schema()).await;
    inputs.push(SubgraphInput {
        name: "notices".to_string(),
        url: format!("http://{notices}/graphql"),
        sdl: NOTICES_SDL.to_string(),
    });
    let supergraph = dictamesh_router::compose::compose(&inputs)
        .expect("the governed mesh composes")
        .sdl;
    let config = RouterConfig::from_yaml(yaml, "router.yaml", |_| None).expect("config");
    let pipeline =
        server::build_pipeline(&supergraph, &config, server::subgraph_client(&config)).expect("pipeline");
    let state = std::sync::Arc::new(RouterState::new(pipeline, server::http_options(&config)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let router = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, state, std::future::pending()));
    Mesh { router }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Valid claims with the given scopes and role; `change` overrides some.
pub fn claims(scope: &str, role: &str, change: Value) -> Value {
    let mut claims = json!({
        "sub": "tester",
        "iss": "https://issuer.example",
        "aud": "dictamesh",
        "exp": now() + 300,
        "scope": scope,
        "role": role,
    });
    if let (Some(claims), Some(change)) = (claims.as_object_mut(), change.as_object()) {
        claims.extend(change.clone());
    }
    claims
}

/// A token for `claims`, signed with the fixture RSA key (`other-rsa.pem` forges one).
pub fn token(claims: &Value, key_file: &str) -> String {
    let key = std::fs::read(fixture(key_file)).expect("fixture key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&key).expect("rsa key"),
    )
    .expect("token")
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// A token with every scope and the auditor role.
    Allowed,
    /// A valid token without scopes, role guest.
    Denied,
    /// No token.
    Anonymous,
}

impl Who {
    /// The `Authorization` header value for this caller.
    pub fn header(self) -> Option<String> {
        match self {
            Who::Allowed => Some(token(
                &claims("hr:read memo:read pii:read", "auditor", json!({})),
                "rsa.pem",
            )),
            Who::Denied => Some(token(&claims("", "guest", json!({})), "rsa.pem")),
            Who::Anonymous => None,
        }
        .map(|token| format!("Bearer {token}"))
    }
}

impl Mesh {
    /// POSTs `body` with an optional `Authorization` header and the plan exposed;
    /// returns the status and body.
    pub async fn post(&self, body: Value, authorization: Option<String>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("http://{}/graphql", self.router))
            .header("dictamesh-expose-query-plan", "true")
            .json(&body);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("router answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    /// POSTs `{ query }` as `who`.
    pub async fn query(&self, query: &str, who: Who) -> (u16, Value) {
        self.post(json!({ "query": query }), who.header()).await
    }
}
