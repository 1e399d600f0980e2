//! The seed's "complex multi-domain query": one customer, its 10 invoices and
//! their 50 products, with 50 ms added to every source call and caches off.
//! Batching must resolve it in 3 source round trips (customer, invoices,
//! products), about 150 ms, where resolving N+1 one by one takes
//! (1 + 10 + 50) x 50 ms = 3.05 s.
//!
//! `cargo bench -p dictamesh-cli --bench multi_domain_query`

use std::sync::Arc;
use std::time::{Duration, Instant};

use dictamesh::config::{CacheConfig, EntityOptions};
use dictamesh::testing::{FaultControl, FaultInjector, MemoryAdapter};
use dictamesh::{ID, Subgraph, WritableAdapter};
use dictamesh_example_mesh::Database;
use dictamesh_example_mesh::customers::Customer;
use dictamesh_example_mesh::invoices::{CustomerInvoices, NewInvoice, NewInvoiceItem, SqlInvoices};
use dictamesh_example_mesh::money::Money;
use dictamesh_example_mesh::products::Product;
use dictamesh_router::compose::{SubgraphInput, compose};
use dictamesh_router::config::RouterConfig;
use dictamesh_router::server;

const DELAY: Duration = Duration::from_millis(50);

fn uncached() -> EntityOptions {
    EntityOptions {
        cache: CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        },
        ..EntityOptions::default()
    }
}

async fn serve(subgraph: Subgraph) -> SubgraphInput {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    let input = SubgraphInput {
        name: subgraph.name().to_string(),
        url,
        sdl: subgraph.sdl().to_string(),
    };
    tokio::spawn(dictamesh::serve(subgraph, listener, std::future::pending()));
    input
}

fn delayed<A: dictamesh::DataProductAdapter>(
    adapter: A,
    controls: &mut Vec<FaultControl>,
) -> FaultInjector<A> {
    let (adapter, control) = FaultInjector::new(adapter);
    control.delay(DELAY);
    controls.push(control);
    adapter
}

/// Starts the three subgraphs and the router; returns the router's URL.
async fn mesh(controls: &mut Vec<FaultControl>) -> String {
    let customer = Customer {
        id: ID("c1".into()),
        email: "john@example.com".into(),
        name: "John Doe".into(),
        created_at: chrono::Utc::now(),
    };
    let customers = Subgraph::builder("customers")
        .entity(delayed(MemoryAdapter::new([customer]), controls))
        .default_options(uncached())
        .build()
        .unwrap();

    let products: Vec<Product> = (0..50)
        .map(|i| Product {
            id: ID(format!("p{i}")),
            sku: format!("SKU-{i}"),
            name: format!("Product {i}"),
            price: Money::new(rust_decimal::Decimal::new(1999 + i, 2), "USD"),
            inventory: 10,
            provider: "Acme".into(),
        })
        .collect();
    let products = Subgraph::builder("products")
        .entity(delayed(MemoryAdapter::new(products), controls))
        .default_options(uncached())
        .build()
        .unwrap();

    let store = SqlInvoices::new(Database::connect("sqlite::memory:").await.unwrap())
        .await
        .unwrap();
    for invoice in 0..10 {
        let items = (0..5)
            .map(|item| NewInvoiceItem {
                product_id: ID(format!("p{}", invoice * 5 + item)),
                quantity: 1,
                unit_price: rust_decimal::Decimal::new(1999, 2),
            })
            .collect();
        store
            .create(NewInvoice {
                customer_id: ID("c1".into()),
                currency: None,
                items,
            })
            .await
            .unwrap();
    }
    let invoices = Subgraph::builder("invoices")
        .entity(delayed(store.clone(), controls))
        .entity(delayed(CustomerInvoices::new(store), controls))
        .default_options(uncached())
        .build()
        .unwrap();

    let inputs = vec![
        serve(customers).await,
        serve(products).await,
        serve(invoices).await,
    ];
    let supergraph = compose(&inputs).unwrap();
    let config = RouterConfig::from_yaml("", "defaults", |_| None).unwrap();
    let pipeline =
        server::build_pipeline(&supergraph.sdl, &config, server::subgraph_client(&config)).unwrap();
    let state = Arc::new(dictamesh_router::http::RouterState::new(
        pipeline,
        server::http_options(&config),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(server::serve(listener, state, std::future::pending()));
    url
}

const QUERY: &str = r#"{ customer(id: "c1") { name invoices { invoiceNumber total { amount }
    items { quantity product { name price { amount } } } } } }"#;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut controls = Vec::new();
    let url = runtime.block_on(mesh(&mut controls));
    let client = reqwest::Client::new();
    let run = || async {
        let response: serde_json::Value = client
            .post(&url)
            .json(&serde_json::json!({ "query": QUERY }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(response.get("errors"), None, "{response}");
        let invoices = response["data"]["customer"]["invoices"].as_array().unwrap();
        let products: usize = invoices
            .iter()
            .map(|i| i["items"].as_array().unwrap().len())
            .sum();
        assert_eq!((invoices.len(), products), (10, 50));
    };
    runtime.block_on(run());
    let calls_before: usize = controls.iter().map(FaultControl::calls).sum();
    let mut samples = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        runtime.block_on(run());
        samples.push(started.elapsed());
    }
    let calls: usize = controls.iter().map(FaultControl::calls).sum::<usize>() - calls_before;
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "complex multi-domain query (1 customer, 10 invoices, 50 products, +50 ms per source call, no cache)"
    );
    println!("  source round trips per request : {}", calls / samples.len());
    println!(
        "  end to end through the router   : p50 {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
    println!("  N+1 one by one would take       : (1 + 10 + 50) x 50 ms = 3050 ms");
}
