//! End-to-end tests of the kit: a small library catalogue served as a subgraph.

mod books;
mod contract_failures;
mod entities;
mod http;
mod resolved;
mod writes;
