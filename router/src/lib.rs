//! DictaMesh native router. For now: the supergraph composer ([`compose`]).
#![warn(missing_docs)]

pub mod compose;
