//! DictaMesh native router. For now: the supergraph composer ([`compose`]).

pub mod compose;
