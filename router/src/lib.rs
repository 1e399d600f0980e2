//! DictaMesh native router: composes subgraphs into a supergraph ([`compose`]), reads a
//! supergraph ([`supergraph`]), and serves clients over HTTP ([`http`]) through a
//! pipeline of small stages: [`request`] (parse, validate, limits) → [`plan`] (cached
//! query plans) → [`execute`] (fetch nodes, merge) → [`fetch`] (pooled HTTP to one
//! subgraph).
#![warn(missing_docs)]

pub mod compose;
pub mod config;
pub mod execute;
pub mod fetch;
pub mod governance;
pub mod http;
pub mod pipeline;
pub mod plan;
pub mod request;
pub mod server;
pub mod subscriptions;
pub mod supergraph;
