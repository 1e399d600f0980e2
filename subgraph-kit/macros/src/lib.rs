//! Procedural macros of the DictaMesh subgraph kit.
