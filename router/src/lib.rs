//! DictaMesh native router: composes subgraphs into a supergraph ([`compose`]), reads a
//! supergraph ([`supergraph`]), plans operations into subgraph fetches ([`plan`]).
#![warn(missing_docs)]

pub mod compose;
pub mod plan;
pub mod supergraph;
