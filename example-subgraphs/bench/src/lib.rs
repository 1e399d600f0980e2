//! The workload of the public graphql-gateways-benchmark in the shape of its four
//! subgraphs, built with the DictaMesh kit:
//!
//! - `accounts`: users (`users`, `user(id:)`);
//! - `products`: products (`topProducts`);
//! - `inventory`: stock and a shipping estimate that `@requires` price and weight;
//! - `reviews`: reviews, a product's reviews and a user's reviews, with the author's
//!   username `@provides`d.
//!
//! The kit serves values, so the recursive review graph (review → product → reviews →
//! author → reviews → product) is built ahead to the depth the benchmark's query
//! reaches ([`REVIEW_DEPTH`]).

use dictamesh::testing::MemoryAdapter;
use dictamesh::{AdapterError, BuildError, DataProductAdapter, EntityKey, ID, Subgraph, async_trait};

/// How many review → product/author levels the reviews subgraph materializes.
pub const REVIEW_DEPTH: usize = 6;

/// The operation the benchmark sends (its `TestQuery`; `topProducts(limit: 5)` is the
/// kit's spelling of the original `topProducts(first: 5)` default).
pub const BENCHMARK_QUERY: &str = r#"fragment User on User { id username name }
fragment Review on Review { id body }
fragment Product on Product { inStock name price shippingEstimate upc weight }
query TestQuery {
  users { ...User reviews { ...Review product { ...Product reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } } } } }
  topProducts(limit: 5) { ...Product reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } } }
}"#;

/// A user, owned by `accounts`.
#[dictamesh::entity(key = "id", lookup = "user", list = "users")]
#[derive(Clone, Debug)]
pub struct User {
    pub id: ID,
    pub name: Option<String>,
    /// Shareable: `reviews` provides it on review authors.
    #[dictamesh(shareable)]
    pub username: Option<String>,
    pub birthday: Option<i32>,
}

/// A product, owned by `products`.
#[dictamesh::entity(key = "upc", lookup = "product", list = "topProducts")]
#[derive(Clone, Debug)]
pub struct Product {
    pub upc: String,
    pub name: Option<String>,
    pub price: Option<i32>,
    pub weight: Option<i32>,
}

/// `inventory`'s view of a product.
#[dictamesh::entity(key = "upc", extends, name = "Product", lookup = "stock")]
#[derive(Clone, Debug)]
pub struct StockedProduct {
    pub upc: String,
    #[dictamesh(external)]
    pub weight: Option<i32>,
    #[dictamesh(external)]
    pub price: Option<i32>,
    pub in_stock: Option<bool>,
    #[dictamesh(requires = "price weight")]
    pub shipping_estimate: Option<i32>,
}

/// A review, owned by `reviews`.
#[dictamesh::entity(key = "id", lookup = "review")]
#[derive(Clone, Debug)]
pub struct Review {
    pub id: ID,
    pub body: Option<String>,
    pub product: Option<ReviewedProduct>,
    #[dictamesh(provides = "username")]
    pub author: Option<Author>,
}

/// `reviews`' view of a product: its reviews.
#[dictamesh::entity(key = "upc", name = "Product")]
#[derive(Clone, Debug)]
pub struct ReviewedProduct {
    pub upc: String,
    pub reviews: Vec<Review>,
}

/// `reviews`' view of a user: the reviews they wrote.
#[dictamesh::entity(key = "id", name = "User", extends)]
#[derive(Clone, Debug)]
pub struct Author {
    pub id: ID,
    #[dictamesh(external)]
    pub username: Option<String>,
    pub reviews: Vec<Review>,
}

const USERS: [(&str, &str, &str); 6] = [
    ("1", "Uri Goldshtein", "urigo"),
    ("2", "Dotan Simha", "dotansimha"),
    ("3", "Kamil Kisiela", "kamilkisiela"),
    ("4", "Arda Tanrikulu", "ardatan"),
    ("5", "Gil Gardosh", "gilgardosh"),
    ("6", "Laurin Quast", "laurin"),
];

const PRODUCTS: [(&str, &str, i32, i32, bool); 9] = [
    ("1", "Table", 899, 100, true),
    ("2", "Couch", 1299, 1000, false),
    ("3", "Glass", 15, 20, false),
    ("4", "Chair", 499, 100, false),
    ("5", "TV", 1299, 1000, true),
    ("6", "Lamp", 6999, 300, true),
    ("7", "Grill", 3999, 2000, true),
    ("8", "Fridge", 100000, 6000, false),
    ("9", "Sofa", 5000, 800, true),
];

