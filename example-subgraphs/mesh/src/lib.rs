//! The example mesh of DictaMesh: three data products, each a Federation
//! subgraph built only with the kit.
//!
//! - [`customers`]: customers in a SQL database (SQLite by default, PostgreSQL
//!   in production), writable.
//! - [`invoices`]: invoices and their items in a SQL database; an invoice
//!   references its customer and each item its product, and the subgraph adds
//!   `Customer.invoices`.
//! - [`products`]: products from an external REST API (Directus-style: bearer
//!   token, pagination, ETags, rate-limit headers) or from a directory of JSON
//!   and CSV documents that is watched for changes.

pub mod customers;
pub mod database;
pub mod invoices;
pub mod money;
pub mod products;

pub use database::Database;
pub use money::Money;
