//! A small mesh built with the kit: `products` owns products, `reviews` adds their
//! reviews, `inventory` adds stock and a shipping estimate that `@requires` the
//! product's price and weight. The router is composed from their SDLs and served on a
//! port the OS picks.

use std::net::SocketAddr;
use std::sync::Arc;

use dictamesh::testing::MemoryAdapter;
use dictamesh::{AdapterError, DataProductAdapter, EntityKey, ID, Subgraph, async_trait};
use dictamesh_router::compose::SubgraphInput;
use dictamesh_router::config::RouterConfig;
use dictamesh_router::http::RouterState;
use dictamesh_router::server;
use serde_json::{Value, json};

/// A product, owned by `products`.
#[dictamesh::entity(key = "id", lookup = "product", list = "products")]
#[derive(Clone, Debug)]
pub struct Product {
    pub id: ID,
    pub name: String,
    pub price: i32,
    pub weight: i32,
}

/// A review.
#[dictamesh::object]
#[derive(Clone, Debug)]
pub struct Review {
    pub body: String,
    pub stars: i32,
}

/// `reviews`' view of a product. (The lookup gives the subgraph a root field: the kit
/// prints an empty `type Query {}` otherwise.)
#[dictamesh::entity(key = "id", name = "Product", lookup = "reviewsOf")]
#[derive(Clone, Debug)]
pub struct ReviewedProduct {
    pub id: ID,
    pub reviews: Vec<Review>,
}

/// `inventory`'s view of a product.
#[dictamesh::entity(key = "id", extends, name = "Product", lookup = "stockOf")]
#[derive(Clone, Debug)]
pub struct StockedProduct {
    pub id: ID,
    #[dictamesh(external)]
    pub price: i32,
    #[dictamesh(external)]
    pub weight: i32,
    pub in_stock: Option<bool>,
    #[dictamesh(requires = "price weight")]
    pub shipping_estimate: i32,
}

/// Resolves `StockedProduct` from the representation (the key and the `@requires`
/// fields).
struct Warehouse;

#[async_trait]
impl DataProductAdapter for Warehouse {
    type Entity = StockedProduct;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<StockedProduct>>, AdapterError> {
        Ok(keys
            .iter()
            .map(|key| {
                let representation = key.representation();
                let number = |field: &str| {
                    representation
                        .get(field)
                        .and_then(Value::as_i64)
                        .and_then(|n| i32::try_from(n).ok())
                        .unwrap_or(0)
                };
                let id = key.get_str("id")?.to_string();
                Some(StockedProduct {
                    in_stock: Some(id != "p2"),
                    id: ID(id),
                    price: number("price"),
                    weight: number("weight"),
                    shipping_estimate: number("price") / 10 + number("weight") * 2,
                })
            })
            .collect())
    }
}

fn products() -> Vec<Product> {
    vec![
        Product {
            id: ID("p1".into()),
            name: "Desk".into(),
            price: 300,
            weight: 20,
        },
        Product {
            id: ID("p2".into()),
            name: "Lamp".into(),
            price: 50,
            weight: 2,
        },
    ]
}

fn reviews() -> Vec<ReviewedProduct> {
    let review = |body: &str, stars| Review {
        body: body.into(),
        stars,
    };
    vec![
        ReviewedProduct {
            id: ID("p1".into()),
            reviews: vec![review("Sturdy", 5), review("Heavy", 3)],
        },
        ReviewedProduct {
            id: ID("p2".into()),
            reviews: vec![review("Bright", 4)],
        },
    ]
}

async fn serve_subgraph(subgraph: Subgraph) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(dictamesh::serve(subgraph, listener, std::future::pending()));
    address
}

async fn sdl_of(address: SocketAddr) -> String {
    let response: Value = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .json(&json!({"query": "{ _service { sdl } }"}))
        .send()
        .await
        .expect("subgraph answers")
        .json()
        .await
        .expect("json");
    let sdl = response["data"]["_service"]["sdl"]
        .as_str()
        .expect("sdl")
        .to_string();
    if std::env::var("SHOW_SDL").is_ok() {
        eprintln!("{sdl}");
    }
    sdl
}

