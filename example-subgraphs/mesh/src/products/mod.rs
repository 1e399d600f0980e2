//! The products data product, from either of two sources: an external REST
//! API ([`rest::RestProducts`]) or a directory of JSON and CSV documents
//! ([`files::FileProducts`], what `dictamesh dev` uses).

pub mod files;
pub mod rest;

use dictamesh::{ID, Subgraph, SubgraphBuilder, WritableAdapter};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// A product.
#[dictamesh::entity(
    key = "id",
    domain = "products",
    source = "catalog-api",
    lookup = "product",
    list = "products"
)]
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub id: ID,
    /// Stock keeping unit.
    pub sku: String,
    pub name: String,
    pub price: Money,
    /// Units in stock.
    pub inventory: i32,
    /// Who supplies it.
    pub provider: String,
}

/// What `createProduct` takes.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    /// The price, exact (`"19.99"`).
    pub price: Decimal,
    /// ISO 4217 currency code; `USD` when absent.
    pub currency: Option<String>,
    pub inventory: Option<i32>,
    pub provider: Option<String>,
}

/// What `updateProduct` takes; absent fields stay as they are.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub price: Option<Decimal>,
    pub inventory: Option<i32>,
}

/// A product as sources store it: flat fields, the way Directus or Shopify
/// collections and CSV files hold them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub price_amount: Decimal,
    #[serde(default = "usd")]
    pub price_currency: String,
    #[serde(default)]
    pub inventory: i32,
    #[serde(default)]
    pub provider: String,
}

fn usd() -> String {
    "USD".into()
}

impl From<ProductRecord> for Product {
    fn from(record: ProductRecord) -> Self {
        Product {
            id: ID(record.id),
            sku: record.sku,
            name: record.name,
            price: Money::new(record.price_amount, record.price_currency),
            inventory: record.inventory,
            provider: record.provider,
        }
    }
}

impl ProductRecord {
    /// A record for a new product with the given id.
    pub fn from_draft(id: String, draft: NewProduct) -> Self {
        ProductRecord {
            id,
            sku: draft.sku,
            name: draft.name,
            price_amount: draft.price,
            price_currency: draft.currency.unwrap_or_else(usd),
            inventory: draft.inventory.unwrap_or(0),
            provider: draft.provider.unwrap_or_default(),
        }
    }

    /// Applies a patch.
    pub fn apply(&mut self, patch: ProductPatch) {
        if let Some(name) = patch.name {
            self.name = name;
        }
        if let Some(price) = patch.price {
            self.price_amount = price;
        }
        if let Some(inventory) = patch.inventory {
            self.inventory = inventory;
        }
    }
}

/// The products subgraph over either source, ready for options and `build()`.
pub fn subgraph<A>(adapter: A) -> SubgraphBuilder
where
    A: WritableAdapter<Entity = Product, Draft = NewProduct, Patch = ProductPatch>,
{
    Subgraph::builder("products").writable(adapter)
}
