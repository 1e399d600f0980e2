//! Governance end to end: the router with JWT authentication and the authorization
//! directives in front of real subgraphs (built with the kit, and one async-graphql
//! subgraph for interfaces), over HTTP.

mod authentication;
mod directives;
mod mesh;
mod options;
mod pii;
mod websocket;