/// The running mesh.
pub struct Mesh {
    /// The router's address.
    pub router: SocketAddr,
    /// The router's state (to reload it).
    pub state: Arc<RouterState>,
    /// The supergraph SDL.
    pub supergraph: String,
    /// Each subgraph's own address (before any redirect), by name.
    pub subgraphs: Vec<(String, SocketAddr)>,
}

/// Starts the three subgraphs and a router; `config` is the router's YAML and
/// `redirect` replaces a subgraph's URL (to make it fail).
pub async fn start(config: &str, redirect: Option<(&str, String)>) -> Mesh {
    start_signed(config, redirect, None).await
}

/// Like [`start`], with subgraphs that require the router's signature made with
/// `secret`, when given.
pub async fn start_signed(config: &str, redirect: Option<(&str, String)>, secret: Option<&str>) -> Mesh {
    let signed = |builder: dictamesh::SubgraphBuilder| match secret {
        Some(secret) => builder
            .require_router_signature(dictamesh::signature::RouterSignature::new(secret).expect("a secret")),
        None => builder,
    };
    let products = serve_subgraph(
        signed(Subgraph::builder("products").entity(MemoryAdapter::new(products())))
            .build()
            .expect("products"),
    )
    .await;
    let reviews = serve_subgraph(
        signed(Subgraph::builder("reviews").entity(MemoryAdapter::new(reviews())))
            .build()
            .expect("reviews"),
    )
    .await;
    let inventory = serve_subgraph(
        signed(Subgraph::builder("inventory").entity(Warehouse))
            .build()
            .expect("inventory"),
    )
    .await;
    let mut inputs = Vec::new();
    let subgraphs = vec![
        ("inventory".to_string(), inventory),
        ("products".to_string(), products),
        ("reviews".to_string(), reviews),
    ];
    for (name, address) in subgraphs.iter().map(|(name, address)| (name.as_str(), *address)) {
        let mut url = format!("http://{address}/graphql");
        if let Some((target, replacement)) = &redirect
            && *target == name
        {
            url = replacement.clone();
        }
        inputs.push(SubgraphInput {
            name: name.to_string(),
            url,
            sdl: sdl_of(address).await,
        });
    }
    let supergraph = dictamesh_router::compose::compose(&inputs)
        .expect("the mesh composes")
        .sdl;
    let config = RouterConfig::from_yaml(config, "router.yaml", |_| None).expect("config");
    let pipeline =
        server::build_pipeline(&supergraph, &config, server::subgraph_client(&config)).expect("pipeline");
    let state = Arc::new(RouterState::new(pipeline, server::http_options(&config)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let router = listener.local_addr().expect("address");
    tokio::spawn(server::serve(listener, state.clone(), std::future::pending()));
    Mesh {
        router,
        state,
        supergraph,
        subgraphs,
    }
}

impl Mesh {
    /// POSTs a query (JSON) and returns the status and body.
    pub async fn post(&self, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("http://{}/graphql", self.router))
            .json(&body)
            .send()
            .await
            .expect("router answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    /// POSTs `{ query }`.
    pub async fn query(&self, query: &str) -> Value {
        self.post(json!({ "query": query })).await.1
    }

    /// The value of a series on `/metrics`: `name` (its first series) or
    /// `name{labels}` as printed; 0 when absent.
    pub async fn metric(&self, series: &str) -> u64 {
        let text = reqwest::get(format!("http://{}/metrics", self.router))
            .await
            .expect("the router answers")
            .text()
            .await
            .expect("text");
        text.lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(key, _)| *key == series || key.split('{').next() == Some(series))
            .and_then(|(_, value)| value.parse::<f64>().ok())
            .map_or(0, |value| value as u64)
    }
}

/// A subgraph stand-in that notifies `received` of each request, takes
/// `delay`, then answers `response`; its address.
pub async fn slow_subgraph<R>(
    delay: std::time::Duration,
    response: R,
) -> (SocketAddr, std::sync::Arc<tokio::sync::Notify>)
where
    R: axum::response::IntoResponse + Clone + Send + Sync + 'static,
{
    let received = std::sync::Arc::new(tokio::sync::Notify::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let signal = received.clone();
    let app = axum::Router::new().fallback(move || {
        let signal = signal.clone();
        let response = response.clone();
        async move {
            signal.notify_one();
            tokio::time::sleep(delay).await;
            response
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, received)
}
