//! DictaMesh native router: composes subgraphs into a supergraph ([`compose`]), reads a
//! supergraph ([`supergraph`]), and serves clients over HTTP ([`http`]) through a
//! pipeline of small stages: [`request`] (parse, validate, limits) → [`plan`] (cached
//! query plans) → [`execute`] (fetch nodes, merge) → [`fetch`] (pooled HTTP to one
//! subgraph, guarded by [`resilience`]), observed by [`telemetry`], with client limits
//! at the door ([`traffic`]).
#![warn(missing_docs)]

pub mod compose;
pub mod config;
pub mod execute;
pub mod fetch;
pub mod governance;
pub mod headers;
pub mod http;
pub mod pipeline;
pub mod plan;
pub mod request;
pub mod resilience;
pub mod server;
pub mod subscriptions;
pub mod supergraph;
pub mod telemetry;
pub mod traffic;
