//! DictaMesh subgraph kit.
