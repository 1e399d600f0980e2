//! End-to-end tests: the router in front of subgraphs built with the kit.

mod defer;
mod errors;
mod features;
mod headers;
mod mesh;
mod queries;
mod resilience;
mod shutdown;
mod telemetry;
mod traffic;
