//! # DictaMesh metadata catalog
//!
//! The seed's Layer 3 as a federation subgraph: an entity registry, a
//! temporal relationship graph, data lineage, an immutable event log and a
//! Confluent-compatible schema registry, stored with sqlx in PostgreSQL
//! (production) or SQLite (the embedded default).

pub mod access;
pub mod audit;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod ingest;
pub mod lineage;
pub mod model;
pub mod names;
pub mod registry;
pub mod relationships;
pub mod retention;
pub mod schema_registry;
pub mod service;

pub use db::Database;
pub use error::CatalogError;
pub use service::Catalog;