/// `(review id, product upc)`; bodies are long texts as in the original.
const REVIEWS: [(&str, &str); 11] = [
    ("1", "1"),
    ("2", "1"),
    ("3", "1"),
    ("4", "1"),
    ("5", "2"),
    ("6", "2"),
    ("7", "2"),
    ("8", "2"),
    ("9", "3"),
    ("10", "4"),
    ("11", "4"),
];

const BODY: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation \
ullamco laboris nisi ut aliquip ex ea commodo consequat.";

fn review(index: usize, depth: usize) -> Review {
    let (id, upc) = REVIEWS[index % REVIEWS.len()];
    Review {
        id: ID(id.into()),
        body: Some(format!("{id}: {BODY}")),
        product: Some(reviewed_product(upc, depth.saturating_sub(1))),
        author: Some(author("1", depth.saturating_sub(1))),
    }
}

fn reviewed_product(upc: &str, depth: usize) -> ReviewedProduct {
    let reviews = if depth == 0 {
        Vec::new()
    } else {
        (0..REVIEWS.len())
            .filter(|&i| REVIEWS[i].1 == upc)
            .map(|i| review(i, depth - 1))
            .collect()
    };
    ReviewedProduct {
        upc: upc.into(),
        reviews,
    }
}

fn author(id: &str, depth: usize) -> Author {
    let username = USERS.iter().find(|u| u.0 == id).map(|u| u.2.to_string());
    Author {
        id: ID(id.into()),
        username,
        reviews: if depth == 0 {
            Vec::new()
        } else {
            (0..2).map(|i| review(i, depth - 1)).collect()
        },
    }
}

/// Computes `shippingEstimate` from the `price` and `weight` in the representation.
struct Warehouse;

#[async_trait]
impl DataProductAdapter for Warehouse {
    type Entity = StockedProduct;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<StockedProduct>>, AdapterError> {
        Ok(keys
            .iter()
            .map(|key| {
                let upc = key.get_str("upc")?;
                let stock = PRODUCTS.iter().find(|p| p.0 == upc)?;
                let representation = key.representation();
                let number = |field: &str| {
                    representation
                        .get(field)
                        .and_then(|v| v.as_i64())
                        .and_then(|n| i32::try_from(n).ok())
                };
                let (price, weight) = (number("price"), number("weight"));
                let shipping_estimate = match (price, weight) {
                    (Some(price), _) if price > 1000 => Some(0),
                    (Some(_), Some(weight)) => Some(weight / 2),
                    _ => None,
                };
                Some(StockedProduct {
                    upc: upc.to_string(),
                    weight,
                    price,
                    in_stock: Some(stock.4),
                    shipping_estimate,
                })
            })
            .collect())
    }
}

/// The `accounts` subgraph.
pub fn accounts() -> Result<Subgraph, BuildError> {
    let users = USERS.iter().map(|(id, name, username)| User {
        id: ID((*id).into()),
        name: Some((*name).into()),
        username: Some((*username).into()),
        birthday: Some(1_234_567_890),
    });
    Subgraph::builder("accounts")
        .entity(MemoryAdapter::new(users))
        .build()
}

/// The `products` subgraph.
pub fn products() -> Result<Subgraph, BuildError> {
    let products = PRODUCTS.iter().map(|(upc, name, price, weight, _)| Product {
        upc: (*upc).into(),
        name: Some((*name).into()),
        price: Some(*price),
        weight: Some(*weight),
    });
    Subgraph::builder("products")
        .entity(MemoryAdapter::new(products))
        .build()
}

/// The `inventory` subgraph.
pub fn inventory() -> Result<Subgraph, BuildError> {
    Subgraph::builder("inventory").entity(Warehouse).build()
}

/// The `reviews` subgraph.
pub fn reviews() -> Result<Subgraph, BuildError> {
    let reviews: Vec<Review> = (0..REVIEWS.len()).map(|i| review(i, REVIEW_DEPTH)).collect();
    let products = PRODUCTS.iter().map(|p| reviewed_product(p.0, REVIEW_DEPTH));
    let authors = USERS.iter().map(|u| author(u.0, REVIEW_DEPTH));
    Subgraph::builder("reviews")
        .entity(MemoryAdapter::new(reviews))
        .entity(MemoryAdapter::new(products))
        .entity(MemoryAdapter::new(authors))
        .build()
}
